import { ApiProperty } from '@nestjs/swagger';
import { LANGUAGES, LEVELS, THEMES } from '#contracts/levels.js';

// The REST answers about accounts and their credentials. Handlers declare these as their return
// types, so the compiler checks them against the gRPC messages and the swagger plugin documents them.

export class UserDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  username: string;
  /** Empty when the account has none. */
  email: string;
  @ApiProperty({ enum: LEVELS, enumName: 'Level' }) level: string;
  @ApiProperty({ enum: LANGUAGES, enumName: 'Language' }) language: string;
  @ApiProperty({ enum: THEMES, enumName: 'Theme' }) theme: string;
  /** False once deactivated: the account cannot sign in. */
  active: boolean;
  @ApiProperty({ format: 'date-time' }) createdAt: string;
}

/** A signed-in session: send `accessToken` as the bearer token, trade `refreshToken` for new ones. */
export class SignInDto {
  accessToken: string;
  refreshToken: string;
  /** Seconds until the access token expires. */
  @ApiProperty({ type: 'integer' }) expiresIn: number;
  user: UserDto;
}

export class ApiTokenDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  name: string;
  /** The level the token acts with, never above its owner's current level. */
  @ApiProperty({ enum: LEVELS, enumName: 'Level' }) level: string;
  @ApiProperty({ format: 'uuid' }) userId: string;
  /** The token's first characters, to recognise it in a list (e.g. "sct_AbCd"). */
  prefix: string;
  @ApiProperty({ format: 'date-time' }) createdAt: string;
  @ApiProperty({ format: 'date-time' }) expiresAt: string;
  /** RFC 3339; empty when never used. */
  lastUsedAt: string;
  /** RFC 3339; empty unless revoked. */
  revokedAt: string;
}

export class CreatedApiTokenDto {
  apiToken: ApiTokenDto;
  /** The secret (`sct_…`), shown only in this answer. */
  token: string;
}

export class ApiTokenListDto {
  items: ApiTokenDto[];
}
