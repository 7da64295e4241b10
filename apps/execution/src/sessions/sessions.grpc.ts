import { Controller } from '@nestjs/common';
import type { Metadata } from '@grpc/grpc-js';
import {
  SessionServiceControllerMethods,
  type CloseSessionRequest,
  type CreateSessionEntryRequest,
  type GetSessionRequest,
  type HeartbeatSessionRequest,
  type ListSessionsRequest,
  type ListSessionsResponse,
  type RedeemSessionEntryRequest,
  type ResolveSessionUpstreamRequest,
  type Session,
  type SessionCredential,
  type SessionEntry,
  type SessionServiceController,
  type SessionUpstream,
} from '#contracts/generated/scriptorium/execution/v1/execution.js';
import { callerOf, Public } from '#common/auth.js';
import type { SessionRow } from './sessions.repository.js';
import { SessionsService } from './sessions.service.js';

const iso = (value: Date | string | null) => (value ? new Date(value).toISOString() : '');

/** The session as callers see it: no upstream address (no port) ever. */
export function toSessionMessage(row: SessionRow, idleDeadline: Date | null): Session {
  return {
    id: row.id,
    executionId: row.executionId,
    scriptId: row.scriptId,
    scriptName: row.scriptName,
    userId: row.userId,
    username: row.username,
    state: row.state,
    closedReason: row.closedReason,
    executionState: row.executionState,
    createdAt: iso(row.createdAt),
    lastHeartbeatAt: iso(row.lastHeartbeatAt),
    idleDeadline: iso(idleDeadline),
    closedAt: iso(row.closedAt),
  };
}

@Controller()
@SessionServiceControllerMethods()
export class SessionsGrpcController implements SessionServiceController {
  constructor(private readonly sessions: SessionsService) {}

  private message(row: SessionRow): Session {
    return toSessionMessage(row, this.sessions.idleDeadline(row));
  }

  async listSessions(request: ListSessionsRequest, metadata?: Metadata): Promise<ListSessionsResponse> {
    const rows = await this.sessions.list(callerOf(metadata), request);
    return { sessions: rows.map((row) => this.message(row)) };
  }

  async getSession(request: GetSessionRequest, metadata?: Metadata): Promise<Session> {
    return this.message(await this.sessions.get(callerOf(metadata), request.sessionId));
  }

  async closeSession(request: CloseSessionRequest, metadata?: Metadata): Promise<Session> {
    return this.message(await this.sessions.close(callerOf(metadata), request.sessionId));
  }

  async heartbeatSession(request: HeartbeatSessionRequest, metadata?: Metadata): Promise<Session> {
    return this.message(await this.sessions.heartbeat(callerOf(metadata), request.sessionId));
  }

  async createSessionEntry(request: CreateSessionEntryRequest, metadata?: Metadata): Promise<SessionEntry> {
    const entry = await this.sessions.createEntry(callerOf(metadata), request.sessionId);
    return { sessionId: request.sessionId, token: entry.token, expiresAt: entry.expiresAt.toISOString() };
  }

  /** The entry token is the credential (the gateway calls this for a browser that holds no access token). */
  @Public()
  async redeemSessionEntry(request: RedeemSessionEntryRequest): Promise<SessionCredential> {
    const { credential, maxAgeSeconds } = await this.sessions.redeemEntry(request.sessionId, request.token);
    return { sessionId: request.sessionId, credential, maxAgeSeconds };
  }

  /** The browser credential is the credential; the answer goes only to the gateway's proxy. */
  @Public()
  async resolveSessionUpstream(request: ResolveSessionUpstreamRequest): Promise<SessionUpstream> {
    const { upstream, userId } = await this.sessions.resolveUpstream(request.sessionId, request.credential);
    return { sessionId: request.sessionId, upstream, userId };
  }
}
