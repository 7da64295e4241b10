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
import { toExecutionMessage } from '../execution.message.js';
import { RunsService } from './runs.service.js';

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
