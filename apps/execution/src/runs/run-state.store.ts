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

  /** Moves a run from one of `from` to `to`; returns undefined when it was not in `from`. */
  async transition(id: string, from: ExecutionState[], to: ExecutionState, reason: string, patch: RunPatch = {}) {
    const run = await this.update(id, from, { ...patch }, { state: to, reason });
    if (!run) return undefined;
    await this.db.query(
      'INSERT INTO execution.execution_transitions (execution_id, from_state, to_state, reason) VALUES ($1, $2, $3, $4)',
      [id, run.previousState, to, reason],
    );
    this.announce(run.record);
    return run.record;
  }

  /** Records and announces that the dispatcher moved a run from queued to starting. */
  async claimed(id: string): Promise<ExecutionRecord> {
    await this.db.query(
      `INSERT INTO execution.execution_transitions (execution_id, from_state, to_state, reason) VALUES ($1, 'queued', 'starting', '')`,
      [id],
    );
    const run = await this.db.getRepository(ExecutionRecord).findOneByOrFail({ id });
    this.announce(run);
    return run;
  }

  /** Updates a run's progress/result fields without changing its state. */
  async patch(id: string, patch: RunPatch) {
    const run = await this.update(id, ['starting', 'running'], patch);
    if (run) this.announce(run.record);
    return run?.record;
  }

  private async update(id: string, from: ExecutionState[], patch: RunPatch, change?: { state: ExecutionState; reason: string }) {
    const sets = ['version = version + 1'];
    const values: unknown[] = [id, from];
    for (const [key, value] of Object.entries(patch)) {
      values.push(key === 'result' && value !== null ? JSON.stringify(value) : value);
      sets.push(`${COLUMNS[key as keyof RunPatch]} = $${values.length}`);
    }
    if (change) {
      values.push(change.state, change.reason);
      sets.push(`state = $${values.length - 1}`, `state_reason = $${values.length}`);
    }
    const [rows] = (await this.db.query(
      `UPDATE execution.executions e SET ${sets.join(', ')}
       FROM (SELECT id, state AS previous_state FROM execution.executions WHERE id = $1) p
       WHERE e.id = p.id AND e.state = ANY($2) RETURNING p.previous_state`,
      values,
    )) as [{ previous_state: ExecutionState }[], number];
    if (!rows.length) return undefined;
    const record = await this.db.getRepository(ExecutionRecord).findOneByOrFail({ id });
    return { record, previousState: rows[0].previous_state };
  }

  private announce(run: ExecutionRecord) {
    const snapshot = snapshotOf(run);
    this.bus.publish(Subjects.runUpdated, { run: snapshot });
    if (isTerminal(run.state)) this.bus.publish(Subjects.runFinished, { run: snapshot });
  }
}
