import { Body, Controller, Delete, Get, Headers, HttpCode, Inject, Param, Patch, Post, Query, Res, type OnModuleInit } from '@nestjs/common';
import type { ClientGrpc } from '@nestjs/microservices';
import { status as GrpcStatus } from '@grpc/grpc-js';
import type { Response } from 'express';
import { firstValueFrom } from 'rxjs';
import type { CodeSession, CodeSessionServiceClient } from '#contracts/generated/scriptorium/execution/v1/execution.js';
import type { Caller } from '#common/auth.js';
import { callMetadata, grpcClientToken } from '#common/grpc.js';
import { currentRequestId } from '#common/request-context.js';
import { CurrentCaller } from '../auth/current-caller.decorator.js';
import { executionView } from '../executions/execution-view.js';
import { CodeSessionHistoryQuery, CreateCodeSessionDto, ExecuteCodeSessionDto, ListCodeSessionsQuery, UpdateCodeSessionDto } from './dto.js';

const sessionView = (s: CodeSession) => ({ ...s, projectId: s.projectId || null, activeExecutionId: s.activeExecutionId || null });

/**
 * Code sessions (level developer): source in python, bash or javascript, autosaved with
 * optimistic locking (PATCH carries `baseVersion`; a stale save answers 409 with the
 * current version), executed as runs (one active run per session) with their history.
 * Someone else's session answers 404 (admins see every session).
 */
@Controller('api/v1/code-sessions')
export class CodeSessionsController implements OnModuleInit {
  private sessions: CodeSessionServiceClient;

  constructor(@Inject(grpcClientToken('execution')) private readonly client: ClientGrpc) {}

  onModuleInit() {
    this.sessions = this.client.getService<CodeSessionServiceClient>('CodeSessionService');
  }

  @Post()
  @HttpCode(201)
  async create(@CurrentCaller() caller: Caller, @Body() body: CreateCodeSessionDto) {
    const session = await firstValueFrom(
      this.sessions.createCodeSession(
        { name: body.name, language: body.language, source: body.source ?? '', projectId: body.projectId ?? '', timeoutSeconds: body.timeoutSeconds ?? 0 },
        callMetadata(caller.authorization),
      ),
    );
    return sessionView(session);
  }

  @Get()
  async list(@CurrentCaller() caller: Caller, @Query() query: ListCodeSessionsQuery) {
    const res = await firstValueFrom(this.sessions.listCodeSessions({ allUsers: query.allUsers ?? false }, callMetadata(caller.authorization)));
    return { items: res.codeSessions.map(sessionView) };
  }

  @Get(':id')
  async get(@CurrentCaller() caller: Caller, @Param('id') id: string) {
    return sessionView(await firstValueFrom(this.sessions.getCodeSession({ codeSessionId: id }, callMetadata(caller.authorization))));
  }

  /** Autosave. 409 `{currentVersion, current}` when the session was saved since `baseVersion`. */
  @Patch(':id')
  async update(@CurrentCaller() caller: Caller, @Param('id') id: string, @Body() body: UpdateCodeSessionDto, @Res({ passthrough: true }) res: Response) {
    const metadata = callMetadata(caller.authorization);
    try {
      const saved = await firstValueFrom(
        this.sessions.updateCodeSession(
          { codeSessionId: id, baseVersion: body.baseVersion, source: body.source, name: body.name, language: body.language, timeoutSeconds: body.timeoutSeconds },
          metadata,
        ),
      );
      return sessionView(saved);
    } catch (error) {
      const e = error as { code?: number; details?: string };
      if (e?.code !== GrpcStatus.ABORTED) throw error;
      const current = await firstValueFrom(this.sessions.getCodeSession({ codeSessionId: id }, callMetadata(caller.authorization)));
      res.status(409);
      return { statusCode: 409, error: 'Conflict', message: e.details, currentVersion: current.version, current: sessionView(current), requestId: currentRequestId() };
    }
  }

  /** 409 while the session has an active run. */
  @Delete(':id')
  @HttpCode(204)
  async delete(@CurrentCaller() caller: Caller, @Param('id') id: string) {
    await firstValueFrom(this.sessions.deleteCodeSession({ codeSessionId: id }, callMetadata(caller.authorization)));
  }

  /** Runs the saved source; 409 naming the active run when one is still queued or running. Send `Idempotency-Key` to make retries safe. */
  @Post(':id/execute')
  @HttpCode(202)
  async execute(@CurrentCaller() caller: Caller, @Param('id') id: string, @Body() body: ExecuteCodeSessionDto, @Headers('idempotency-key') idempotencyKey = '') {
    const execution = await firstValueFrom(
      this.sessions.executeCodeSession({ codeSessionId: id, idempotencyKey, version: body.version ?? 0 }, callMetadata(caller.authorization)),
    );
    return executionView(execution);
  }

  /** The session's runs, newest first; each one's log and live stream are under /api/v1/executions/:id. */
  @Get(':id/executions')
  async history(@CurrentCaller() caller: Caller, @Param('id') id: string, @Query() query: CodeSessionHistoryQuery) {
    const res = await firstValueFrom(this.sessions.listCodeSessionExecutions({ codeSessionId: id, pageSize: query.pageSize ?? 50 }, callMetadata(caller.authorization)));
    return { items: res.executions.map(executionView) };
  }
}
