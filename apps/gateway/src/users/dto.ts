import { Transform, Type } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsISO8601, IsOptional, IsString, Matches, Max, MaxLength, Min, MinLength } from 'class-validator';
import { LANGUAGES, LEVELS } from '#contracts/levels.js';
import { toBoolean } from '../auth/dto.js';

const USERNAME = /^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$/;
const EMAIL_OR_EMPTY = /^$|^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$/;

export class CreateUserDto {
  @IsString({ message: 'username must be a string' })
  @Matches(USERNAME, { message: 'username must be 3-64 letters, digits, dots, dashes or underscores, starting with a letter or digit' })
  username: string;

  @IsOptional()
  @IsString({ message: 'email must be a string' })
  @MaxLength(254, { message: 'email must be at most 254 characters' })
  @Matches(EMAIL_OR_EMPTY, { message: 'email must look like name@example.com' })
  email?: string;

  @IsString({ message: 'password must be a string' })
  @MinLength(10, { message: 'password must be at least 10 characters long' })
  @MaxLength(1024, { message: 'password must be at most 1024 characters' })
  password: string;

  @IsOptional()
  @IsIn(LEVELS, { message: `level must be one of ${LEVELS.join(', ')}` })
  level?: string;

  @IsOptional()
  @IsIn(LANGUAGES, { message: `language must be one of ${LANGUAGES.join(', ')}` })
  language?: string;
}

/** The search and paging fields of a list query; `maxPageSize` bounds pageSize. */
function SearchPageQuery(maxPageSize: number) {
  class SearchPageQuery {
    @IsOptional()
    @IsString()
    @MaxLength(100, { message: 'search must be at most 100 characters' })
    search?: string;

    @IsOptional()
    @Type(() => Number)
    @IsInt({ message: 'pageSize must be a whole number' })
    @Min(1, { message: 'pageSize must be at least 1' })
    @Max(maxPageSize, { message: `pageSize must be at most ${maxPageSize}` })
    pageSize?: number;

    @IsOptional()
    @IsString()
    @MaxLength(200, { message: 'pageToken must be at most 200 characters' })
    pageToken?: string;
  }
  return SearchPageQuery;
}

export class ListUsersQuery extends SearchPageQuery(200) {}

export class UpdateUserDto {
  @IsOptional()
  @IsIn(LEVELS, { message: `level must be one of ${LEVELS.join(', ')}` })
  level?: string;

  /** An empty string clears the email. */
  @IsOptional()
  @IsString({ message: 'email must be a string' })
  @MaxLength(254, { message: 'email must be at most 254 characters' })
  @Matches(EMAIL_OR_EMPTY, { message: 'email must look like name@example.com (or be empty to clear it)' })
  email?: string;

  @IsOptional()
  @IsBoolean({ message: 'active must be true or false' })
  active?: boolean;
}

export class ResetPasswordDto {
  @IsString({ message: 'newPassword must be a string' })
  @MinLength(10, { message: 'newPassword must be at least 10 characters long' })
  @MaxLength(1024, { message: 'newPassword must be at most 1024 characters' })
  newPassword: string;
}

export class UserTokensQuery {
  @IsOptional()
  @Transform(toBoolean)
  @IsBoolean({ message: 'includeInactive must be true or false' })
  includeInactive?: boolean;
}

export class AuditQuery extends SearchPageQuery(500) {
  @IsOptional()
  @IsString()
  @Matches(/^[a-z0-9_.-]{1,100}$/, { message: 'action must be an action name like "user.created", or a prefix ending with "." like "user."' })
  action?: string;

  @IsOptional()
  @IsString()
  @MaxLength(100, { message: 'actorId must be at most 100 characters' })
  actorId?: string;

  @IsOptional()
  @IsString()
  @MaxLength(300, { message: 'targetId must be at most 300 characters' })
  targetId?: string;

  @IsOptional()
  @IsIn(['success', 'failure'], { message: 'outcome must be success or failure' })
  outcome?: string;

  @IsOptional()
  @IsISO8601({ strict: true }, { message: 'since must be an ISO 8601 date-time, e.g. 2025-01-31T12:00:00Z' })
  since?: string;

  @IsOptional()
  @IsISO8601({ strict: true }, { message: 'until must be an ISO 8601 date-time, e.g. 2025-01-31T12:00:00Z' })
  until?: string;
}
