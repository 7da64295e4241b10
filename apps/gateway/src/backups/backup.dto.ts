import { ApiExtraModels, ApiProperty, ApiPropertyOptional, getSchemaPath } from '@nestjs/swagger';
import type { Backup, BackupStatus } from '#contracts/generated/scriptorium/backup/v1/backup.js';

// The REST shapes of backups; the views below build them from the gRPC messages.

export class BackupManifestPartDto {
  /** Entry in the archive, e.g. services/auth.jsonl.gz.enc */
  name: string;
  @ApiProperty({ type: 'integer' }) size: number;
  sha256: string;
  /** Present when the part is encrypted (AES-256-GCM). */
  iv?: string;
  authTag?: string;
}

export class BackupManifestServiceDto {
  schema: string;
  /** Migrations applied when the backup was taken, oldest first: the schema version. */
  migrations: string[];
  part: string;
  filesPart?: string;
  excludedTables: string[];
}

export class BackupEncryptionDto {
  @ApiProperty({ enum: ['aes-256-gcm'] }) cipher: string;
  @ApiProperty({ enum: ['scrypt'] }) kdf: string;
  salt: string;
  /** An HMAC of a constant with the archive key: tells a wrong key from damaged data. */
  keyCheck: string;
}

@ApiExtraModels(BackupManifestServiceDto)
export class BackupManifestDto {
  format: string;
  @ApiProperty({ type: 'integer' }) formatVersion: number;
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'date-time' }) createdAt: string;
  productVersion: string;
  encryption: BackupEncryptionDto;
  @ApiProperty({ type: 'object', additionalProperties: { $ref: getSchemaPath(BackupManifestServiceDto) } }) services: Record<string, BackupManifestServiceDto>;
  parts: BackupManifestPartDto[];
}

export class BackupDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ enum: ['running', 'succeeded', 'failed'] }) state: string;
  @ApiProperty({ enum: ['manual', 'scheduled', 'uploaded', 'found'] }) trigger: string;
  @ApiProperty({ format: 'date-time' }) createdAt: string;
  @ApiProperty({ format: 'date-time', nullable: true }) finishedAt: string | null;
  @ApiProperty({ type: 'integer' }) sizeBytes: number;
  /** The archive's name in the destination. */
  location: string;
  /** Why it failed; empty otherwise. */
  error: string;
  requestedBy: string;
  @ApiProperty({ format: 'date-time', nullable: true }) verifiedAt: string | null;
  /** Empty when the last verification passed. */
  verifyError: string;
  @ApiPropertyOptional({ type: BackupManifestDto, nullable: true }) manifest: BackupManifestDto | null;
}

export class BackupListDto {
  items: BackupDto[];
}

export class BackupStatusDto {
  @ApiProperty({ type: BackupDto, nullable: true }) lastSuccess: BackupDto | null;
  @ApiProperty({ type: BackupDto, nullable: true }) lastFailure: BackupDto | null;
  @ApiProperty({ format: 'date-time', nullable: true, description: 'Null when no schedule is set' }) nextRun: string | null;
  @ApiProperty({ type: 'integer' }) storageUsedBytes: number;
  /** A backup or restore is running now. */
  running: boolean;
  /** Why backups cannot run (e.g. no encryption key); empty when they can. */
  problem: string;
  destination: string;
}

export class BackupSettingsDto {
  /** Cron expression (5 or 6 fields) in timeZone, or "off". */
  schedule: string;
  timeZone: string;
  /** Keep the newest N backups (0 = no count limit). */
  @ApiProperty({ type: 'integer' }) keepLast: number;
  /** Keep backups younger than N days (0 = no age limit). */
  @ApiProperty({ type: 'integer' }) keepDays: number;
}

export class RestoreResultDto {
  backup: BackupDto;
  /** Rows written per table, e.g. { "auth.users": 3 }. */
  @ApiProperty({ type: 'object', additionalProperties: { type: 'integer' } }) rows: Record<string, number>;
  /** Project files written. */
  @ApiProperty({ type: 'integer' }) files: number;
  /** Runs that were active and were cancelled before the restore. */
  @ApiProperty({ type: 'integer' }) cancelledRuns: number;
}

export class RestoreProjectFilesResultDto {
  /** Files the project's folder holds now. */
  @ApiProperty({ type: 'integer' }) files: number;
}

export function backupView(b: Backup): BackupDto {
  return {
    id: b.id,
    state: b.state,
    trigger: b.trigger,
    createdAt: b.createdAt,
    finishedAt: b.finishedAt || null,
    sizeBytes: b.sizeBytes,
    location: b.location,
    error: b.error,
    requestedBy: b.requestedBy,
    verifiedAt: b.verifiedAt || null,
    verifyError: b.verifyError,
    manifest: b.manifestJson ? (JSON.parse(b.manifestJson) as BackupManifestDto) : null,
  };
}

export function statusView(s: BackupStatus): BackupStatusDto {
  return {
    lastSuccess: s.lastSuccess ? backupView(s.lastSuccess) : null,
    lastFailure: s.lastFailure ? backupView(s.lastFailure) : null,
    nextRun: s.nextRun || null,
    storageUsedBytes: s.storageUsedBytes,
    running: s.running,
    problem: s.problem,
    destination: s.destination,
  };
}
