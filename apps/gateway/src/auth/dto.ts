import { Transform } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min, MinLength } from 'class-validator';
import { LANGUAGES, LEVELS, THEMES } from '#contracts/levels.js';

export class LoginDto {
  @IsString({ message: 'username must be a string' })
  @MinLength(1, { message: 'username is required' })
  @MaxLength(100, { message: 'username must be at most 100 characters' })
  username: string;

  @IsString({ message: 'password must be a string' })
  @MinLength(1, { message: 'password is required' })
  @MaxLength(1000, { message: 'password must be at most 1000 characters' })
  password: string;
}

export class RefreshDto {
  @IsString({ message: 'refreshToken must be a string' })
  @MinLength(1, { message: 'refreshToken is required' })
  @MaxLength(500, { message: 'refreshToken must be at most 500 characters' })
  refreshToken: string;
}

/** `?flag=true|false` as a boolean ("false" must not become true). */
export const toBoolean = ({ value }: { value: unknown }) => (value === 'true' || value === true ? true : value === 'false' || value === false ? false : value);

export class UpdatePreferencesDto {
  @IsOptional()
  @IsIn(LANGUAGES, { message: `language must be one of ${LANGUAGES.join(', ')}` })
  language?: string;

  @IsOptional()
  @IsIn(THEMES, { message: `theme must be one of ${THEMES.join(', ')}` })
  theme?: string;
}

export class ChangePasswordDto {
  @IsString({ message: 'currentPassword must be a string' })
  @MinLength(1, { message: 'currentPassword is required' })
  @MaxLength(1024, { message: 'currentPassword must be at most 1024 characters' })
  currentPassword: string;

  @IsString({ message: 'newPassword must be a string' })
  @MinLength(10, { message: 'newPassword must be at least 10 characters long' })
  @MaxLength(1024, { message: 'newPassword must be at most 1024 characters' })
  newPassword: string;
}

export class CreateApiTokenDto {
  @IsString({ message: 'name must be a string' })
  @MinLength(1, { message: 'name is required' })
  @MaxLength(100, { message: 'name must be at most 100 characters' })
  @Matches(/^[\p{L}\p{N} ._:()\/@#+-]{1,100}$/u, { message: 'name may hold letters, digits, spaces and . _ : ( ) / @ # + -' })
  name: string;

  @IsOptional()
  @IsIn(LEVELS, { message: `level must be one of ${LEVELS.join(', ')} (at most your own)` })
  level?: string;

  @IsOptional()
  @IsInt({ message: 'expiresInDays must be a whole number of days' })
  @Min(1, { message: 'expiresInDays must be at least 1' })
  @Max(365, { message: 'expiresInDays must be at most 365' })
  expiresInDays?: number;
}

export class ListApiTokensQuery {
  @IsOptional()
  @Transform(toBoolean)
  @IsBoolean({ message: 'includeInactive must be true or false' })
  includeInactive?: boolean;
}
