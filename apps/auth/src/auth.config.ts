import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min, MinLength } from 'class-validator';
import { ServiceConfig } from '#common/config.js';

export class AuthConfig extends ServiceConfig {
  GRPC_LISTEN = '0.0.0.0:50051';
  HTTP_PORT = 8081;

  /** Lifetime of an access token (JWT). */
  @Type(() => Number)
  @IsInt({ message: 'ACCESS_TOKEN_TTL_SECONDS must be an integer number of seconds' })
  @Min(30, { message: 'ACCESS_TOKEN_TTL_SECONDS must be at least 30' })
  @Max(86_400, { message: 'ACCESS_TOKEN_TTL_SECONDS must be at most 86400 (one day)' })
  ACCESS_TOKEN_TTL_SECONDS = 900;

  /** Lifetime of a refresh token; each refresh issues a new one with a fresh lifetime. */
  @Type(() => Number)
  @IsInt({ message: 'REFRESH_TOKEN_TTL_SECONDS must be an integer number of seconds' })
  @Min(60, { message: 'REFRESH_TOKEN_TTL_SECONDS must be at least 60' })
  @Max(31_536_000, { message: 'REFRESH_TOKEN_TTL_SECONDS must be at most 31536000 (one year)' })
  REFRESH_TOKEN_TTL_SECONDS = 7 * 24 * 3600;

  /** Username of the administrator created on first start, when there is no user at all. */
  @Matches(/^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$/, {
    message: 'BOOTSTRAP_ADMIN_USERNAME must be 3-64 letters, digits, dots, dashes or underscores',
  })
  BOOTSTRAP_ADMIN_USERNAME = 'admin';

  /** Password of that administrator; generated (and printed once) when unset. */
  @IsOptional()
  @IsString()
  @MinLength(10, { message: 'BOOTSTRAP_ADMIN_PASSWORD must be at least 10 characters long' })
  @MaxLength(1024, { message: 'BOOTSTRAP_ADMIN_PASSWORD must be at most 1024 characters long' })
  BOOTSTRAP_ADMIN_PASSWORD?: string;

  /**
   * Where a generated first password is kept (mode 0600), written in the transaction that
   * creates the admin. Set by all-in-one to <data dir>/initial-admin-password.
   */
  @IsOptional()
  @IsString()
  INITIAL_ADMIN_PASSWORD_FILE?: string;

  /*
   * Login throttling per client address (in memory, per auth replica; see LoginThrottle).
   * Failures beyond LOGIN_THROTTLE_FREE_FAILURES within the window are each answered
   * LOGIN_THROTTLE_DELAY_STEP_MS × (extra failures) later (at most LOGIN_THROTTLE_MAX_DELAY_MS);
   * LOGIN_THROTTLE_LOCKOUT_FAILURES within the window lock the address out.
   */
  @Type(() => Number)
  @IsInt({ message: 'LOGIN_THROTTLE_WINDOW_SECONDS must be an integer number of seconds' })
  @Min(1, { message: 'LOGIN_THROTTLE_WINDOW_SECONDS must be at least 1' })
  @Max(86_400, { message: 'LOGIN_THROTTLE_WINDOW_SECONDS must be at most 86400 (one day)' })
  LOGIN_THROTTLE_WINDOW_SECONDS = 15 * 60;

  @Type(() => Number)
  @IsInt({ message: 'LOGIN_THROTTLE_FREE_FAILURES must be a whole number' })
  @Min(0, { message: 'LOGIN_THROTTLE_FREE_FAILURES must be at least 0' })
  @Max(1000, { message: 'LOGIN_THROTTLE_FREE_FAILURES must be at most 1000' })
  LOGIN_THROTTLE_FREE_FAILURES = 5;

  @Type(() => Number)
  @IsInt({ message: 'LOGIN_THROTTLE_DELAY_STEP_MS must be an integer number of milliseconds' })
  @Min(0, { message: 'LOGIN_THROTTLE_DELAY_STEP_MS must be at least 0' })
  @Max(10_000, { message: 'LOGIN_THROTTLE_DELAY_STEP_MS must be at most 10000' })
  LOGIN_THROTTLE_DELAY_STEP_MS = 200;

  @Type(() => Number)
  @IsInt({ message: 'LOGIN_THROTTLE_MAX_DELAY_MS must be an integer number of milliseconds' })
  @Min(0, { message: 'LOGIN_THROTTLE_MAX_DELAY_MS must be at least 0' })
  @Max(30_000, { message: 'LOGIN_THROTTLE_MAX_DELAY_MS must be at most 30000' })
  LOGIN_THROTTLE_MAX_DELAY_MS = 3000;

  @Type(() => Number)
  @IsInt({ message: 'LOGIN_THROTTLE_LOCKOUT_FAILURES must be a whole number' })
  @Min(1, { message: 'LOGIN_THROTTLE_LOCKOUT_FAILURES must be at least 1' })
  @Max(10_000, { message: 'LOGIN_THROTTLE_LOCKOUT_FAILURES must be at most 10000' })
  LOGIN_THROTTLE_LOCKOUT_FAILURES = 20;

  @Type(() => Number)
  @IsInt({ message: 'LOGIN_THROTTLE_LOCKOUT_SECONDS must be an integer number of seconds' })
  @Min(1, { message: 'LOGIN_THROTTLE_LOCKOUT_SECONDS must be at least 1' })
  @Max(86_400, { message: 'LOGIN_THROTTLE_LOCKOUT_SECONDS must be at most 86400 (one day)' })
  LOGIN_THROTTLE_LOCKOUT_SECONDS = 15 * 60;

  /** Bound on the addresses the throttle remembers (least recently failed forgotten first). */
  @Type(() => Number)
  @IsInt({ message: 'LOGIN_THROTTLE_MAX_ADDRESSES must be a whole number' })
  @Min(100, { message: 'LOGIN_THROTTLE_MAX_ADDRESSES must be at least 100' })
  @Max(1_000_000, { message: 'LOGIN_THROTTLE_MAX_ADDRESSES must be at most 1000000' })
  LOGIN_THROTTLE_MAX_ADDRESSES = 10_000;
}
