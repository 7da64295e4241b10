import { ApiProperty } from '@nestjs/swagger';
import { EXECUTION_STATES } from '#contracts/execution-states.js';

/** An interactive session as the REST API shows it: its URL on its own host, never a port of the script. */
export class SessionDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) executionId: string;
  scriptId: string;
  scriptName: string;
  @ApiProperty({ format: 'uuid' }) userId: string;
  username: string;
  @ApiProperty({ enum: ['open', 'closed'] }) state: string;
  /** Why it closed (idle, closed by a user, its run ended); null while open. */
  @ApiProperty({ type: String, nullable: true }) closedReason: string | null;
  @ApiProperty({ enum: EXECUTION_STATES, enumName: 'ExecutionState' }) executionState: string;
  @ApiProperty({ format: 'date-time' }) createdAt: string;
  @ApiProperty({ format: 'date-time' }) lastHeartbeatAt: string;
  /** When it will be closed unless a heartbeat arrives; null once closed. */
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) idleDeadline: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) closedAt: string | null;
  /** The session's own origin (open it with an entry link: POST /api/v1/sessions/{id}/entry). */
  url: string;
}

export class SessionListDto {
  items: SessionDto[];
}

export class SessionEntryDto {
  /** Opens the session in a browser once, within 60 s, and signs it in for that session's host only. */
  url: string;
  @ApiProperty({ format: 'date-time' }) expiresAt: string;
}
