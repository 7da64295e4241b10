import { Type } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsObject, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import { EXECUTION_STATES } from '#contracts/execution-states.js';
import { LANGUAGES } from '#contracts/levels.js';

export class RunScriptDto {
  @IsString({ message: 'scriptId must be a string like "examples/greet.py"' })
  @MaxLength(300)
  scriptId: string;

  @IsOptional()
  @IsObject({ message: 'parameters must be a JSON object, e.g. {"name": "Ada"}' })
  parameters?: Record<string, unknown>;

  @IsOptional()
  @Matches(/^[A-Za-z0-9_-]{1,64}$/, { message: 'projectId may hold only letters, digits, "-" and "_" (at most 64)' })
  projectId?: string;

  @IsOptional()
  @IsIn(LANGUAGES, { message: `language must be one of ${LANGUAGES.join(', ')}` })
  language?: string;
}

export class ListExecutionsQuery {
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(200)
  pageSize?: number;

  @IsOptional() @IsString() @MaxLength(500)
  pageToken?: string;

  @IsOptional() @IsString() @MaxLength(300)
  scriptId?: string;

  @IsOptional() @IsIn(EXECUTION_STATES, { message: `state must be one of ${EXECUTION_STATES.join(', ')}` })
  state?: string;

  @IsOptional() @Type(() => Boolean) @IsBoolean()
  allUsers?: boolean;
}

export class LogQuery {
  @IsOptional() @Type(() => Number) @IsInt({ message: 'after must be a line sequence number' }) @Min(0)
  after?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(10_000)
  limit?: number;

  @IsOptional() @IsIn(['json', 'text'], { message: 'format must be json or text' })
  format?: 'json' | 'text';
}

export class RerunDto {
  @IsOptional()
  @IsObject({ message: 'parameters must be a JSON object of the parameters to change, e.g. {"token": "…"}' })
  parameters?: Record<string, unknown>;
}
