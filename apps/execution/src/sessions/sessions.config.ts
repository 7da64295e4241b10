import { Type } from 'class-transformer';
import { IsInt, Max, Min } from 'class-validator';
import { loadConfig } from '#common/config.js';

/**
 * Interactive sessions' settings, read from the execution service's environment
 * (the service config object carries every variable it was built from).
 */
export class SessionsConfig {
  /** A session without a heartbeat for this long is closed and its run cancelled. */
  @Type(() => Number)
  @IsInt({ message: 'SESSION_IDLE_SECONDS must be an integer number of seconds' })
  @Min(1)
  SESSION_IDLE_SECONDS = 300;

  /** Open sessions one user may have; one more is refused with 429. */
  @Type(() => Number)
  @IsInt({ message: 'MAX_SESSIONS_PER_USER must be an integer' })
  @Min(1)
  MAX_SESSIONS_PER_USER = 3;

  /** Open sessions in the whole platform; one more is refused with 429. */
  @Type(() => Number)
  @IsInt({ message: 'MAX_SESSIONS must be an integer' })
  @Min(1)
  MAX_SESSIONS = 50;

  /** The port an interactive script listens on inside its pod (kubernetes runtime); the session's Service exposes it. */
  @Type(() => Number)
  @IsInt({ message: 'SESSION_PORT must be an integer port number' })
  @Min(1024)
  @Max(65535)
  SESSION_PORT = 8000;

  /** How long an entry token (the link that opens a session in a browser) stays valid. */
  @Type(() => Number)
  @IsInt({ message: 'SESSION_ENTRY_SECONDS must be an integer number of seconds' })
  @Min(1)
  @Max(600)
  SESSION_ENTRY_SECONDS = 60;

  /** Lifetime of the browser credential (the session host's cookie); it also ends with the session. */
  @Type(() => Number)
  @IsInt({ message: 'SESSION_COOKIE_SECONDS must be an integer number of seconds' })
  @Min(60)
  SESSION_COOKIE_SECONDS = 12 * 3600;
}

export function sessionsConfigFrom(serviceConfig: object): SessionsConfig {
  const source = Object.fromEntries(
    Object.entries(serviceConfig).filter(([, value]) => typeof value === 'string' || typeof value === 'number').map(([k, v]) => [k, String(v)]),
  );
  return loadConfig(SessionsConfig, source);
}
