import { existsSync } from 'node:fs';
import { Type } from 'class-transformer';
import { IsInt, IsString, Max, Min } from 'class-validator';
import { ServiceConfig } from '#common/config.js';

export class CatalogConfig extends ServiceConfig {
  GRPC_LISTEN = '0.0.0.0:50052';
  HTTP_PORT = 8082;

  /** The folder holding the script groups (one subfolder with a metadata.json per group). */
  @IsString({ message: 'SCRIPT_GROUPS_DIR must be a folder path' })
  SCRIPT_GROUPS_DIR = 'script_groups';

  /** Interpreter of .py scripts when a group's environment names none. */
  @IsString({ message: 'PYTHON_INTERPRETER must be an interpreter path or command' })
  PYTHON_INTERPRETER = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

  /** Container image of .py and .sh scripts on the kubernetes runtime when a group names none. */
  @IsString({ message: 'DEFAULT_IMAGE must be a container image reference' })
  DEFAULT_IMAGE = 'python:3.12-slim';

  /** Container image of .js scripts on the kubernetes runtime when a group names none. */
  @IsString({ message: 'NODE_IMAGE must be a container image reference' })
  NODE_IMAGE = 'node:20-slim';

  /** Full rescan period, a safety net behind the file watcher; 0 disables it. */
  @Type(() => Number)
  @IsInt({ message: 'CATALOG_RESCAN_SECONDS must be a whole number of seconds (0 disables)' })
  @Min(0)
  @Max(86400)
  CATALOG_RESCAN_SECONDS = 60;
}
