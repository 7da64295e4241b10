import { ExecutionContext, Injectable, UnauthorizedException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import { PUBLIC_ROUTE, type Caller } from '#common/auth.js';
import { DomainError } from '#common/errors.js';
import { setRequestCaller } from '#common/request-context.js';

/** Every HTTP route needs a valid access token unless marked @Public(). */
@Injectable()
export class JwtAuthGuard extends AuthGuard('jwt') {
  constructor(private readonly reflector: Reflector) {
    super();
  }

  canActivate(context: ExecutionContext) {
    if (context.getType() !== 'http') return true;
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, [context.getHandler(), context.getClass()])) return true;
    return super.canActivate(context);
  }

  handleRequest<T extends Caller>(error: unknown, caller: T, info: unknown): T {
    if (error instanceof DomainError) throw error;
    if (error || !caller) throw new UnauthorizedException(describe(error ?? info));
    setRequestCaller(caller.userId);
    return caller;
  }
}

function describe(problem: unknown): string {
  const name = (problem as Error | undefined)?.name;
  const message = (problem as Error | undefined)?.message ?? '';
  if (name === 'TokenExpiredError') return 'Access token expired: refresh it or log in again';
  if (message === 'No auth token') return 'Missing bearer token: send "Authorization: Bearer <access token>" (log in at POST /api/v1/auth/login)';
  if (message.includes('unknown key') || message.includes('Malformed')) return message;
  return 'Invalid access token';
}
