import { Type } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsBoolean, IsIn, IsInt, IsOptional, IsString, IsUUID, Matches, Max, MaxLength, Min } from 'class-validator';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

// Request and response shapes of /api/v1/logs. Responses mirror logging's gRPC messages
// (LoggingService), so a handler returns the message itself and the compiler checks the fit.

const STREAMS_MESSAGE = 'streams is a comma-separated list of stdout, stderr, system (e.g. streams=stderr,system)';
const STREAMS = /^(stdout|stderr|system)(,(stdout|stderr|system))*$/;
const FORMAT_MESSAGE = 'format must be text, jsonl or csv';

/** Which runs: your own unless an admin names a user or asks for everyone's. */
export class LogFilterQuery {
  /** Admins: this user's runs. */
  @IsOptional() @IsUUID('all', { message: 'userId must be a user id (UUID)' })
  userId?: string;

  /** Admins: everyone's runs. */
  @IsOptional() @Type(() => Boolean) @IsBoolean()
  allUsers?: boolean;

  @IsOptional() @IsString() @MaxLength(300)
  scriptId?: string;

  @IsOptional() @IsString() @MaxLength(100)
  groupId?: string;

  @IsOptional() @IsString() @MaxLength(64)
  projectId?: string;

  /** Comma-separated run states, e.g. failed,timed_out */
  @IsOptional() @IsString() @MaxLength(200)
  states?: string;

  /** Runs created at or after this ISO 8601 date or time. */
  @IsOptional() @IsString() @MaxLength(40)
  from?: string;

  /** Runs created before this ISO 8601 date or time. */
  @IsOptional() @IsString() @MaxLength(40)
  to?: string;

  @IsOptional() @Type(() => Number) @IsInt() @Min(0)
  minDurationMs?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(0)
  maxDurationMs?: number;
}

export class SearchLogsQuery extends LogFilterQuery {
  /** Words (all must match), "a phrase", a OR b, -word to leave out. */
  @IsString({ message: 'q is the text to find, e.g. q=timeout "connection refused"' }) @MaxLength(500)
  q: string;

  /** Only lines of these streams (comma-separated stdout, stderr, system). */
  @IsOptional() @Matches(STREAMS, { message: STREAMS_MESSAGE })
  streams?: string;

  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(100)
  pageSize?: number;

  @IsOptional() @IsString() @MaxLength(500)
  pageToken?: string;

  /** Answer by then with what was found (marked partial); at most the server's limit. */
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(60_000)
  timeLimitMs?: number;
}

export class SearchLogQuery {
  @IsString({ message: 'q is the text to find in this log' }) @MaxLength(500)
  q: string;

  @IsOptional() @Matches(STREAMS, { message: STREAMS_MESSAGE })
  streams?: string;

  @IsOptional() @Type(() => Number) @IsInt() @Min(0)
  after?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(1000)
  limit?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(60_000)
  timeLimitMs?: number;
}

export class ReadLogQuery {
  @IsOptional() @Type(() => Number) @IsInt({ message: 'after must be a line sequence number' }) @Min(0)
  after?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(10_000)
  limit?: number;

  /** Only lines of these streams: stdout (Output), stderr (Errors), system (the platform's messages). */
  @IsOptional() @Matches(STREAMS, { message: STREAMS_MESSAGE })
  streams?: string;
}

export class ExportLogQuery {
  /** text (default), jsonl or csv. Validated by the logging service, which says how to ask. */
  @IsOptional() @IsString({ message: FORMAT_MESSAGE }) @MaxLength(20)
  format?: string;

  @IsOptional() @Matches(STREAMS, { message: STREAMS_MESSAGE })
  streams?: string;
}

export class ExportLogsQuery extends LogFilterQuery {
  /** The format of each log in the tar.gz: text (default), jsonl or csv. */
  @IsOptional() @IsString({ message: FORMAT_MESSAGE }) @MaxLength(20)
  format?: string;

  @IsOptional() @Type(() => Number) @IsInt() @Min(1)
  maxRuns?: number;
}

export class StatisticsQuery {
  /** Admins: this user's statistics. */
  @IsOptional() @IsUUID('all', { message: 'userId must be a user id (UUID)' })
  userId?: string;

