import { join } from 'node:path';
import { Metadata } from '@grpc/grpc-js';
import { ClientsModule, Transport, type GrpcOptions } from '@nestjs/microservices';
import type { DynamicModule } from '@nestjs/common';
import { GrpcPackages, type ServiceName } from '#contracts/grpc-packages.js';
import { PROTO_ROOT } from './paths.js';
import { currentRequestId, REQUEST_ID_HEADER } from './request-context.js';

const LOADER = { keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true, arrays: true };

export function grpcServerOptions(service: ServiceName, url: string): GrpcOptions {
  const { package: pkg, protoFile } = GrpcPackages[service];
  return {
    transport: Transport.GRPC,
    options: { package: pkg, protoPath: join(PROTO_ROOT, protoFile), url, loader: { ...LOADER, includeDirs: [PROTO_ROOT] } },
  };
}

export const grpcClientToken = (service: ServiceName) => `GRPC_CLIENT_${service.toUpperCase()}`;

/** Registers gRPC clients of the named services; inject them with `grpcClientToken(name)`. */
export function grpcClientsModule(addresses: Partial<Record<ServiceName, string>>): DynamicModule {
  return ClientsModule.register(
    (Object.entries(addresses) as [ServiceName, string][]).map(([service, url]) => ({
      name: grpcClientToken(service),
      ...grpcServerOptions(service, url),
    })) as never,
  );
}

/** Metadata for a call made on behalf of a caller: their token and the current request id. */
export function callMetadata(authorization?: string): Metadata {
  const metadata = new Metadata();
  if (authorization) metadata.set('authorization', authorization);
  const requestId = currentRequestId();
  if (requestId) metadata.set(REQUEST_ID_HEADER, requestId);
  return metadata;
}
