import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { isTerminal, type ExecutionState } from '#contracts/execution-states.js';
import type { RunSnapshot } from '#contracts/events.js';
import { Subjects } from '#contracts/subjects.js';
import { EventBus } from '#common/bus.js';
import { retryWhileDatabaseUnavailable } from '#common/database.js';
import { ExecutionRecord } from './execution.entity.js';

export type RunPatch = Partial<
  Pick<ExecutionRecord, 'exitCode' | 'progress' | 'progressMessage' | 'result' | 'error' | 'startedAt' | 'finishedAt' | 'ownerInstance' | 'runtimeRef'>
> & { launchSpec?: null };

const COLUMNS: Record<keyof RunPatch, string> = {
  exitCode: 'exit_code',
  progress: 'progress',
  progressMessage: 'progress_message',
  result: 'result',
  error: 'error',
  startedAt: 'started_at',
  finishedAt: 'finished_at',
  ownerInstance: 'owner_instance',
  runtimeRef: 'runtime_ref',
  launchSpec: 'launch_spec',
};

/** SQL counting the active runs (what the per-user and per-script limits count) whose `column` equals `value` (an SQL expression). */
export function activeRunsWhere(column: 'user_id' | 'script_id', value: string): string {
  return `(SELECT count(*) FROM execution.executions a WHERE a.state IN ('starting', 'running') AND a.${column} = ${value})`;
}

/** A replica's reservation for a new run: store it claimed by `instanceId` if these limits allow. */
export interface ClaimOnCreate {
  instanceId: string;
  maxRunsPerUser: number;
  maxRunsPerScript: number;
}

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
  };
}

export interface WriteOptions {
  /**
   * Fail at once when the database is unavailable (a caller waits for the answer, e.g. a
   * cancel request) instead of retrying until it is back (a running script's own changes).
   */
  failFast?: boolean;
}

/**
 * The only writer of run state: a new run is one INSERT, each change one conditional
 * UPDATE (so two replicas cannot both move a run), with its transition row and event.
 * Changes of an existing run survive a database outage: they are retried until the
 * database is back (up to 15 min), one at a time per run and in the order they were made,
 * so a run that ended during the outage is stored as ended, not lost.
 */
