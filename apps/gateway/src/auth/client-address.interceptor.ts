import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import type { Request } from 'express';
import { Observable } from 'rxjs';
import { runWithClientAddress } from '#common/grpc.js';

/**
 * Makes the client's address (Express `req.ip`, which honours X-Forwarded-For only from
 * the proxies TRUSTED_PROXIES names; by default none) known to callMetadata, which forwards
 * it to the services as `x-forwarded-for`: the audit trail records where actions came from.
 */
@Injectable()
export class ClientAddressInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const address = context.switchToHttp().getRequest<Request>().ip?.replace(/^::ffff:/, '');
    return new Observable((subscriber) => runWithClientAddress(address, () => next.handle().subscribe(subscriber)));
  }
}
