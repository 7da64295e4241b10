import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import type { Metadata } from '@grpc/grpc-js';
import type { GetLogStatisticsRequest, LoggingServiceController, LogStatistics } from '#contracts/generated/scriptorium/logging/v1/logging.js';
import { callerOf } from '#common/auth.js';
import { ownerScope } from '../logs/log-access.js';
import { runFilterOf } from '../search/search-query.js';
import { StatisticsRepository } from './statistics.repository.js';

@Controller()
export class StatisticsGrpcController implements Pick<LoggingServiceController, 'getLogStatistics'> {
  constructor(private readonly repository: StatisticsRepository) {}

  /** A user's statistics (the caller's own; admins: anyone's, or the whole system's with allUsers). */
  @GrpcMethod('LoggingService', 'getLogStatistics')
  async getLogStatistics(request: GetLogStatisticsRequest, metadata?: Metadata): Promise<LogStatistics> {
    const scope = ownerScope(callerOf(metadata), request);
    const filter = runFilterOf({ from: request.from, to: request.to, userId: '', allUsers: false, scriptId: '', groupId: '', projectId: '', states: [] });
    const { totals, scripts, projects, days } = await this.repository.totals(scope, filter);
    const succeeded = Number(totals.succeeded);
    const failed = Number(totals.failed);
    return {
      runs: Number(totals.runs),
      succeeded,
      failed,
      successRate: succeeded + failed ? succeeded / (succeeded + failed) : 0,
      totalDurationMs: Number(totals.duration_ms),
      storedBytes: Number(totals.stored_bytes),
      storedLines: Number(totals.stored_lines),
      users: Number(totals.users),
      scripts: scripts.map((s) => ({ scriptId: s.script_id, runs: Number(s.runs), succeeded: Number(s.succeeded), totalDurationMs: Number(s.duration_ms) })),
      projects: projects.map((p) => ({ projectId: p.project_id, projectName: p.project_name, runs: Number(p.runs) })),
      runsPerDay: days.map((d) => ({ day: d.day, runs: Number(d.runs), succeeded: Number(d.succeeded), failed: Number(d.failed) })),
    };
  }
}
