import { IsString } from 'class-validator';
import { ServiceConfig } from '#common/config.js';

export class BackupConfig extends ServiceConfig {
  GRPC_LISTEN = '0.0.0.0:50055';
  HTTP_PORT = 8085;

  /** The folder a backup archives (the projects' data directories). */
  @IsString({ message: 'BACKUP_SOURCE_DIR must be a folder path' })
  BACKUP_SOURCE_DIR = '.data/projects';

  /** Where archives are written. */
  @IsString({ message: 'BACKUP_DIR must be a folder path' })
  BACKUP_DIR = '.data/backups';
}
