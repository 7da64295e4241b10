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

/** An error answer particular to a route (409, 422, 429…), with the product's ErrorBody. */
export const ApiErrorResponse = (status: number, description: string) =>
  ApiResponse({ status, description, content: { 'application/json': { schema: { $ref: getSchemaPath(ErrorBody) } } } });
