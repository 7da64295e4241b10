import { Transform, Type } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min, MinLength } from 'class-validator';

export const CODE_LANGUAGES = ['python', 'bash', 'javascript'] as const;
const LANGUAGE_MESSAGE = `language must be one of ${CODE_LANGUAGES.join(', ')}`;
const toBoolean = ({ value }: { value: unknown }) => value === true || value === 'true' || value === '1';

export class CreateCodeSessionDto {
  @IsString({ message: 'name must be a string' })
  @MinLength(1, { message: 'name is required' })
  @MaxLength(100, { message: 'name must be at most 100 characters' })
  name: string;

  @IsIn(CODE_LANGUAGES, { message: LANGUAGE_MESSAGE })
  language: string;

  @IsOptional()
  @IsString({ message: 'source must be a string' })
  source?: string;

  @IsOptional()
  @Matches(/^[0-9a-f-]{36}$/i, { message: 'projectId must be a project id' })
  projectId?: string;

  @IsOptional()
  @IsInt({ message: 'timeoutSeconds must be an integer number of seconds' })
  @Min(1, { message: 'timeoutSeconds must be at least 1' })
  timeoutSeconds?: number;
}

/** An autosave: the version it is based on, and the fields that changed. */
export class UpdateCodeSessionDto {
  @IsInt({ message: 'baseVersion (the version this edit is based on) must be an integer' })
  @Min(1, { message: 'baseVersion must be at least 1' })
  baseVersion: number;

  @IsOptional() @IsString({ message: 'source must be a string' })
  source?: string;

  @IsOptional() @IsString({ message: 'name must be a string' }) @MinLength(1, { message: 'name must not be empty' }) @MaxLength(100, { message: 'name must be at most 100 characters' })
  name?: string;

  @IsOptional() @IsIn(CODE_LANGUAGES, { message: LANGUAGE_MESSAGE })
  language?: string;

  @IsOptional() @IsInt({ message: 'timeoutSeconds must be an integer number of seconds' }) @Min(1, { message: 'timeoutSeconds must be at least 1' })
  timeoutSeconds?: number;
}

export class ExecuteCodeSessionDto {
  /** Run only if this is still the saved version (0 or absent: whatever is saved). */
  @IsOptional() @IsInt({ message: 'version must be an integer' }) @Min(0)
  version?: number;
}

export class ListCodeSessionsQuery {
  @IsOptional() @Transform(toBoolean) @IsBoolean({ message: 'allUsers must be true or false' })
  allUsers?: boolean;
}

export class CodeSessionHistoryQuery {
  @IsOptional() @Type(() => Number) @IsInt({ message: 'pageSize must be an integer' }) @Min(1) @Max(200)
  pageSize?: number;
}
