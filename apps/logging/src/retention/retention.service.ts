import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Caller } from '#common/auth.js';
import { EventBus } from '#common/bus.js';
import { invalidArgument, notFound, permissionDenied } from '#common/errors.js';
import { isUuid } from '#common/ids.js';
import { LEVELS } from '#contracts/levels.js';
import { Subjects } from '#contracts/subjects.js';
import type { CleanupReport, DeleteLogsRequest, RetentionPolicy, SetRetentionPolicyRequest } from '#contracts/generated/scriptorium/logging/v1/logging.js';
import type { LoggingConfig } from '../logging.config.js';
import { RetentionRepository, type DoomedRun, type PolicyRow } from './retention.repository.js';

/** Runs deleted per transaction: short transactions, so a sweep never holds ingest up for long. */
const RUNS_PER_BATCH = 200;
/** Runs listed in a cleanup report. */
const REPORTED = 1000;

export function policyView(row: PolicyRow): RetentionPolicy {
  return {
    id: row.id,
    scope: row.scope,
    target: row.target,
    keepDays: row.keep_days ?? undefined,
    maxRunsPerScript: row.max_runs_per_script ?? undefined,
    maxBytesPerUser: row.max_bytes_per_user === null ? undefined : Number(row.max_bytes_per_user),
    updatedAt: new Date(row.updated_at).toISOString(),
    updatedBy: row.updated_by,
  };
}

/**
 * Retention: policies by user level or script group, applied by a scheduled sweep (and on an
 * admin's request), and deletions by people. A log's lines are deleted; its run keeps its
 * context and says when and why its log was deleted. Every deletion is audited (auth's trail).
 */
