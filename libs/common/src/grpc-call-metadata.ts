import type { Metadata } from '@grpc/grpc-js';
import type { ExecutionContext } from '@nestjs/common';

/**
 * The metadata of a gRPC call as Nest hands it to hooks and guards. Usually the context's
 * second argument; a @GrpcStreamCall handler (a client stream read from the call itself) gets
 * the call and a callback instead, and the metadata is the call's.
 */
export function grpcCallMetadata(context: ExecutionContext): Metadata {
  const rpc = context.switchToRpc();
  const candidate = rpc.getContext<Metadata | undefined>();
  if (candidate && typeof (candidate as Partial<Metadata>).get === 'function') return candidate;
  return (rpc.getData<{ metadata: Metadata }>()).metadata;
}
