import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Matches, Max, Min, MinLength, Validate, ValidateIf, type ValidatorConstraintInterface, ValidatorConstraint } from 'class-validator';
import { Cron } from 'croner';
import { ServiceConfig } from '#common/config.js';

@ValidatorConstraint({ name: 'cron' })
class IsCronExpression implements ValidatorConstraintInterface {
  validate(value: unknown) {
    if (value === 'off') return true;
    try {
      new Cron(String(value), { paused: true }).stop();
      return true;
    } catch {
      return false;
    }
  }
  defaultMessage() {
    return 'BACKUP_SCHEDULE must be a cron expression, e.g. "0 2 * * *" (daily at 02:00), or off for no schedule';
  }
}

@ValidatorConstraint({ name: 'timeZone' })
class IsTimeZone implements ValidatorConstraintInterface {
  validate(value: unknown) {
    try {
      new Intl.DateTimeFormat('en', { timeZone: String(value) });
      return true;
    } catch {
      return false;
    }
  }
  defaultMessage() {
    return 'BACKUP_TIME_ZONE must be an IANA time zone, e.g. UTC or Europe/Rome';
  }
}

export class BackupConfig extends ServiceConfig {
  GRPC_LISTEN = '0.0.0.0:50055';
  HTTP_PORT = 8085;

  /**
   * Encrypts each service's data in an archive (AES-256-GCM, key derived with scrypt and a salt
   * per archive). Never stored anywhere by the product. Unset: the service runs, but creating,
   * verifying and restoring backups are refused with a message saying to set it.
   */
  @IsOptional()
  @MinLength(16, { message: 'BACKUP_ENCRYPTION_KEY must be at least 16 characters (e.g. openssl rand -base64 32)' })
  BACKUP_ENCRYPTION_KEY?: string;

  @IsIn(['directory', 's3'], { message: 'BACKUP_DESTINATION must be "directory" or "s3"' })
  BACKUP_DESTINATION = 'directory';

  /** Where archives are written (BACKUP_DESTINATION=directory), and where restores stage their download. */
  @IsString({ message: 'BACKUP_DIR must be a folder path' })
  BACKUP_DIR = '.data/backups';

  // S3-compatible object storage (BACKUP_DESTINATION=s3).
  /** Required when BACKUP_DESTINATION=s3. */
  @ValidateIf((config: BackupConfig) => config.BACKUP_DESTINATION === 's3' || config.BACKUP_S3_BUCKET !== undefined)
  @Matches(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, { message: 'BACKUP_S3_BUCKET must be a bucket name' })
  BACKUP_S3_BUCKET?: string;
  @IsOptional() @IsString()
  BACKUP_S3_PREFIX = 'scriptorium/';
  /** For S3-compatible servers (MinIO, Ceph…): their URL; unset = AWS. */
  @IsOptional() @Matches(/^https?:\/\/.+/, { message: 'BACKUP_S3_ENDPOINT_URL must be an http(s):// URL' })
  BACKUP_S3_ENDPOINT_URL?: string;
  @IsString()
  BACKUP_S3_REGION = 'us-east-1';
  @IsOptional() @IsString()
  BACKUP_S3_ACCESS_KEY_ID?: string;
  @IsOptional() @IsString()
  BACKUP_S3_SECRET_ACCESS_KEY?: string;
  @IsIn(['true', 'false'], { message: 'BACKUP_S3_FORCE_PATH_STYLE must be true or false' })
  BACKUP_S3_FORCE_PATH_STYLE = 'true';
  /** Parts of a multipart upload, in MiB (at least 5, S3's minimum). */
  @Type(() => Number)
  @IsInt() @Min(5, { message: 'BACKUP_S3_PART_SIZE_MB must be at least 5' }) @Max(5120)
  BACKUP_S3_PART_SIZE_MB = 16;

  /** Defaults of the schedule and retention until an admin changes them (then the stored settings win). */
  @Validate(IsCronExpression)
  BACKUP_SCHEDULE = '0 2 * * *';
  @Validate(IsTimeZone)
  BACKUP_TIME_ZONE = 'UTC';
  @Type(() => Number)
  @IsInt() @Min(0, { message: 'BACKUP_KEEP_LAST must be 0 (no limit) or more' })
  BACKUP_KEEP_LAST = 7;
  @Type(() => Number)
  @IsInt() @Min(0, { message: 'BACKUP_KEEP_DAYS must be 0 (no limit) or more' })
  BACKUP_KEEP_DAYS = 0;
}
