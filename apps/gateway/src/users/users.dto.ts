import { ApiProperty } from '@nestjs/swagger';
import { UserDto } from '../auth/auth.dto.js';

export class UserPageDto {
  items: UserDto[];
  @ApiProperty({ type: String, nullable: true, description: 'Pass as pageToken for the next page; null on the last' }) nextPageToken: string | null;
  /** How many accounts match, over every page. */
  @ApiProperty({ type: 'integer' }) total: number;
}

export class UnlockedUserDto {
  user: UserDto;
  /** Whether the account was locked when unlocked. */
  wasLocked: boolean;
}

export class AuditEventDto {
  /** The recording service's event id. */
  id: string;
  @ApiProperty({ format: 'date-time' }) occurredAt: string;
  /** Dotted name, e.g. auth.login, user.created, api_token.created. */
  action: string;
  @ApiProperty({ enum: ['success', 'failure'] }) outcome: string;
  /** Empty for an anonymous caller (e.g. a failed sign-in of an unknown user). */
  actorId: string;
  actorUsername: string;
  targetType: string;
  targetId: string;
  targetName: string;
  /** The caller's address. */
  ip: string;
  /** The service that recorded the action (auth, catalog, …). */
  service: string;
  /** The action's details (changed fields, reasons). */
  details: Record<string, unknown>;
}

export class AuditPageDto {
  items: AuditEventDto[];
  @ApiProperty({ type: String, nullable: true, description: 'Pass as pageToken for the next page; null on the last' }) nextPageToken: string | null;
}
