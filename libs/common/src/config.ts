import 'reflect-metadata';
import { plainToInstance, Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, Matches, Max, Min, MinLength, validateSync } from 'class-validator';

/** Thrown at start-up when the environment is wrong; its message names every bad variable. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** A gRPC address: host:port or a unix socket. */
export const HOST_PORT = /^(unix:.+|[A-Za-z0-9.\-\[\]:]+:\d{1,5})$/;
export const HOST_PORT_MESSAGE = 'must be host:port (e.g. 127.0.0.1:50051) or unix:/path/to.sock';

/** Variables every service reads. */
export class ServiceConfig {
  @Matches(/^postgres(ql)?:\/\/.+/, { message: 'DATABASE_URL must be a postgres:// URL, e.g. postgres://user:pass@host:5432/scriptorium' })
  DATABASE_URL: string;

  @Matches(/^(nats|tls|inproc):\/\/.*/, { message: 'NATS_URL must be a nats:// URL, e.g. nats://127.0.0.1:4222' })
  NATS_URL: string;

  @Matches(HOST_PORT, { message: `GRPC_LISTEN ${HOST_PORT_MESSAGE}` })
  GRPC_LISTEN: string;

  /** Port for /healthz and /readyz; 0 disables the HTTP listener (all-in-one). */
  @Type(() => Number)
  @IsInt({ message: 'HTTP_PORT must be an integer port number (0 to disable)' })
  @Min(0)
  @Max(65535)
  HTTP_PORT: number;

  @IsOptional()
  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
    message: 'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent',
  })
  LOG_LEVEL?: string;

  /** Database pool size; the embedded database needs exactly 1. */
  @Type(() => Number)
  @IsInt({ message: 'DATABASE_POOL_SIZE must be an integer' })
  @Min(1)
  @Max(100)
  DATABASE_POOL_SIZE: number = 10;

  /**
   * Where durable events wait for the broker (owned by one process). Default: one directory per
   * service and installation under the temp dir, numbered so replicas on one host never share one.
   */
  @IsOptional()
  @Matches(/^\//, { message: 'OUTBOX_DIR must be an absolute path, e.g. /var/lib/scriptorium/outbox/execution' })
  OUTBOX_DIR?: string;

  /** Above this many bytes waiting in the outbox, running scripts' output is paused. */
  @Type(() => Number)
  @IsInt({ message: 'OUTBOX_MAX_BYTES must be an integer number of bytes' })
  @Min(1024 * 1024, { message: 'OUTBOX_MAX_BYTES must be at least 1048576 (1 MiB)' })
  OUTBOX_MAX_BYTES: number = 128 * 1024 * 1024;

  /**
   * Shared by every service of an installation: the backup service presents it to export and
   * import each service's schema (SchemaTransferService). Unset: this service refuses those calls,
   * so it can be neither backed up nor restored. all-in-one generates one per start.
   */
  @IsOptional()
  @MinLength(16, { message: 'SCHEMA_TRANSFER_TOKEN must be at least 16 characters (e.g. openssl rand -hex 32)' })
  SCHEMA_TRANSFER_TOKEN?: string;

  // gRPC addresses of the other services, for the apps that call them.
  @IsOptional() @Matches(HOST_PORT, { message: `AUTH_GRPC_URL ${HOST_PORT_MESSAGE}` })
  AUTH_GRPC_URL?: string;
  @IsOptional() @Matches(HOST_PORT, { message: `CATALOG_GRPC_URL ${HOST_PORT_MESSAGE}` })
  CATALOG_GRPC_URL?: string;
  @IsOptional() @Matches(HOST_PORT, { message: `EXECUTION_GRPC_URL ${HOST_PORT_MESSAGE}` })
  EXECUTION_GRPC_URL?: string;
  @IsOptional() @Matches(HOST_PORT, { message: `LOGGING_GRPC_URL ${HOST_PORT_MESSAGE}` })
  LOGGING_GRPC_URL?: string;
  @IsOptional() @Matches(HOST_PORT, { message: `BACKUP_GRPC_URL ${HOST_PORT_MESSAGE}` })
  BACKUP_GRPC_URL?: string;
}

/** Names whose values are never printed: passwords, keys, tokens, and URLs (which may carry credentials). */
const SECRET_NAME = /PASSWORD|PASSPHRASE|SECRET|TOKEN(?!_TTL)|KEY|CREDENTIAL|PRIVATE|_URL$|_DSN$/i;

/**
 * What a problem report may show of a value: the value itself for plain settings; for a URL,
 * the URL with its password masked; for any other secret, only its length. Start-up errors end
 * up in logs and CI output, where a secret must never appear.
 */
export function describeValue(name: string, value: string): string {
  if (!SECRET_NAME.test(name)) return `got ${JSON.stringify(value.length > 200 ? `${value.slice(0, 200)}…` : value)}`;
  try {
    const url = new URL(value);
    if (/_URL$|_DSN$/i.test(name) && url.host) {
      if (url.password) url.password = '***';
      if (url.search) url.search = '?***'; // e.g. ?password=…
      return `got ${JSON.stringify(url.href)}`;
    }
  } catch {
    // Not a URL: nothing of it can be shown safely.
  }
  return `value hidden, ${value.length} characters`;
}

/**
 * Builds and validates a config object from an environment-like map.
 * `required` names optional-by-class variables that this app cannot run without.
 */
export function loadConfig<T extends object>(
  cls: new () => T,
  source: Record<string, string | undefined>,
  required: (keyof T & string)[] = [],
): T {
  const defined = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  const config = plainToInstance(cls, defined, { exposeDefaultValues: true });
  const values = config as Record<string, unknown>;
  const problems = required.filter((key) => values[key] === undefined).map((key) => `${key} is required but not set`);
  for (const error of validateSync(config)) {
    if (values[error.property] === undefined) {
      if (!required.includes(error.property as never)) problems.push(`${error.property} is required but not set`);
      continue;
    }
    for (const message of Object.values(error.constraints ?? {})) {
      problems.push(`${message} (${describeValue(error.property, String(source[error.property]))})`);
    }
  }
  if (problems.length) throw new ConfigError(problems);
  return config;
}