  /** Admins: the whole system's. */
  @IsOptional() @Type(() => Boolean) @IsBoolean()
  allUsers?: boolean;

  @IsOptional() @IsString() @MaxLength(40)
  from?: string;

  @IsOptional() @IsString() @MaxLength(40)
  to?: string;
}

export class SetRetentionPolicyDto {
  /** level: runs of users of that level; group: runs of that script group's scripts. */
  @IsIn(['level', 'group'], { message: 'scope must be level or group' })
  scope: 'level' | 'group';

  /** A level (viewer, operator, developer, admin) or a script group id. */
  @IsString() @MaxLength(100)
  target: string;

  /** Delete logs of finished runs older than this many days (at least 1). */
  @IsOptional() @IsInt() @Min(1, { message: 'keepDays must be at least 1: 0 would delete every log the policy covers' })
  keepDays?: number;

  /** Keep the newest N finished runs' logs per user and script (at least 1). */
  @IsOptional() @IsInt() @Min(1, { message: 'maxRunsPerScript must be at least 1: 0 would delete every log the policy covers' })
  maxRunsPerScript?: number;

  /** Keep a user's newest logs up to this many bytes (at least 1). */
  @IsOptional() @IsInt() @Min(1, { message: 'maxBytesPerUser must be at least 1: 0 would delete every log the policy covers' })
  maxBytesPerUser?: number;
}

export class CleanupDto {
  /** List what would be deleted, delete nothing. */
  @IsOptional() @IsBoolean()
  dryRun?: boolean;
}

export class DeleteLogsDto {
  /** These runs' logs (finished, and yours unless you are an admin). */
  @IsOptional() @IsArray() @ArrayMaxSize(1000) @IsUUID('all', { each: true, message: 'executionIds must be execution ids (UUIDs)' })
  executionIds?: string[];

  /** With allFinished: every finished run of this user (admins), or yours when absent. */
  @IsOptional() @IsUUID('all', { message: 'userId must be a user id (UUID)' })
  userId?: string;

  @IsOptional() @IsBoolean()
  allFinished?: boolean;
}

export class LogLineDto {
  @ApiProperty({ type: 'integer' }) sequence: number;
  @ApiProperty({ enum: ['stdout', 'stderr', 'system'] }) stream: string;
  text: string;
  @ApiProperty({ format: 'date-time' }) timestamp: string;
}

export class LogDeletionDto {
  @ApiProperty({ format: 'date-time' }) deletedAt: string;
  reason: string;
  /** Empty for a retention sweep. */
  deletedBy: string;
}

export class LogLinesDto {
  executionId: string;
  @ApiProperty({ type: [LogLineDto] }) lines: LogLineDto[];
  complete: boolean;
  /** Every line up to this sequence was considered: pass it as `after` for the next page. */
  @ApiProperty({ type: 'integer' }) throughSequence: number;
  /** Set when the log was deleted. */
  @ApiPropertyOptional({ type: LogDeletionDto }) deletion?: LogDeletionDto;
}

export class RunContextDto {
  executionId: string;
  userId: string;
  username: string;
  scriptId: string;
  scriptName: string;
  groupId: string;
  projectId: string;
  projectName: string;
  /** The parameters as JSON, secrets masked. */
  parametersJson: string;
  state: string;
  @ApiPropertyOptional({ type: 'integer' }) exitCode?: number;
  createdAt: string;
  /** Empty until started. */
  startedAt: string;
  finishedAt: string;
  @ApiPropertyOptional({ type: 'integer' }) durationMs?: number;
}

export class RunLogDto {
  @ApiPropertyOptional({ type: RunContextDto }) run?: RunContextDto;
  @ApiProperty({ type: 'integer' }) lineCount: number;
  @ApiProperty({ type: 'integer' }) storedBytes: number;
  complete: boolean;
  @ApiPropertyOptional({ type: LogDeletionDto }) deletion?: LogDeletionDto;
}

export class HighlightDto {
  /** Offsets in the text (UTF-16 code units, as JavaScript strings count). */
  @ApiProperty({ type: 'integer' }) start: number;
  @ApiProperty({ type: 'integer' }) end: number;
}

