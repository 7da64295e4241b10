import { Controller, Delete, Get, HttpCode, Inject, Param, Post, Query, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { firstValueFrom } from 'rxjs';
import type { Session } from '#contracts/generated/scriptorium/execution/v1/execution.js';
import type { Caller } from '#common/auth.js';
import { callMetadata } from '#common/grpc.js';
import { CurrentCaller } from '../auth/current-caller.decorator.js';
import { SessionDirectory } from './session-directory.js';
import type { SessionHosts } from './session-hosts.js';
import { ENTER_PATH } from './session-proxy.js';
import { ApiErrors } from '../error-body.js';
import { SessionDto, SessionEntryDto, SessionListDto } from './session.dto.js';
import { SESSION_HOSTS } from './sessions.tokens.js';

/**
 * Interactive sessions on the product's origin: list (admins: `all=true`), get, close,
 * heartbeat (the tab that shows the session sends one regularly), and entry links.
 */
@ApiTags('sessions')
@ApiBearerAuth()
@Controller('api/v1/sessions')
export class SessionsController {
  constructor(
    private readonly directory: SessionDirectory,
    @Inject(SESSION_HOSTS) private readonly hosts: SessionHosts,
  ) {}

  private view(session: Session, req: Request): SessionDto {
    return {
      id: session.id,
      executionId: session.executionId,
      scriptId: session.scriptId,
      scriptName: session.scriptName,
      userId: session.userId,
      username: session.username,
      state: session.state,
      closedReason: session.closedReason || null,
      executionState: session.executionState,
      createdAt: session.createdAt,
      lastHeartbeatAt: session.lastHeartbeatAt,
      idleDeadline: session.idleDeadline || null,
      closedAt: session.closedAt || null,
      url: this.hosts.urlFor(session.id, req.protocol, req.headers.host),
    };
  }

  /** The caller's open sessions; `all=true` (admins) everyone's, `includeClosed=true` recent closed ones too, `executionId` the one of a run. */
  @Get()
  async list(
    @CurrentCaller() caller: Caller,
    @Req() req: Request,
    @Query('all') all?: string,
    @Query('includeClosed') includeClosed?: string,
    @Query('executionId') executionId?: string,
  ): Promise<SessionListDto> {
    const answer = await firstValueFrom(
      this.directory.client.listSessions(
        { allUsers: all === 'true', includeClosed: includeClosed === 'true' || !!executionId },
        callMetadata(caller.authorization),
      ),
    );
    const sessions = executionId ? answer.sessions.filter((s) => s.executionId === executionId) : answer.sessions;
    return { items: sessions.map((s) => this.view(s, req)) };
  }

  @Get(':id')
  async get(@CurrentCaller() caller: Caller, @Req() req: Request, @Param('id') id: string): Promise<SessionDto> {
    return this.view(await firstValueFrom(this.directory.client.getSession({ sessionId: id }, callMetadata(caller.authorization))), req);
  }

  /** Closes the session and cancels its run. */
  @Delete(':id')
  async close(@CurrentCaller() caller: Caller, @Req() req: Request, @Param('id') id: string): Promise<SessionDto> {
    return this.view(await firstValueFrom(this.directory.client.closeSession({ sessionId: id }, callMetadata(caller.authorization))), req);
  }

  /** Keeps the session alive (send one at least every SESSION_IDLE_SECONDS / 2). */
  @Post(':id/heartbeat')
  @HttpCode(200)
  @ApiErrors({ 409: 'The session is closed' })
  async heartbeat(@CurrentCaller() caller: Caller, @Req() req: Request, @Param('id') id: string): Promise<SessionDto> {
    return this.view(await firstValueFrom(this.directory.client.heartbeatSession({ sessionId: id }, callMetadata(caller.authorization))), req);
  }

  /** A one-time link (valid 60 s) that opens the session in the browser and signs it in for that session's host only. */
  @Post(':id/entry')
  @ApiErrors({ 409: 'The session is closed' })
  async entry(@CurrentCaller() caller: Caller, @Req() req: Request, @Param('id') id: string): Promise<SessionEntryDto> {
    const entry = await firstValueFrom(this.directory.client.createSessionEntry({ sessionId: id }, callMetadata(caller.authorization)));
    const base = this.hosts.urlFor(entry.sessionId, req.protocol, req.headers.host);
    return { url: `${base.slice(0, -1)}${ENTER_PATH}?token=${encodeURIComponent(entry.token)}`, expiresAt: entry.expiresAt };
  }
}
