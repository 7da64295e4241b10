import { Controller } from '@nestjs/common';
import type { Metadata } from '@grpc/grpc-js';
import {
  BackupServiceControllerMethods,
  type Backup,
  type BackupServiceController,
  type ListBackupsResponse,
} from '#contracts/generated/scriptorium/backup/v1/backup.js';
import { callerOf, requireLevel } from '#common/auth.js';
import type { BackupRecord } from './backup.entity.js';
import { BackupsService } from './backups.service.js';

function toMessage(r: BackupRecord): Backup {
  return {
    id: r.id,
    state: r.state,
    createdAt: r.createdAt.toISOString(),
    finishedAt: r.finishedAt?.toISOString() ?? '',
    sizeBytes: Number(r.sizeBytes),
    location: r.location,
    error: r.error,
    requestedBy: r.requestedBy,
  };
}

@Controller()
@BackupServiceControllerMethods()
export class BackupsGrpcController implements BackupServiceController {
  constructor(private readonly backups: BackupsService) {}

  async createBackup(_request: object, metadata?: Metadata): Promise<Backup> {
    const caller = callerOf(metadata);
    requireLevel(caller, 'admin', 'Creating a backup');
    return toMessage(await this.backups.create(caller.username));
  }

  async listBackups(_request: object, metadata?: Metadata): Promise<ListBackupsResponse> {
    requireLevel(callerOf(metadata), 'admin', 'Listing backups');
    return { backups: (await this.backups.list()).map(toMessage) };
  }
}
