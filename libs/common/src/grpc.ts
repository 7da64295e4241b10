import { AsyncLocalStorage } from 'node:async_hooks';
import { join } from 'node:path';
import { Metadata } from '@grpc/grpc-js';
import { ClientGrpcProxy, ClientsModule, Transport, type GrpcOptions } from '@nestjs/microservices';
import type { DynamicModule, ExecutionContext } from '@nestjs/common';
import { catchError, finalize, Observable, throwError } from 'rxjs';
import { GrpcPackages, SchemaTransferPackage, type ServiceName } from '#contracts/grpc-packages.js';
import { GRPC_PEER } from './errors.js';
import { grpcCallMetadata } from './grpc-call-metadata.js';
import { rootLogger } from './logger.js';
import { PROTO_ROOT } from './paths.js';
import { currentRequestId, REQUEST_ID_HEADER, requestIdFrom, runWithRequestId } from './request-context.js';

const LOADER = { keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true, arrays: true };

/**
 * Clients: grpc-js's default reconnect backoff grows to 120 s, so after a long outage of a
 * peer it stayed unreachable for minutes after its return; capped at 4 s it is reached
 * within seconds. Keepalive pings find a dead connection (a peer killed, a network cut)
 * in seconds instead of at the next call's TCP timeout.
 */
export const GRPC_CLIENT_CHANNEL_OPTIONS = {
  'grpc.initial_reconnect_backoff_ms': 500,
  'grpc.min_reconnect_backoff_ms': 500,
  'grpc.max_reconnect_backoff_ms': 4000,
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 5000,
  'grpc.keepalive_permit_without_calls': 1,
} as const;

/** Servers accept the clients' pings, even between calls, and ping idle clients themselves. */
export const GRPC_SERVER_CHANNEL_OPTIONS = {
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.http2.min_ping_interval_without_data_ms': 5000,
} as const;

function grpcOptions(service: ServiceName, url: string, channelOptions: Record<string, number>): GrpcOptions {
  const { package: pkg, protoFile } = GrpcPackages[service];
  return {
    transport: Transport.GRPC,
    options: {
      package: pkg,
      protoPath: join(PROTO_ROOT, protoFile),
      url,
      loader: { ...LOADER, includeDirs: [PROTO_ROOT] },
      channelOptions: { ...channelOptions },
    },
  };
}

/** A service's server: its own package, and the schema transfer every service serves (see libs/common/src/schema-transfer). */
export function grpcServerOptions(service: ServiceName, url: string): GrpcOptions {
  const options = grpcOptions(service, url, GRPC_SERVER_CHANNEL_OPTIONS);
  const own = options.options;
  return {
    ...options,
    options: {
      ...own,
      package: [own.package as string, SchemaTransferPackage.package],
      protoPath: [own.protoPath as string, join(PROTO_ROOT, SchemaTransferPackage.protoFile)],
    },
  };
}

/**
 * A pre-request hook of the gRPC server: the whole call (guards, interceptors, the handler,
 * what it awaits, and the subscription of its answer, streamed or not) runs in the request
 * context of the caller's `x-request-id`, so every log line written for it carries the id.
 * It subscribes inside the context because Nest subscribes a handler's Observable later,
 * outside any context the hook could enter. Each call ends with a debug line (method, time).
 */
export function grpcRequestContext(context: ExecutionContext, next: () => Observable<unknown>): Observable<unknown> {
  const requestId = requestIdFrom(grpcCallMetadata(context).get(REQUEST_ID_HEADER)[0]);
  return new Observable((subscriber) =>
    runWithRequestId(requestId, () => {
      const started = performance.now();
      const handled = () => rootLogger().debug({ method: context.getHandler().name, ms: Math.round(performance.now() - started) }, 'gRPC call handled');
      return next().pipe(finalize(handled)).subscribe(subscriber);
    }),
  );
}

/** A client of one service whose errors say which service they came from (see `peerOf`), so callers can name it without its address. */
function peerClientClass(service: ServiceName) {
  return class PeerGrpcClient extends ClientGrpcProxy {
    override createServiceMethod(client: unknown, methodName: string) {
      const method = super.createServiceMethod(client, methodName);
      return (...args: unknown[]) =>
        method(...args).pipe(
          catchError((error: unknown) => {
            if (error && typeof error === 'object') Object.defineProperty(error, GRPC_PEER, { value: service, configurable: true });
            return throwError(() => error);
          }),
        );
    }
  };
}

export const grpcClientToken = (service: ServiceName) => `GRPC_CLIENT_${service.toUpperCase()}`;

/** Registers gRPC clients of the named services; inject them with `grpcClientToken(name)`. */
export function grpcClientsModule(addresses: Partial<Record<ServiceName, string>>): DynamicModule {
  return ClientsModule.register(
    (Object.entries(addresses) as [ServiceName, string][]).map(([service, url]) => ({
      name: grpcClientToken(service),
      customClass: peerClientClass(service),
      options: grpcOptions(service, url, GRPC_CLIENT_CHANNEL_OPTIONS).options,
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
