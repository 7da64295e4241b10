import { Controller } from '@nestjs/common';
import type { Metadata } from '@grpc/grpc-js';
import {
  CodeSessionServiceControllerMethods,
  type CodeSession,
  type CodeSessionServiceController,
  type CreateCodeSessionRequest,
  type DeleteCodeSessionRequest,
  type DeleteCodeSessionResponse,
  type Execution,
  type ExecuteCodeSessionRequest,
  type GetCodeSessionRequest,
  type ListCodeSessionExecutionsRequest,
  type ListCodeSessionsRequest,
  type ListCodeSessionsResponse,
  type ListExecutionsResponse,
  type UpdateCodeSessionRequest,
} from '#contracts/generated/scriptorium/execution/v1/execution.js';
import { callerOf } from '#common/auth.js';
import { toExecutionMessage } from '../execution.message.js';
import type { CodeSessionRecord } from './code-session.entity.js';
import { CodeSessionsService } from './code-sessions.service.js';

export function toCodeSessionMessage(session: CodeSessionRecord, activeExecutionId = ''): CodeSession {
  return {
    id: session.id,
    userId: session.userId,
    username: session.username,
    name: session.name,
    language: session.language,
    source: session.source,
    version: session.version,
    projectId: session.projectId ?? '',
    timeoutSeconds: session.timeoutSeconds,
    activeExecutionId,
    createdAt: session.createdAt.toISOString(),
    updatedAt: session.updatedAt.toISOString(),
  };
}

/** proto3 `optional` fields arrive unset or as their value; both undefined and null mean "keep". */
const given = <T>(value: T | null | undefined): T | undefined => (value === null ? undefined : value);

@Controller()
@CodeSessionServiceControllerMethods()
export class CodeSessionsGrpcController implements CodeSessionServiceController {
  constructor(private readonly sessions: CodeSessionsService) {}

  private async message(session: CodeSessionRecord): Promise<CodeSession> {
    return toCodeSessionMessage(session, (await this.sessions.activeRun(session.id))?.id ?? '');
  }

  async createCodeSession(request: CreateCodeSessionRequest, metadata?: Metadata): Promise<CodeSession> {
    return this.message(await this.sessions.create(callerOf(metadata), request));
  }

  async getCodeSession(request: GetCodeSessionRequest, metadata?: Metadata): Promise<CodeSession> {
    return this.message(await this.sessions.get(callerOf(metadata), request.codeSessionId));
  }

  async listCodeSessions(request: ListCodeSessionsRequest, metadata?: Metadata): Promise<ListCodeSessionsResponse> {
    const list = await this.sessions.list(callerOf(metadata), request.allUsers);
    const active = await this.sessions.activeRuns(list.map((s) => s.id));
    return { codeSessions: list.map((s) => toCodeSessionMessage(s, active.get(s.id) ?? '')) };
  }

  async updateCodeSession(request: UpdateCodeSessionRequest, metadata?: Metadata): Promise<CodeSession> {
    const saved = await this.sessions.update(callerOf(metadata), request.codeSessionId, request.baseVersion, {
      source: given(request.source),
      name: given(request.name),
      language: given(request.language),
      timeoutSeconds: given(request.timeoutSeconds),
    });
    return this.message(saved);
  }

  async deleteCodeSession(request: DeleteCodeSessionRequest, metadata?: Metadata): Promise<DeleteCodeSessionResponse> {
    await this.sessions.delete(callerOf(metadata), request.codeSessionId);
    return {};
  }

  async executeCodeSession(request: ExecuteCodeSessionRequest, metadata?: Metadata): Promise<Execution> {
    return toExecutionMessage(await this.sessions.execute(callerOf(metadata), request.codeSessionId, request.idempotencyKey, request.version));
  }

  async listCodeSessionExecutions(request: ListCodeSessionExecutionsRequest, metadata?: Metadata): Promise<ListExecutionsResponse> {
    const runs = await this.sessions.history(callerOf(metadata), request.codeSessionId, request.pageSize);
    return { executions: runs.map((run) => toExecutionMessage(run)), nextPageToken: '' };
  }
}
