import { ApiProperty } from '@nestjs/swagger';
import { ExecutionDto } from '../executions/execution.dto.js';
import { CODE_LANGUAGES } from './dto.js';

export class CodeSessionDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) userId: string;
  username: string;
  name: string;
  @ApiProperty({ enum: CODE_LANGUAGES, enumName: 'CodeLanguage' }) language: string;
  source: string;
  /** Increases with every save; send it back as `baseVersion`. */
  @ApiProperty({ type: 'integer' }) version: number;
  /** The project whose data directory runs get; null: the owner's code-sessions default project. */
  @ApiProperty({ type: String, format: 'uuid', nullable: true }) projectId: string | null;
  /** 0: the default. */
  @ApiProperty({ type: 'integer' }) timeoutSeconds: number;
  /** The run still queued or running, null when none. */
  @ApiProperty({ type: String, format: 'uuid', nullable: true }) activeExecutionId: string | null;
  @ApiProperty({ format: 'date-time' }) createdAt: string;
  @ApiProperty({ format: 'date-time' }) updatedAt: string;
}

export class CodeSessionListDto {
  items: CodeSessionDto[];
}

/** 409 of an autosave based on an older version: what is saved now, to reload or overwrite. */
export class CodeSessionConflictDto {
  @ApiProperty({ example: 409 }) statusCode: number;
  error: string;
  message: string;
  @ApiProperty({ type: 'integer' }) currentVersion: number;
  current: CodeSessionDto;
  requestId: string;
}

export class CodeSessionRunsDto {
  /** Newest first. */
  items: ExecutionDto[];
}
