import { Catch, type ArgumentsHost, type RpcExceptionFilter } from '@nestjs/common';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { RpcException } from '@nestjs/microservices';
import { throwError, type Observable } from 'rxjs';
import { DomainError, toGrpcError } from './errors.js';
import { rootLogger } from './logger.js';

/** Maps what a gRPC handler throws to a gRPC status: domain errors keep their code, the rest become INTERNAL. */
@Catch()
export class GrpcExceptionFilter implements RpcExceptionFilter {
  catch(exception: unknown, _host: ArgumentsHost): Observable<never> {
    if (exception instanceof DomainError) return throwError(() => toGrpcError(exception));
    if (exception instanceof RpcException) return throwError(() => exception.getError());
    rootLogger().error({ err: exception }, 'unhandled error in gRPC handler');
    return throwError(() => ({ code: GrpcStatus.INTERNAL, message: 'Internal error' }));
  }
}
