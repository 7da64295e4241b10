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
import { ApiResponse } from '@nestjs/swagger';
import { ApiErrors } from '../error-body.js';
import { executionView } from '../executions/execution-view.js';
import type { ExecutionDto } from '../executions/execution.dto.js';
import { CodeSessionConflictDto, CodeSessionDto, CodeSessionListDto, CodeSessionRunsDto } from './code-session.dto.js';
import { CodeSessionHistoryQuery, CreateCodeSessionDto, ExecuteCodeSessionDto, ListCodeSessionsQuery, UpdateCodeSessionDto } from './dto.js';

const sessionView = (s: CodeSession): CodeSessionDto => ({ ...s, projectId: s.projectId || null, activeExecutionId: s.activeExecutionId || null });

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
  @ApiErrors({ 404: 'projectId names no project of the caller' })
  async create(@CurrentCaller() caller: Caller, @Body() body: CreateCodeSessionDto): Promise<CodeSessionDto> {
    const session = await firstValueFrom(
      this.sessions.createCodeSession(
        { name: body.name, language: body.language, source: body.source ?? '', projectId: body.projectId ?? '', timeoutSeconds: body.timeoutSeconds ?? 0 },
        callMetadata(caller.authorization),
      ),
    );
    return sessionView(session);
  }

  @Get()
  async list(@CurrentCaller() caller: Caller, @Query() query: ListCodeSessionsQuery): Promise<CodeSessionListDto> {
    const res = await firstValueFrom(this.sessions.listCodeSessions({ allUsers: query.allUsers ?? false }, callMetadata(caller.authorization)));
    return { items: res.codeSessions.map(sessionView) };
  }

  @Get(':id')
  async get(@CurrentCaller() caller: Caller, @Param('id') id: string): Promise<CodeSessionDto> {
    return sessionView(await firstValueFrom(this.sessions.getCodeSession({ codeSessionId: id }, callMetadata(caller.authorization))));
  }

  /** Autosave. 409 `{currentVersion, current}` when the session was saved since `baseVersion`. */
  @Patch(':id')
  @ApiResponse({ status: 200, type: CodeSessionDto })
  @ApiResponse({ status: 409, type: CodeSessionConflictDto, description: 'Saved since baseVersion: the current version and source, to reload or overwrite' })
  async update(
    @CurrentCaller() caller: Caller,
    @Param('id') id: string,
    @Body() body: UpdateCodeSessionDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<CodeSessionDto | CodeSessionConflictDto> {
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
      const conflict: CodeSessionConflictDto = {
        statusCode: 409,
        error: 'Conflict',
        message: e.details ?? 'Saved since baseVersion',
        currentVersion: current.version,
        current: sessionView(current),
        requestId: currentRequestId() ?? '',
      };
      return conflict;
    }
  }

  /** 409 while the session has an active run. */
  @Delete(':id')
  @HttpCode(204)
  @ApiErrors({ 409: 'The session has an active run; cancel it first' })
  async delete(@CurrentCaller() caller: Caller, @Param('id') id: string) {
    await firstValueFrom(this.sessions.deleteCodeSession({ codeSessionId: id }, callMetadata(caller.authorization)));
  }

  /** Runs the saved source; 409 naming the active run when one is still queued or running. Send `Idempotency-Key` to make retries safe. */
  @Post(':id/execute')
  @HttpCode(202)
  @ApiErrors({
    409: 'The session already has a queued or running run, or the saved version is not `version`',
    422: 'IDEMPOTENCY_KEY_REUSED: this Idempotency-Key was given with another request',
    429: 'Too many runs submitted, or the queue is full (Retry-After)',
  })
  async execute(
    @CurrentCaller() caller: Caller,
    @Param('id') id: string,
    @Body() body: ExecuteCodeSessionDto,
    @Headers('idempotency-key') idempotencyKey = '',
  ): Promise<ExecutionDto> {
    const execution = await firstValueFrom(
      this.sessions.executeCodeSession({ codeSessionId: id, idempotencyKey, version: body.version ?? 0 }, callMetadata(caller.authorization)),
    );
    return executionView(execution);
  }

  /** The session's runs, newest first; each one's log and live stream are under /api/v1/executions/:id. */
  @Get(':id/executions')
  async history(@CurrentCaller() caller: Caller, @Param('id') id: string, @Query() query: CodeSessionHistoryQuery): Promise<CodeSessionRunsDto> {
    const res = await firstValueFrom(this.sessions.listCodeSessionExecutions({ codeSessionId: id, pageSize: query.pageSize ?? 50 }, callMetadata(caller.authorization)));
    return { items: res.executions.map(executionView) };
  }
}
