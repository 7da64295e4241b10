import { Type } from 'class-transformer';
import { IsInt, Max, Min } from 'class-validator';
import { ServiceConfig } from '#common/config.js';

export class LoggingConfig extends ServiceConfig {
  GRPC_LISTEN = '0.0.0.0:50054';
  HTTP_PORT = 8084;

  /** The longest a search runs before it answers what it found as partial. */
  @Type(() => Number)
  @IsInt({ message: 'LOG_SEARCH_TIME_LIMIT_MS must be an integer number of milliseconds' })
  @Min(10, { message: 'LOG_SEARCH_TIME_LIMIT_MS must be at least 10' })
  @Max(60_000, { message: 'LOG_SEARCH_TIME_LIMIT_MS must be at most 60000' })
  LOG_SEARCH_TIME_LIMIT_MS = 2000;

  /** How often stored rows are indexed for search when nothing is waiting. */
  @Type(() => Number)
  @IsInt({ message: 'LOG_INDEX_INTERVAL_MS must be an integer number of milliseconds' })
  @Min(10, { message: 'LOG_INDEX_INTERVAL_MS must be at least 10' })
  LOG_INDEX_INTERVAL_MS = 500;

  /** How often the retention policies are applied (0: never on a schedule; POST /api/v1/logs/cleanup still works). */
  @Type(() => Number)
  @IsInt({ message: 'LOG_RETENTION_INTERVAL_MINUTES must be an integer number of minutes (0 to disable)' })
  @Min(0, { message: 'LOG_RETENTION_INTERVAL_MINUTES must be 0 or more' })
  LOG_RETENTION_INTERVAL_MINUTES = 60;

  /** The most runs one archive export holds. */
  @Type(() => Number)
  @IsInt({ message: 'LOG_EXPORT_MAX_RUNS must be an integer' })
  @Min(1, { message: 'LOG_EXPORT_MAX_RUNS must be at least 1' })
  LOG_EXPORT_MAX_RUNS = 1000;
}
