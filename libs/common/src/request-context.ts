import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

/** What every log line written while handling a request says about it. */
export interface RequestContext {
  requestId: string;
  /** The verified caller, once authentication has named them. */
  userId?: string;
}

const storage = new AsyncLocalStorage<RequestContext>();

export const REQUEST_ID_HEADER = 'x-request-id';

/** The id a request is known by: the one it was sent with when that is a plain token, a new one otherwise. */
export function requestIdFrom(given: unknown): string {
  return typeof given === 'string' && /^[\w.-]{1,100}$/.test(given) ? given : randomUUID();
}

/** Runs `fn` in a request context that every log line written inside it, and every gRPC call it makes, carries. */
export function runWithRequestId<T>(requestId: string, fn: () => T): T {
  return storage.run({ requestId }, fn);
}

/** Runs `fn` outside any request: for long-lived things started on a request's behalf (a helper process, a pool), whose later work belongs to no request. */
export function outsideRequestContext<T>(fn: () => T): T {
  return storage.exit(fn);
}

/** Names the verified caller of the current request for the rest of its handling. */
export function setRequestCaller(userId: string): void {
  const context = storage.getStore();
  if (context) context.userId = userId;
}

export function currentRequestContext(): Readonly<RequestContext> | undefined {
  return storage.getStore();
}

export function currentRequestId(): string | undefined {
  return storage.getStore()?.requestId;
}
