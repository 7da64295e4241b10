import { status as GrpcStatus, Metadata } from '@grpc/grpc-js';

/** Per-field problems of a rejected request, e.g. {"count": "must be at most 10"}. */
export type FieldErrors = Record<string, string>;

/**
 * An error a caller can act on. Services throw these; the one mapping below turns
 * them into gRPC statuses, and the gateway turns gRPC statuses into HTTP.
 */
export class DomainError extends Error {
  constructor(
    readonly code: GrpcStatus,
    message: string,
    readonly fields?: FieldErrors,
    readonly retryAfterSeconds?: number,
    /** A stable machine-readable reason (e.g. IDEMPOTENCY_KEY_REUSED), sent to clients as `code`. */
    readonly reason?: string,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const invalidArgument = (message: string, fields?: FieldErrors) =>
  new DomainError(GrpcStatus.INVALID_ARGUMENT, message, fields);
export const notFound = (message: string) => new DomainError(GrpcStatus.NOT_FOUND, message);
export const permissionDenied = (message: string) => new DomainError(GrpcStatus.PERMISSION_DENIED, message);
export const unauthenticated = (message: string) => new DomainError(GrpcStatus.UNAUTHENTICATED, message);
export const conflict = (message: string) => new DomainError(GrpcStatus.ALREADY_EXISTS, message);
export const failedPrecondition = (message: string) => new DomainError(GrpcStatus.FAILED_PRECONDITION, message);
/** The same Idempotency-Key sent again with a different request. */
export const idempotencyKeyReused = (message: string) =>
  new DomainError(GrpcStatus.FAILED_PRECONDITION, message, undefined, undefined, 'IDEMPOTENCY_KEY_REUSED');
export const tooManyRequests = (message: string, retryAfterSeconds: number) =>
  new DomainError(GrpcStatus.RESOURCE_EXHAUSTED, message, undefined, retryAfterSeconds);

/**
 * Binary (`-bin`) so any text travels: field errors are in the caller's language, and an
 * ASCII-only key refused "doit être au plus 600" (the call then failed with 500).
 */
const FIELDS_KEY = 'x-error-fields-bin';
const RETRY_AFTER_KEY = 'retry-after';
const REASON_KEY = 'x-error-reason';
/** Reasons whose HTTP status is not their gRPC status's: the request is well-formed but cannot be processed. */
const REASON_HTTP_STATUS: Record<string, number> = { IDEMPOTENCY_KEY_REUSED: 422 };
/** Set on every error a service answers, so a caller tells "the peer said so" from "the peer could not be reached". */
const ANSWERED_KEY = 'x-error-answered';

/** The per-field problems a gRPC error carries in its trailers, if any. */
export function fieldErrorsOf(metadata: Metadata | undefined): FieldErrors | undefined {
  const raw = metadata?.get(FIELDS_KEY)[0];
  if (raw === undefined) return undefined;
  try {
    const fields = JSON.parse(Buffer.isBuffer(raw) ? raw.toString('utf8') : raw);
    return fields && typeof fields === 'object' && !Array.isArray(fields) ? (fields as FieldErrors) : undefined;
  } catch {
    return undefined;
  }
}

/** The error object grpc-js sends for a DomainError: status, message and details in trailers. */
export function toGrpcError(error: DomainError): { code: number; message: string; metadata: Metadata } {
  const metadata = new Metadata();
  metadata.set(ANSWERED_KEY, '1');
  if (error.fields) metadata.set(FIELDS_KEY, Buffer.from(JSON.stringify(error.fields), 'utf8'));
  if (error.reason) metadata.set(REASON_KEY, error.reason);
  if (error.retryAfterSeconds !== undefined) metadata.set(RETRY_AFTER_KEY, String(error.retryAfterSeconds));
  return { code: error.code, message: error.message, metadata };
}

/**
 * A peer that could not be reached, named after what it is (e.g. "execution service unavailable"): grpc-js's
 * own text for it ("No connection established. Last error: connect ECONNREFUSED 10.0.0.5:50051") holds
 * the peer's address. Any other error, and a peer's own UNAVAILABLE answer, pass unchanged.
 */
export function namePeerUnavailable(error: unknown, dependency: string): unknown {
  const e = error as { code?: unknown; metadata?: unknown };
  if (e?.code !== GrpcStatus.UNAVAILABLE || (e.metadata instanceof Metadata && e.metadata.get(ANSWERED_KEY).length)) return error;
  return { code: GrpcStatus.UNAVAILABLE, details: `${dependency} unavailable`, metadata: new Metadata() };
}

const HTTP_STATUS: Partial<Record<GrpcStatus, number>> = {
  [GrpcStatus.INVALID_ARGUMENT]: 400,
  [GrpcStatus.OUT_OF_RANGE]: 400,
  [GrpcStatus.UNAUTHENTICATED]: 401,
  [GrpcStatus.PERMISSION_DENIED]: 403,
  [GrpcStatus.NOT_FOUND]: 404,
  [GrpcStatus.ALREADY_EXISTS]: 409,
  [GrpcStatus.ABORTED]: 409,
  [GrpcStatus.FAILED_PRECONDITION]: 409,
  [GrpcStatus.RESOURCE_EXHAUSTED]: 429,
  [GrpcStatus.UNIMPLEMENTED]: 501,
  [GrpcStatus.UNAVAILABLE]: 503,
  [GrpcStatus.DEADLINE_EXCEEDED]: 504,
};

export interface HttpErrorBody {
  statusCode: number;
  error: string;
  message: string;
  fields?: FieldErrors;
  /** A machine-readable reason, when there is one (e.g. IDEMPOTENCY_KEY_REUSED). */
  code?: string;
}

/** Reads a gRPC client error (status, message, trailers) into an HTTP status and body. */
export function grpcErrorToHttp(error: unknown): { status: number; body: HttpErrorBody; retryAfter?: string } | undefined {
  const e = error as { code?: unknown; details?: unknown; metadata?: Metadata };
  if (typeof e?.code !== 'number' || !(e.metadata instanceof Metadata)) return undefined;
  const reason = e.metadata.get(REASON_KEY)[0];
  const status = (reason && REASON_HTTP_STATUS[String(reason)]) || (HTTP_STATUS[e.code as GrpcStatus] ?? 500);
  const fields = fieldErrorsOf(e.metadata);
  const retryAfter = e.metadata.get(RETRY_AFTER_KEY)[0];
  const message = status === 500 ? 'Internal error' : String(e.details ?? 'Request failed');
  return {
    status,
    retryAfter: retryAfter === undefined ? undefined : String(retryAfter),
    body: {
      statusCode: status,
      error: GrpcStatus[e.code as GrpcStatus] ?? 'UNKNOWN',
      message,
      ...(fields ? { fields } : {}),
      ...(reason ? { code: String(reason) } : {}),
    },
  };
}
