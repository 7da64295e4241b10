import { hostname } from 'node:os';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsString, Max, Min } from 'class-validator';
import { ServiceConfig } from '#common/config.js';

export class ExecutionConfig extends ServiceConfig {
  GRPC_LISTEN = '0.0.0.0:50053';
  HTTP_PORT = 8083;

  /** Root of the projects' data directories. */
  @IsString({ message: 'DATA_DIR must be a folder path' })
  DATA_DIR = '.data';

  @IsIn(['local'], { message: 'EXECUTION_RUNTIME must be "local" (kubernetes is not available in this build yet)' })
  EXECUTION_RUNTIME = 'local';

  /** Runs this replica executes at once; more wait queued. */
  @Type(() => Number)
  @IsInt({ message: 'MAX_CONCURRENT_RUNS must be an integer' })
  @Min(1)
  @Max(1000)
  MAX_CONCURRENT_RUNS = 16;

  @Type(() => Number)
  @IsInt({ message: 'DEFAULT_TIMEOUT_SECONDS must be an integer number of seconds' })
  @Min(1)
  DEFAULT_TIMEOUT_SECONDS = 3600;

  /** Time a cancelled run gets between SIGTERM and SIGKILL. */
  @Type(() => Number)
  @IsInt({ message: 'CANCEL_GRACE_SECONDS must be an integer number of seconds' })
  @Min(0)
  CANCEL_GRACE_SECONDS = 5;

  /** Identifies this replica as the owner of the runs it starts; stable across its restarts. */
  @IsString()
  INSTANCE_ID = hostname();
}
