import { Injectable } from '@nestjs/common';
import { isTerminal, type ExecutionState } from '#contracts/execution-states.js';
import type { RunSnapshot } from '#contracts/events.js';
import { Subjects } from '#contracts/subjects.js';
import { EventBus } from '#common/bus.js';
import { retryWhileDatabaseUnavailable } from '#common/database.js';
import type { ExecutionRecord } from './execution.entity.js';
import { ExecutionRepository, type ClaimLimits, type ClaimOnCreate, type RunPatch } from './execution.repository.js';

export function snapshotOf(run: ExecutionRecord): RunSnapshot {
  return {
    executionId: run.id,
    scriptId: run.scriptId,
    userId: run.userId,
    state: run.state,
    stateReason: run.stateReason,
    progress: run.progress,
    progressMessage: run.progressMessage,
    exitCode: run.exitCode,
    version: run.version,
    scriptName: run.scriptName,
    groupId: run.groupId,
    username: run.username,
    // Runs stored before these columns have none: left out, so logging keeps what it knows.
    ...(run.userLevel ? { userLevel: run.userLevel } : {}),
    projectId: run.projectId,
    ...(run.projectName ? { projectName: run.projectName } : {}),
    // Masked when the run was stored (see launchArguments).
    parameters: run.parameters,
    createdAt: iso(run.createdAt),
    startedAt: run.startedAt ? iso(run.startedAt) : null,
    finishedAt: run.finishedAt ? iso(run.finishedAt) : null,
    durationMs: run.startedAt && run.finishedAt ? new Date(run.finishedAt).getTime() - new Date(run.startedAt).getTime() : null,
  };
}

const iso = (at: Date) => new Date(at).toISOString();

export interface WriteOptions {
  /**
   * Fail at once when the database is unavailable (a caller waits for the answer, e.g. a
   * cancel request) instead of retrying until it is back (a running script's own changes).
   */
  failFast?: boolean;
}

/**
 * Every change of a run's state goes through here: a new run is one INSERT, each change one
 * conditional UPDATE (so two replicas cannot both move a run), with its transition row
 * (the SQL is ExecutionRepository's) and its event.
 * Changes of an existing run survive a database outage: they are retried until the
 * database is back (up to 15 min), one at a time per run and in the order they were made,
 * so a run that ended during the outage is stored as ended, not lost.
 */
@Injectable()
export class RunStateStore {
  /** The last write queued for each run: the next one starts after it. */
  private readonly writes = new Map<string, Promise<unknown>>();

  constructor(
    private readonly executions: ExecutionRepository,
    private readonly bus: EventBus,
  ) {}

  /** Moves a run from one of `from` to `to`, with its transition row, in one statement; undefined when it was not in `from`. */
  async transition(id: string, from: ExecutionState[], to: ExecutionState, reason: string, patch: RunPatch = {}, options: WriteOptions = {}) {
    const run = await this.write(id, `run ${id} to ${to}`, options, async (attempt) => {
      const moved = await this.executions.update(id, from, patch, { state: to, reason });
      // A retried statement may have committed before its connection was cut: the run is then
      // already in `to` and is announced as if this attempt had moved it.
      if (moved || attempt === 0) return moved;
      const current = await this.executions.find(id);
      return current?.state === to ? current : undefined;
    });
    if (run) this.announce(run);
    return run;
  }

  /** Moves up to `free` queued runs to starting for this replica within `limits` (see ExecutionRepository.claimQueued). */
  async claim(free: number, limits: ClaimLimits, instanceId: string): Promise<ExecutionRecord[]> {
    const claimed = await retryWhileDatabaseUnavailable(() => this.executions.claimQueued(free, limits, instanceId), { what: 'claiming queued runs' });
    for (const run of claimed) this.announce(run);
    return claimed;
  }

  /**
   * Stores a new run, queued, or already claimed by `claimFor`'s replica when nothing waits
   * in the queue and the limits allow (see ExecutionRepository.insert); announces the run
   * (created, and updated when claimed).
   */
  async create(run: ExecutionRecord, claimFor?: ClaimOnCreate): Promise<ExecutionRecord> {
    const created = await this.executions.insert(run, claimFor);
    this.bus.publish(Subjects.runCreated, { run: snapshotOf(created) });
    if (created.state === 'starting') this.announce(created);
    return created;
  }

  /** Updates a run's progress/result fields without changing its state. */
  async patch(id: string, patch: RunPatch) {
    const run = await this.write(id, `progress of run ${id}`, {}, () => this.executions.update(id, ['starting', 'running'], patch));
    if (run) this.announce(run);
    return run;
  }

  /** Runs `work` after the writes already queued for run `id`, retried while the database is unavailable unless `failFast`. */
  private write<T>(id: string, what: string, options: WriteOptions, work: (attempt: number) => Promise<T>): Promise<T> {
    const previous = this.writes.get(id) ?? Promise.resolve();
    const next = previous.then(() => (options.failFast ? work(0) : retryWhileDatabaseUnavailable(work, { what })));
    // The queue goes on after a failed write; the failure is the caller's.
    const settled = next.catch(() => undefined);
    this.writes.set(id, settled);
    void settled.then(() => {
      if (this.writes.get(id) === settled) this.writes.delete(id);
    });
    return next;
  }

  private announce(run: ExecutionRecord) {
    const snapshot = snapshotOf(run);
    this.bus.publish(Subjects.runUpdated, { run: snapshot });
    if (isTerminal(run.state)) this.bus.publish(Subjects.runFinished, { run: snapshot });
  }
}
