import { ArgumentsHost, Catch, HttpException, type ExceptionFilter } from '@nestjs/common';
import type { Response } from 'express';
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
    // 503: a service, its database or the link to it is away; the message names which, and when to retry.
    if (mapped && (mapped.status < 500 || mapped.status === 503)) {
      if (mapped.retryAfter) res.setHeader('Retry-After', mapped.retryAfter);
      if (mapped.status === 503) rootLogger().warn({ err: exception }, 'backing service unavailable');
      return res.status(mapped.status).json({ ...mapped.body, requestId });
    }
    rootLogger().error({ err: exception }, 'request failed');
    res.status(500).json({ statusCode: 500, error: 'Internal Server Error', message: 'Internal error', requestId });
  }
}