export class LineMatchDto {
  @ApiProperty({ type: 'integer' }) sequence: number;
  stream: string;
  text: string;
  @ApiProperty({ type: [HighlightDto] }) highlights: HighlightDto[];
}

export class SearchHitDto {
  @ApiPropertyOptional({ type: RunContextDto }) run?: RunContextDto;
  metadataMatched: boolean;
  @ApiProperty({ type: [LineMatchDto] }) snippets: LineMatchDto[];
  @ApiProperty({ type: [Number] }) matchingLines: number[];
  moreLines: boolean;
}

export class SearchLogsResponseDto {
  @ApiProperty({ type: [SearchHitDto] }) hits: SearchHitDto[];
  /** Empty when every run was looked at. */
  nextPageToken: string;
  /** The time limit ended the search early: continue with nextPageToken. */
  partial: boolean;
}

export class SearchLogResponseDto {
  @ApiProperty({ type: [LineMatchDto] }) matches: LineMatchDto[];
  /** Pass as `after` to continue; 0 when the whole log was searched. */
  @ApiProperty({ type: 'integer' }) nextAfterSequence: number;
  partial: boolean;
}

export class ScriptUsageDto {
  scriptId: string;
  @ApiProperty({ type: 'integer' }) runs: number;
  @ApiProperty({ type: 'integer' }) succeeded: number;
  @ApiProperty({ type: 'integer' }) totalDurationMs: number;
}

export class ProjectUsageDto {
  projectId: string;
  projectName: string;
  @ApiProperty({ type: 'integer' }) runs: number;
}

export class DayCountDto {
  /** YYYY-MM-DD (UTC) */
  day: string;
  @ApiProperty({ type: 'integer' }) runs: number;
  @ApiProperty({ type: 'integer' }) succeeded: number;
  @ApiProperty({ type: 'integer' }) failed: number;
}

export class LogStatisticsDto {
  @ApiProperty({ type: 'integer' }) runs: number;
  @ApiProperty({ type: 'integer' }) succeeded: number;
  @ApiProperty({ type: 'integer' }) failed: number;
  /** succeeded / finished runs, 0..1 */
  successRate: number;
  @ApiProperty({ type: 'integer' }) totalDurationMs: number;
  @ApiProperty({ type: 'integer' }) storedBytes: number;
  @ApiProperty({ type: 'integer' }) storedLines: number;
  @ApiProperty({ type: [ScriptUsageDto] }) scripts: ScriptUsageDto[];
  @ApiProperty({ type: [ProjectUsageDto] }) projects: ProjectUsageDto[];
  @ApiProperty({ type: [DayCountDto] }) runsPerDay: DayCountDto[];
  @ApiProperty({ type: 'integer' }) users: number;
}

export class RetentionPolicyDto {
  id: string;
  @ApiProperty({ enum: ['level', 'group'] }) scope: string;
  target: string;
  @ApiPropertyOptional({ type: 'integer' }) keepDays?: number;
  @ApiPropertyOptional({ type: 'integer' }) maxRunsPerScript?: number;
  @ApiPropertyOptional({ type: 'integer' }) maxBytesPerUser?: number;
  updatedAt: string;
  updatedBy: string;
}

export class RetentionPoliciesDto {
  @ApiProperty({ type: [RetentionPolicyDto] }) policies: RetentionPolicyDto[];
}

export class CleanupItemDto {
  executionId: string;
  userId: string;
  scriptId: string;
  reason: string;
  @ApiProperty({ type: 'integer' }) storedBytes: number;
  createdAt: string;
}

export class CleanupReportDto {
  dryRun: boolean;
  @ApiProperty({ type: 'integer' }) runs: number;
  @ApiProperty({ type: 'integer' }) bytes: number;
  @ApiProperty({ type: [CleanupItemDto] }) items: CleanupItemDto[];
  truncated: boolean;
  /** Another replica was sweeping: nothing was done here. */
  skipped: boolean;
}

export class DeletedLogsDto {
  @ApiProperty({ type: [String] }) executionIds: string[];
}
