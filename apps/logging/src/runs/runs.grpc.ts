import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import type { Metadata } from '@grpc/grpc-js';
import type { GetRunLogRequest, LoggingServiceController, RunLog } from '#contracts/generated/scriptorium/logging/v1/logging.js';
import { callerOf } from '#common/auth.js';
import { notFound } from '#common/errors.js';
import { isUuid } from '#common/ids.js';
import { deletionOf, mayRead } from '../logs/log-access.js';
import { LogRunsRepository } from './log-runs.repository.js';
import { runContextOf } from './run-context.js';

@Controller()
export class RunsGrpcController implements Pick<LoggingServiceController, 'getRunLog'> {
  constructor(private readonly runs: LogRunsRepository) {}

  @GrpcMethod('LoggingService', 'getRunLog')
  async getRunLog(request: GetRunLogRequest, metadata?: Metadata): Promise<RunLog> {
    const caller = callerOf(metadata);
    const row = isUuid(request.executionId) ? await this.runs.find(request.executionId) : undefined;
    // Someone else's run is reported as missing, so ids cannot be probed.
    if (!row || !mayRead(caller, row.user_id)) throw notFound(`No log for execution ${request.executionId}`);
    return {
      run: runContextOf(row),
      lineCount: row.line_count ?? 0,
      storedBytes: Number(row.stored_bytes ?? 0),
      complete: row.complete ?? false,
      deletion: deletionOf(row),
    };
  }
}
