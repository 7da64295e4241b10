import { AsyncLocalStorage } from 'node:async_hooks';
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

export const FORWARDED_FOR_HEADER = 'x-forwarded-for';
const clientAddress = new AsyncLocalStorage<string>();

/** Runs `fn` knowing the end client's address; callMetadata forwards it as `x-forwarded-for` (for the audit trail). */
export function runWithClientAddress<T>(address: string | undefined, fn: () => T): T {
  return address ? clientAddress.run(address, fn) : fn();
}

/** Metadata for a call made on behalf of a caller: their token, the current request id and the client address. */
export function callMetadata(authorization?: string): Metadata {
  const metadata = new Metadata();
  if (authorization) metadata.set('authorization', authorization);
  const address = clientAddress.getStore();
  if (address) metadata.set(FORWARDED_FOR_HEADER, address);
  const requestId = currentRequestId();
  if (requestId) metadata.set(REQUEST_ID_HEADER, requestId);
  return metadata;
}