@Injectable()
export class RunStateStore {
  /** The last write queued for each run: the next one starts after it. */
  private readonly writes = new Map<string, Promise<unknown>>();

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly bus: EventBus,
  ) {}

  /** Moves a run from one of `from` to `to`, with its transition row, in one statement; undefined when it was not in `from`. */
  async transition(id: string, from: ExecutionState[], to: ExecutionState, reason: string, patch: RunPatch = {}, options: WriteOptions = {}) {
    const run = await this.write(id, `run ${id} to ${to}`, options, async (attempt) => {
      const moved = await this.update(id, from, patch, { state: to, reason });
      // A retried statement may have committed before its connection was cut: the run is then
      // already in `to` and is announced as if this attempt had moved it.
      if (moved || attempt === 0) return moved;
      const current = await this.db.getRepository(ExecutionRecord).findOneBy({ id });
      return current?.state === to ? current : undefined;
    });
    if (run) this.announce(run);
    return run;
  }

  /**
   * Moves up to `limit` queued runs chosen by `choose` (a query returning ids) to
   * starting for this replica, with their transition rows, in one statement.
   */
  async claim(choose: string, values: unknown[], instanceId: string): Promise<ExecutionRecord[]> {
    const owner = values.length + 1;
    // One statement: it committed whole or not at all, so trying it again claims nothing twice.
    const rows: Record<string, unknown>[] = await retryWhileDatabaseUnavailable(
      () =>
        this.db.query(
          `WITH chosen AS (${choose}),
           claimed AS (
             UPDATE execution.executions e SET state = 'starting', state_reason = '', owner_instance = $${owner}, version = e.version + 1
             FROM chosen WHERE e.id = chosen.id AND e.state = 'queued' RETURNING e.*
         ),
         logged AS (
           INSERT INTO execution.execution_transitions (execution_id, from_state, to_state, reason)
           SELECT id, 'queued', 'starting', '' FROM claimed
         )
         SELECT * FROM claimed ORDER BY created_at`,
        [...values, instanceId],
        ),
      { what: 'claiming queued runs' },
    );
    return rows.map((row) => {
      const run = this.toRecord(row);
      this.announce(run);
      return run;
    });
  }

  /**
   * Stores a new run, queued, or, when `claimFor` is given and nothing waits in the queue
   * and the per-user and per-script limits allow, already claimed (starting) by that
   * replica with its transition row, so it starts without a trip through the queue. One
   * statement either way; announces the run (created, and updated when claimed).
   */
  async create(run: ExecutionRecord, claimFor?: ClaimOnCreate): Promise<ExecutionRecord> {
    const metadata = this.db.getRepository(ExecutionRecord).metadata;
    const columns: string[] = [];
    const values: unknown[] = [claimFor?.instanceId ?? null, claimFor?.maxRunsPerUser ?? 0, claimFor?.maxRunsPerScript ?? 0, run.userId, run.scriptId];
    for (const column of metadata.columns) {
      const value = (run as unknown as Record<string, unknown>)[column.propertyName];
      if (value === undefined || column.propertyName === 'state' || column.propertyName === 'ownerInstance') continue;
      columns.push(column.databaseName);
      values.push(column.type === 'jsonb' && value !== null ? JSON.stringify(value) : value);
    }
    const placeholders = columns.map((_, i) => `$${i + 6}`);
    const rows: Record<string, unknown>[] = await this.db.query(
      `WITH decision AS (
         SELECT $1::text IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM execution.executions WHERE state = 'queued')
           AND ($2 = 0 OR ${activeRunsWhere('user_id', '$4')} < $2)
           AND ($3 = 0 OR ${activeRunsWhere('script_id', '$5')} < $3) AS claimed
       ), inserted AS (
         INSERT INTO execution.executions (${columns.join(', ')}, state, owner_instance)
         SELECT ${placeholders.join(', ')}, CASE WHEN d.claimed THEN 'starting' ELSE 'queued' END, CASE WHEN d.claimed THEN $1::text END
         FROM decision d RETURNING *
       ), logged AS (
         INSERT INTO execution.execution_transitions (execution_id, from_state, to_state, reason)
         SELECT id, 'queued', 'starting', '' FROM inserted WHERE state = 'starting'
       )
       SELECT * FROM inserted`,
      values,
    );
    const created = this.toRecord(rows[0]);
    this.bus.publish(Subjects.runCreated, { run: snapshotOf(created) });
    if (created.state === 'starting') this.announce(created);
    return created;
  }

  /** Updates a run's progress/result fields without changing its state. */
  async patch(id: string, patch: RunPatch) {
    const run = await this.write(id, `progress of run ${id}`, {}, () => this.update(id, ['starting', 'running'], patch));
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

  private async update(id: string, from: ExecutionState[], patch: RunPatch, change?: { state: ExecutionState; reason: string }) {
    const sets = ['version = e.version + 1'];
    const values: unknown[] = [id, from];
    for (const [key, value] of Object.entries(patch)) {
      values.push(key === 'result' && value !== null ? JSON.stringify(value) : value);
      sets.push(`${COLUMNS[key as keyof RunPatch]} = $${values.length}`);
    }
    if (change) {
      values.push(change.state, change.reason);
      sets.push(`state = $${values.length - 1}`, `state_reason = $${values.length}`);
    }
    const transition = change
      ? `, logged AS (
           INSERT INTO execution.execution_transitions (execution_id, from_state, to_state, reason)
           SELECT id, previous_state, state, state_reason FROM updated
         )`
      : '';
    const rows: Record<string, unknown>[] = await this.db.query(
      `WITH previous AS (SELECT id, state AS previous_state FROM execution.executions WHERE id = $1 FOR UPDATE),
       updated AS (
         UPDATE execution.executions e SET ${sets.join(', ')} FROM previous p
         WHERE e.id = p.id AND e.state = ANY($2) RETURNING e.*, p.previous_state
       )${transition}
       SELECT * FROM updated`,
      values,
    );
    return rows.length ? this.toRecord(rows[0]) : undefined;
  }

  /** A raw row (column names) as the entity (property names). */
  private toRecord(row: Record<string, unknown>): ExecutionRecord {
    const repository = this.db.getRepository(ExecutionRecord);
    const record = repository.create();
    for (const column of repository.metadata.columns) {
      if (column.databaseName in row) (record as unknown as Record<string, unknown>)[column.propertyName] = row[column.databaseName];
    }
    return record;
  }

  private announce(run: ExecutionRecord) {
    const snapshot = snapshotOf(run);
    this.bus.publish(Subjects.runUpdated, { run: snapshot });
    if (isTerminal(run.state)) this.bus.publish(Subjects.runFinished, { run: snapshot });
  }
}