@Injectable()
export class RetentionService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(RetentionService.name);
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly repository: RetentionRepository,
    private readonly bus: EventBus,
    @Inject('SERVICE_CONFIG') private readonly config: LoggingConfig,
  ) {}

  onApplicationBootstrap() {
    const minutes = this.config.LOG_RETENTION_INTERVAL_MINUTES;
    if (minutes > 0) {
      this.timer = setInterval(() => {
        this.cleanup(false).catch((error) => this.logger.warn(`retention sweep failed: ${(error as Error).message}`));
      }, minutes * 60_000);
      this.timer.unref();
    }
  }

  onApplicationShutdown() {
    clearInterval(this.timer);
  }

  async setPolicy(caller: Caller, request: SetRetentionPolicyRequest): Promise<RetentionPolicy> {
    if (request.scope !== 'level' && request.scope !== 'group') throw invalidArgument(`scope must be "level" (users of a level) or "group" (runs of a script group), not "${request.scope}"`, { scope: 'level or group' });
    if (request.scope === 'level' && !(LEVELS as readonly string[]).includes(request.target)) throw invalidArgument(`target must be a level: ${LEVELS.join(', ')}`, { target: `one of ${LEVELS.join(', ')}` });
    if (request.scope === 'group' && !/^[A-Za-z0-9_.-]{1,100}$/.test(request.target)) throw invalidArgument('target must be a script group id, e.g. getting_started', { target: 'a script group id' });
    const limits = { keepDays: request.keepDays, maxRunsPerScript: request.maxRunsPerScript, maxBytesPerUser: request.maxBytesPerUser };
    if (Object.values(limits).every((v) => v === undefined)) throw invalidArgument('a policy needs at least one limit: keepDays, maxRunsPerScript or maxBytesPerUser', { keepDays: 'e.g. 30' });
    for (const [name, value] of Object.entries(limits)) {
      if (value !== undefined && value < 1) throw invalidArgument(`${name} ${value} would delete every log the policy covers: give 1 or more (leave it out for no limit)`, { [name]: 'at least 1' });
    }
    const row = await this.repository.upsertPolicy({
      scope: request.scope,
      target: request.target,
      keep_days: request.keepDays ?? null,
      max_runs_per_script: request.maxRunsPerScript ?? null,
      max_bytes_per_user: request.maxBytesPerUser === undefined ? null : String(request.maxBytesPerUser),
      updated_by: caller.username || caller.userId,
    });
    this.audit(caller, 'logs.retention_policy_set', 'retention_policy', row.id, `${row.scope} ${row.target}`, { ...limits });
    return policyView(row);
  }

  async deletePolicy(caller: Caller, id: string): Promise<void> {
    const row = isUuid(id) ? await this.repository.deletePolicy(id) : undefined;
    if (!row) throw notFound(`No retention policy ${id}`);
    this.audit(caller, 'logs.retention_policy_deleted', 'retention_policy', row.id, `${row.scope} ${row.target}`);
  }

  /** What the policies delete now (or would, with `dryRun`): oldest first, each run once, in short batches. */
  async cleanup(dryRun: boolean, caller?: Caller): Promise<CleanupReport> {
    const doomed = await this.doomed();
    const report: CleanupReport = { dryRun, runs: 0, bytes: 0, items: [], truncated: false, skipped: false };
    const note = (run: DoomedRun, bytes: number) => {
      report.runs++;
      report.bytes += bytes;
      if (report.items.length < REPORTED) {
        report.items.push({ executionId: run.execution_id, userId: run.user_id, scriptId: run.script_id, reason: run.reason, storedBytes: bytes, createdAt: new Date(run.created_at).toISOString() });
      } else report.truncated = true;
    };
    if (dryRun) {
      for (const run of doomed) note(run, Number(run.stored_bytes));
      return report;
    }
    for (let i = 0; i < doomed.length; i += RUNS_PER_BATCH) {
      const batch = doomed.slice(i, i + RUNS_PER_BATCH);
      const byId = new Map(batch.map((r) => [r.execution_id, r]));
      // Every run of a batch is deleted for the first reason found; its audit entry lists each run's own.
      const { locked, deleted } = await this.repository.deleteLogs(batch.map((r) => r.execution_id), '', 'retention policy', { sweep: true });
      if (!locked) {
        report.skipped = true;
        break;
      }
      for (const d of deleted) note(byId.get(d.execution_id)!, Number(d.stored_bytes));
      if (deleted.length) {
        this.audit(caller, 'logs.retention_swept', 'logs', '', `${deleted.length} logs`, {
          runs: deleted.map((d) => ({ executionId: d.execution_id, userId: d.user_id, reason: byId.get(d.execution_id)!.reason })),
        });
      }
    }
    if (report.runs) this.logger.log(`retention sweep deleted the logs of ${report.runs} runs (${report.bytes} bytes)`);
    return report;
  }

  /** A user deletes their own finished runs' logs; an admin anyone's. */
  async deleteLogs(caller: Caller, request: DeleteLogsRequest): Promise<string[]> {
    const admin = caller.level === 'admin';
    if (request.userId && request.userId !== caller.userId && !admin) throw permissionDenied(`only admins delete other users' logs; you are ${caller.level}`);
    if (!request.allFinished && !request.executionIds.length) throw invalidArgument('name the runs (executionIds) or ask for allFinished', { executionIds: 'one or more execution ids' });
    const bad = request.executionIds.filter((id) => !isUuid(id));
    if (bad.length) throw invalidArgument(`not execution ids: ${bad.slice(0, 5).join(', ')}`, { executionIds: 'execution ids (UUIDs)' });
    const owner = request.userId || caller.userId;
    const ids = request.allFinished ? await this.repository.finishedRunsOf(owner) : request.executionIds;
    const deleted: string[] = [];
    for (let i = 0; i < ids.length; i += RUNS_PER_BATCH) {
      const result = await this.repository.deleteLogs(ids.slice(i, i + RUNS_PER_BATCH), caller.username || caller.userId, admin && owner !== caller.userId ? 'deleted by an admin' : 'deleted by its owner', {
        userId: admin ? (request.allFinished ? owner : undefined) : caller.userId,
      });
      deleted.push(...result.deleted.map((d) => d.execution_id));
    }
    // Naming runs that are someone else's, unfinished or unknown deletes nothing of them, and says nothing of them either.
    if (!request.allFinished && !deleted.length) throw notFound('none of these runs has a finished log of yours to delete');
    if (deleted.length) this.audit(caller, 'logs.deleted', 'logs', request.allFinished ? owner : deleted[0], `${deleted.length} logs`, { executionIds: deleted.slice(0, 300), count: deleted.length });
    return deleted;
  }

  /** Every finished run's log a policy would delete, once (the first policy that does names the reason). */
  private async doomed(): Promise<DoomedRun[]> {
    const seen = new Map<string, DoomedRun>();
    for (const policy of await this.repository.listPolicies()) {
      const name = `${policy.scope} ${policy.target}`;
      const doomed = await this.repository.doomedBy(policy, {
        days: `${name}: keep ${policy.keep_days} days`,
        runs: `${name}: keep ${policy.max_runs_per_script} runs per script`,
        bytes: `${name}: keep ${policy.max_bytes_per_user} bytes per user`,
      });
      for (const run of doomed) if (!seen.has(run.execution_id)) seen.set(run.execution_id, run);
    }
    return [...seen.values()].sort((a, b) => +new Date(a.created_at) - +new Date(b.created_at));
  }

  private audit(caller: Caller | undefined, action: string, targetType: string, targetId: string, targetName: string, details?: Record<string, unknown>) {
    this.bus.publish(Subjects.auditActionPerformed, {
      service: 'logging',
      action,
      outcome: 'success',
      actorId: caller?.userId ?? '',
      actorUsername: caller?.username ?? '',
      targetType,
      targetId,
      targetName,
      details,
    });
  }
}
