import { ApiProperty } from '@nestjs/swagger';
import { EXECUTION_STATES, type ExecutionState } from '#contracts/execution-states.js';

// The REST shapes of a run. executionView builds them from the gRPC message, so the compiler checks
// both ends; the swagger plugin reads the types, the decorators add what types cannot say.

export class StateTransitionDto {
  @ApiProperty({ enum: EXECUTION_STATES, enumName: 'ExecutionState', description: 'Empty for the first transition' }) fromState: ExecutionState | '';
  @ApiProperty({ enum: EXECUTION_STATES, enumName: 'ExecutionState' }) toState: ExecutionState;
  reason: string;
  @ApiProperty({ format: 'date-time' }) at: string;
}

export class ExecutionDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  /** `<group>/<file>` */
  scriptId: string;
  groupId: string;
  @ApiProperty({ format: 'uuid' }) userId: string;
  username: string;
  @ApiProperty({ enum: EXECUTION_STATES, enumName: 'ExecutionState' }) state: ExecutionState;
  stateReason: string;
  /** Parameters as given, with secrets masked. */
  parameters: Record<string, unknown>;
  /** What the script reported with `::result`, null when nothing. */
  @ApiProperty({ nullable: true, description: 'Any JSON value' }) result: unknown;
  @ApiProperty({ type: 'integer', nullable: true }) exitCode: number | null;
  @ApiProperty({ format: 'date-time' }) createdAt: string;
  @ApiProperty({ format: 'date-time', nullable: true }) startedAt: string | null;
  @ApiProperty({ format: 'date-time', nullable: true }) finishedAt: string | null;
  @ApiProperty({ type: 'integer' }) durationMs: number;
  /** 0 to 100 */
  progress: number;
  progressMessage: string;
  error: string;
  projectId: string;
  scriptName: string;
  /** 1-based place in the queue while queued, 0 otherwise. */
  @ApiProperty({ type: 'integer' }) queuePosition: number;
  /** The run this one re-runs, empty for a first run. */
  rerunOf: string;
  /** Every state change (GET /executions/{id} only; empty in lists). */
  transitions: StateTransitionDto[];
}

export class ExecutionPageDto {
  items: ExecutionDto[];
  @ApiProperty({ type: String, nullable: true, description: 'Pass as pageToken for the next page; null on the last' }) nextPageToken: string | null;
}

export class LogLineDto {
  /** 1-based, gap-free per execution. */
  @ApiProperty({ type: 'integer' }) sequence: number;
  @ApiProperty({ enum: ['stdout', 'stderr', 'system'] }) stream: string;
  text: string;
  @ApiProperty({ format: 'date-time' }) timestamp: string;
}

export class LogPageDto {
  @ApiProperty({ format: 'uuid' }) executionId: string;
  lines: LogLineDto[];
  /** True when the run has finished and these are its last lines. */
  complete: boolean;
}
