import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional, ApiResponse, getSchemaPath } from '@nestjs/swagger';

/** The body of every error answer (HttpErrorFilter): Nest's own errors and the services' mapped gRPC statuses. */
export class ErrorBody {
  @ApiProperty({ example: 404 }) statusCode: number;
  @ApiProperty({ description: 'HTTP reason or gRPC status name', example: 'NOT_FOUND' }) error: string;
  @ApiProperty() message: string;
  @ApiPropertyOptional({ description: 'Per-field problems, in the caller\'s language', type: 'object', additionalProperties: { type: 'string' } })
  fields?: Record<string, string>;
  @ApiPropertyOptional({ description: 'Machine-readable reason, e.g. IDEMPOTENCY_KEY_REUSED' }) code?: string;
  @ApiPropertyOptional({ description: 'The validation pipe\'s messages, one per problem', type: [String] }) details?: string[];
  @ApiPropertyOptional({ description: 'Request id of the answer (also the x-request-id header)' }) requestId?: string;
}

/** Answers that ask the client to wait: 429 (a limit) and 503 (a backing part away). */
const RETRY_AFTER = { 'Retry-After': { description: 'Seconds to wait before trying again', schema: { type: 'integer' } } };

/** One error answer with the product's ErrorBody; 429 and 503 carry Retry-After. */
export const errorResponse = (status: number, description: string) => ({
  description,
  ...(status === 429 || status === 503 ? { headers: RETRY_AFTER } : {}),
  content: { 'application/json': { schema: { $ref: getSchemaPath(ErrorBody) } } },
});

/**
 * The error answers particular to a route (409, 422, 429…), each with what causes it. Not named
 * Api…Response: the swagger plugin would take it for the success answer and not infer that one.
 */
export const ApiErrors = (errors: Record<number, string>) =>
  applyDecorators(...Object.entries(errors).map(([status, description]) => ApiResponse({ status: Number(status), ...errorResponse(Number(status), description) })));
