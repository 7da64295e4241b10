import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { isTerminal, type ExecutionState } from '#contracts/execution-states.js';
import type { RunSnapshot } from '#contracts/events.js';
import { Subjects } from '#contracts/subjects.js';
import { EventBus } from '#common/bus.js';
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

/**
 * The only writer of run state: each change is one conditional UPDATE (so two
 * replicas cannot both move a run), a transition row, and an event.
 */
@Injectable()
export class RunStateStore {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly bus: EventBus,
  ) {}

  /** Moves a run from one of `from` to `to`, with its transition row, in one statement; undefined when it was not in `from`. */
  async transition(id: string, from: ExecutionState[], to: ExecutionState, reason: string, patch: RunPatch = {}) {
    const run = await this.update(id, from, patch, { state: to, reason });
    if (run) this.announce(run);
    return run;
  }

  /**
   * Moves up to `limit` queued runs chosen by `choose` (a query returning ids) to
   * starting for this replica, with their transition rows, in one statement.
   */
  async claim(choose: string, values: unknown[], instanceId: string): Promise<ExecutionRecord[]> {
    const owner = values.length + 1;
    const rows: Record<string, unknown>[] = await this.db.query(
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
    );
    return rows.map((row) => {
      const run = this.toRecord(row);
      this.announce(run);
      return run;
    });
  }

  /** Updates a run's progress/result fields without changing its state. */
  async patch(id: string, patch: RunPatch) {
    const run = await this.update(id, ['starting', 'running'], patch);
    if (run) this.announce(run);
    return run;
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
