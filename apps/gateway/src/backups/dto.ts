import { IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';

export class RestoreBackupDto {
  /** Repeat the backup's id: restoring replaces every user, run, log, edit, tag, project and project file. */
  @IsString({ message: 'confirm must be a string: the id of the backup to restore' })
  @MaxLength(64)
  confirm: string;
}

export class RestoreProjectFilesDto {
  /** The project whose data folder is put back as the backup has it. */
  @IsString({ message: 'projectId must be the id of a project (GET /api/v1/projects)' })
  @MaxLength(64)
  projectId: string;
}

export class UpdateBackupSettingsDto {
  /** Cron expression, e.g. "0 2 * * *" (daily at 02:00), or "off". */
  @IsString({ message: 'schedule must be a cron expression such as "0 2 * * *", or "off"' })
  @MaxLength(100)
  schedule: string;

  /** IANA time zone of the schedule, e.g. Europe/Rome. */
  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z0-9_+\-/]{1,64}$/, { message: 'timeZone must be an IANA time zone such as UTC or Europe/Rome' })
  timeZone?: string;

  @IsInt({ message: 'keepLast must be a whole number (0 = no count limit)' })
  @Min(0, { message: 'keepLast must be 0 or more' })
  @Max(10000)
  keepLast: number;

  @IsInt({ message: 'keepDays must be a whole number (0 = no age limit)' })
  @Min(0, { message: 'keepDays must be 0 or more' })
  @Max(36500)
  keepDays: number;
}
