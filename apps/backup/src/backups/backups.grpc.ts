import { Readable } from 'node:stream';
import { Controller } from '@nestjs/common';
import { GrpcStreamCall } from '@nestjs/microservices';
import type { Metadata, ServerReadableStream, sendUnaryData } from '@grpc/grpc-js';
import { from, type Observable } from 'rxjs';
import {
  type ArchiveChunk,
  type Backup,
  type BackupSettings,
  type BackupStatus,
  type DeleteBackupRequest,
  type DeleteBackupResponse,
  type ExportProjectRequest,
  type RestoreProjectFilesRequest,
  type RestoreProjectFilesResponse,
  type GetBackupRequest,
  type ListBackupsResponse,
  type RestoreBackupRequest,
  type RestoreBackupResponse,
  type VerifyBackupRequest,
} from '#contracts/generated/scriptorium/backup/v1/backup.js';
import { GrpcMethod } from '@nestjs/microservices';
import { callerOf, Public, requireLevel, TokenVerifier, type Caller } from '#common/auth.js';
import { DomainError, toGrpcError } from '#common/errors.js';
import { rootLogger } from '#common/logger.js';
import { GrpcPackages } from '#contracts/grpc-packages.js';
import type { BackupRecord } from './backup.entity.js';
import { BackupsService } from './backups.service.js';
import { ProjectArchiveService } from './project-archive.service.js';

const SERVICE = GrpcPackages.backup.service;

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
    trigger: r.trigger,
    verifiedAt: r.verifiedAt?.toISOString() ?? '',
    verifyError: r.verifyError,
    manifestJson: r.manifest ? JSON.stringify(r.manifest) : '',
  };
}

const admin = (metadata: Metadata | undefined, what: string): Caller => {
  const caller = callerOf(metadata);
  requireLevel(caller, 'admin', what);
  return caller;
};

/** BackupService over gRPC: admins only. */
@Controller()
export class BackupsGrpcController {
  constructor(
    private readonly backups: BackupsService,
    private readonly verifier: TokenVerifier,
    private readonly projectArchives: ProjectArchiveService,
  ) {}

  @GrpcMethod(SERVICE, 'RestoreProjectFiles')
  async restoreProjectFiles(request: RestoreProjectFilesRequest, metadata?: Metadata): Promise<RestoreProjectFilesResponse> {
    const caller = admin(metadata, "Restoring a project's files");
    const { prefix } = await this.projectArchives.folderOf(request.projectId, caller);
    return { files: await this.backups.restoreFolder(request.id, prefix, caller) };
  }

  /** Not admin-only: the project's owner (or an admin), as the execution service decides. */
  @GrpcMethod(SERVICE, 'ExportProject')
  exportProject(request: ExportProjectRequest, metadata?: Metadata): Observable<ArchiveChunk> {
    const caller = callerOf(metadata);
    const projectArchives = this.projectArchives;
    return from(
      (async function* () {
        const { zip } = await projectArchives.zip(request.projectId, caller);
        for await (const data of zip) yield { data: data as Buffer };
      })(),
    );
  }

  @GrpcMethod(SERVICE, 'CreateBackup')
  async createBackup(_request: object, metadata?: Metadata): Promise<Backup> {
    return toMessage(await this.backups.create(admin(metadata, 'Creating a backup')));
  }

  @GrpcMethod(SERVICE, 'ListBackups')
  async listBackups(_request: object, metadata?: Metadata): Promise<ListBackupsResponse> {
    admin(metadata, 'Listing backups');
    return { backups: (await this.backups.list()).map(toMessage) };
  }

  @GrpcMethod(SERVICE, 'GetBackup')
  async getBackup(request: GetBackupRequest, metadata?: Metadata): Promise<Backup> {
    admin(metadata, 'Reading a backup');
    return toMessage(await this.backups.get(request.id));
  }

  @GrpcMethod(SERVICE, 'VerifyBackup')
  async verifyBackup(request: VerifyBackupRequest, metadata?: Metadata): Promise<Backup> {
    return toMessage(await this.backups.verify(request.id, admin(metadata, 'Verifying a backup')));
  }

  @GrpcMethod(SERVICE, 'DeleteBackup')
  async deleteBackup(request: DeleteBackupRequest, metadata?: Metadata): Promise<DeleteBackupResponse> {
    await this.backups.delete(request.id, admin(metadata, 'Deleting a backup'));
    return {};
  }

  @GrpcMethod(SERVICE, 'RestoreBackup')
  async restoreBackup(request: RestoreBackupRequest, metadata?: Metadata): Promise<RestoreBackupResponse> {
    const result = await this.backups.restore(request.id, request.confirm, admin(metadata, 'Restoring a backup'));
    return { backup: toMessage(result.backup), rows: result.rows, files: result.files, cancelledRuns: result.cancelledRuns };
  }

  @GrpcMethod(SERVICE, 'GetBackupStatus')
  async getBackupStatus(_request: object, metadata?: Metadata): Promise<BackupStatus> {
    admin(metadata, 'Reading the backup status');
    const status = await this.backups.status();
    return {
      lastSuccess: status.lastSuccess ? toMessage(status.lastSuccess) : undefined,
      lastFailure: status.lastFailure ? toMessage(status.lastFailure) : undefined,
      nextRun: status.nextRun?.toISOString() ?? '',
      storageUsedBytes: status.storageUsedBytes,
      running: status.running,
      problem: status.problem,
      destination: status.destination,
    };
  }

  @GrpcMethod(SERVICE, 'GetBackupSettings')
  async getBackupSettings(_request: object, metadata?: Metadata): Promise<BackupSettings> {
    admin(metadata, 'Reading the backup settings');
    return this.backups.settings();
  }

  @GrpcMethod(SERVICE, 'UpdateBackupSettings')
  async updateBackupSettings(request: BackupSettings, metadata?: Metadata): Promise<BackupSettings> {
    return this.backups.updateSettings(request, admin(metadata, 'Changing the backup settings'));
  }

  // Read from the call itself, so the destination's pace holds the sender back. Nest lets an
  // error of a guard on such a handler escape unhandled: it checks its caller itself.
  @Public()
  @GrpcStreamCall(SERVICE, 'UploadBackup')
  uploadBackup(call: ServerReadableStream<ArchiveChunk, Backup>, callback: sendUnaryData<Backup>): void {
    const work = async () => {
      const authorization = call.metadata.get('authorization')[0];
      const caller = await this.verifier.verify(authorization ? String(authorization) : undefined);
      requireLevel(caller, 'admin', 'Uploading a backup');
      async function* bytes(): AsyncGenerator<Buffer> {
        for await (const chunk of call as AsyncIterable<ArchiveChunk>) yield Buffer.from(chunk.data);
      }
      return toMessage(await this.backups.upload(Readable.from(bytes()), caller));
    };
    work().then(
      (backup) => callback(null, backup),
      (error: unknown) => {
        if (error instanceof DomainError) return callback(toGrpcError(error) as never);
        rootLogger().error({ err: error }, 'backup upload failed');
        callback({ code: 13, details: 'Internal error' } as never);
      },
    );
  }
}
