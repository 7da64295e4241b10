import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Caller } from '#common/auth.js';

/** The verified caller of an HTTP request (set by JwtAuthGuard). */
export const CurrentCaller = createParamDecorator((_: unknown, context: ExecutionContext): Caller => context.switchToHttp().getRequest().user);
