import { ArgumentsHost, Catch, HttpException, type ExceptionFilter } from '@nestjs/common';
import type { Response } from 'express';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { DomainError, grpcErrorToHttp, toGrpcError } from '#common/errors.js';
import { rootLogger } from '#common/logger.js';
import { currentRequestId } from '#common/request-context.js';

/** The one place where errors become HTTP answers: gRPC statuses from services, Nest's own, and the rest as 500. */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost) {
    const res = host.switchToHttp().getResponse<Response>();
    if (res.headersSent) return void res.end();
    const requestId = currentRequestId();
    if (exception instanceof HttpException) {
      const body = exception.getResponse();
      const status = exception.getStatus();
      const message = typeof body === 'string' ? body : (body as { message?: unknown }).message;
      return res.status(status).json({
        statusCode: status,
        error: typeof body === 'object' ? ((body as { error?: string }).error ?? exception.name) : exception.name,
        message: Array.isArray(message) ? message.join('; ') : message,
        ...(Array.isArray(message) ? { details: message } : {}),
        requestId,
      });
    }
    const grpcLike = exception instanceof DomainError ? { ...toGrpcError(exception), details: exception.message } : exception;
    const mapped = grpcErrorToHttp(grpcLike);
    if (mapped && mapped.status < 500) {
      if (mapped.retryAfter) res.setHeader('Retry-After', mapped.retryAfter);
      return res.status(mapped.status).json({ ...mapped.body, requestId });
    }
    const unavailable = (exception as { code?: number })?.code === GrpcStatus.UNAVAILABLE;
    rootLogger().error({ err: exception }, 'request failed');
    res.status(unavailable ? 503 : 500).json({
      statusCode: unavailable ? 503 : 500,
      error: unavailable ? 'Service Unavailable' : 'Internal Server Error',
      message: unavailable ? 'A backing service is unavailable; try again shortly' : 'Internal error',
      requestId,
    });
  }
}
