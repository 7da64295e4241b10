import { Catch, HttpException, type ArgumentsHost, type RpcExceptionFilter } from '@nestjs/common';
import { Metadata, status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import { RpcException } from '@nestjs/microservices';
import { EMPTY, throwError, type Observable } from 'rxjs';
import { databaseUnavailable, DomainError, isDatabaseUnavailable, isUnreachablePeer, peerOf, peerUnavailable, toGrpcError } from './errors.js';
import { rootLogger } from './logger.js';

function isServiceError(error: unknown): error is ServiceError {
  const e = error as Partial<ServiceError>;
  return typeof e?.code === 'number' && typeof e.details === 'string' && e.metadata instanceof Metadata && e.code !== GrpcStatus.INTERNAL;
}

/**
 * Maps what a gRPC handler throws to a gRPC status: domain errors keep their code, a
 * database that cannot be reached or a peer that is down become UNAVAILABLE naming it
 * (with a retry-after), the rest INTERNAL. A service's only HTTP routes are its health
 * probes, whose errors pass through as Nest's own.
 */
@Catch()
export class GrpcExceptionFilter implements RpcExceptionFilter {
  /** `service` names this service in the answers, e.g. "the execution service's database is unavailable". */
  constructor(private readonly service = 'backing') {}

  catch(exception: unknown, host: ArgumentsHost): Observable<never> {
    if (host.getType() === 'http') return this.http(exception, host);
    if (exception instanceof DomainError) return throwError(() => toGrpcError(exception));
    if (exception instanceof RpcException) return throwError(() => exception.getError());
    if (isDatabaseUnavailable(exception)) {
      rootLogger().warn({ err: exception, service: this.service }, 'database unavailable; answered UNAVAILABLE');
      return throwError(() => toGrpcError(databaseUnavailable(this.service)));
    }
    if (isServiceError(exception) && isUnreachablePeer(exception)) {
      // grpc-js could not reach a peer: its details hold the peer's address, which callers must not see.
      return throwError(() => toGrpcError(peerUnavailable(peerOf(exception))));
    }
    if (isServiceError(exception)) {
      // A peer's answer (e.g. catalog's NOT_FOUND seen by execution) keeps its status and details.
      return throwError(() => ({ code: exception.code, message: exception.details, metadata: exception.metadata }));
    }
    rootLogger().error({ err: exception }, 'unhandled error in gRPC handler');
    return throwError(() => ({ code: GrpcStatus.INTERNAL, message: 'Internal error' }));
  }

  private http(exception: unknown, host: ArgumentsHost): Observable<never> {
    const res = host.switchToHttp().getResponse<{ status(code: number): { json(body: unknown): void } }>();
    const status = exception instanceof HttpException ? exception.getStatus() : 500;
    res.status(status).json(exception instanceof HttpException ? exception.getResponse() : { statusCode: 500, message: 'Internal error' });
    return EMPTY;
  }
}
