import { Controller } from '@nestjs/common';
import type { Metadata } from '@grpc/grpc-js';
import { map, type Observable } from 'rxjs';
import {
  ExecutionServiceControllerMethods,
  type CancelExecutionRequest,
  type Execution,
  type ExecutionServiceController,
  type GetExecutionRequest,
  type ListExecutionsRequest,
  type ListExecutionsResponse,
  type RerunExecutionRequest,
  type RunScriptRequest,
  type WatchExecutionRequest,
  type WatchExecutionsRequest,
} from '#contracts/generated/scriptorium/execution/v1/execution.js';
import { callerOf } from '#common/auth.js';
import type { ExecutionRecord } from './execution.entity.js';
import { RunsService, type StateTransitionRow } from './runs.service.js';

export function toExecutionMessage(run: ExecutionRecord, queuePosition = 0, transitions: StateTransitionRow[] = []): Execution {
  const end = run.finishedAt ?? (run.startedAt ? new Date() : null);
  return {
    id: run.id,
    scriptId: run.scriptId,
    scriptName: run.scriptName,
    groupId: run.groupId,
    userId: run.userId,
    username: run.username,
    state: run.state,
    stateReason: run.stateReason,
    parametersJson: JSON.stringify(run.parameters),
    hasExitCode: run.exitCode !== null && run.exitCode !== undefined,
    exitCode: run.exitCode ?? 0,
    createdAt: run.createdAt.toISOString(),
    startedAt: run.startedAt?.toISOString() ?? '',
    finishedAt: run.finishedAt?.toISOString() ?? '',
    durationMs: run.startedAt && end ? end.getTime() - run.startedAt.getTime() : 0,
    progress: run.progress,
    progressMessage: run.progressMessage,
    resultJson: run.result === null || run.result === undefined ? '' : JSON.stringify(run.result),
    error: run.error,
    projectId: run.projectId,
    queuePosition,
    rerunOf: run.rerunOf ?? '',
    transitions: transitions.map((t) => ({ fromState: t.fromState ?? '', toState: t.toState, reason: t.reason, at: new Date(t.at).toISOString() })),
  };
}

@Controller()
@ExecutionServiceControllerMethods()
export class RunsGrpcController implements ExecutionServiceController {
  constructor(private readonly runs: RunsService) {}

  async runScript(request: RunScriptRequest, metadata?: Metadata): Promise<Execution> {
    // Answered at once: its queue position is for GetExecution (the dispatcher is already claiming it).
    return toExecutionMessage(await this.runs.submit(callerOf(metadata), request));
  }

  async rerunExecution(request: RerunExecutionRequest, metadata?: Metadata): Promise<Execution> {
    return toExecutionMessage(await this.runs.rerun(callerOf(metadata), request.executionId, request.idempotencyKey, request.parametersJson));
  }

  async getExecution(request: GetExecutionRequest, metadata?: Metadata): Promise<Execution> {
    const run = await this.runs.get(callerOf(metadata), request.executionId);
    return toExecutionMessage(run, await this.runs.queuePosition(run), await this.runs.transitions(run.id));
  }

  watchExecutions(request: WatchExecutionsRequest, metadata?: Metadata): Observable<Execution> {
    return this.runs.watchAll(callerOf(metadata), request.allUsers).pipe(map((run) => toExecutionMessage(run)));
  }


  async listExecutions(request: ListExecutionsRequest, metadata?: Metadata): Promise<ListExecutionsResponse> {
    const page = await this.runs.list(callerOf(metadata), request);
    return { executions: page.runs.map((run) => toExecutionMessage(run)), nextPageToken: page.nextPageToken };
  }

  async cancelExecution(request: CancelExecutionRequest, metadata?: Metadata): Promise<Execution> {
    return toExecutionMessage(await this.runs.cancel(callerOf(metadata), request.executionId));
  }

  watchExecution(request: WatchExecutionRequest, metadata?: Metadata): Observable<Execution> {
    return this.runs.watch(callerOf(metadata), request.executionId).pipe(map((run) => toExecutionMessage(run)));
  }
}
