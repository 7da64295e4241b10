import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, type Repository } from 'typeorm';
import type { ExecutionState } from '#contracts/execution-states.js';
import { ExecutionRecord, type StateTransitionRow, type StoredLogCursor } from './execution.entity.js';

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

const ACTIVE_STATES = ['queued', 'starting', 'running'] as const;

/** A replica's reservation for a new run: store it claimed by `instanceId` if these limits allow. */
export interface ClaimOnCreate {
  instanceId: string;
  maxRunsPerUser: number;
  maxRunsPerScript: number;
}

/** The limits a claim of queued runs keeps (0 = none). */
export interface ClaimLimits {
  maxRunsPerUser: number;
  maxRunsPerScript: number;
}

/** SQL counting the active runs (what the per-user and per-script limits count) whose `column` equals `value` (an SQL expression). */
function activeRunsWhere(column: 'user_id' | 'script_id', value: string): string {
  return `(SELECT count(*) FROM execution.executions a WHERE a.state IN ('starting', 'running') AND a.${column} = ${value})`;
}

function resultRows<T>(result: unknown): T[] {
  // TypeORM's postgres driver answers an UPDATE … RETURNING with [rows, count].
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number') return result[0] as T[];
  return Array.isArray(result) ? (result as T[]) : [];
}

/**
 * The SQL of execution.executions, its transition rows (execution.execution_transitions) and
 * the replicas' heartbeats (execution.instances). Each state change is one statement with its
 * transition row, conditional on the state it moves from, so two replicas cannot both move a
 * run; RunStateStore orders, retries and announces them.
 */
@Injectable()
export class ExecutionRepository {
  constructor(@InjectRepository(ExecutionRecord) private readonly runs: Repository<ExecutionRecord>) {}

  /** A new run's entity (not stored). */
  build(fields: Partial<ExecutionRecord>): ExecutionRecord {
    return this.runs.create(fields);
  }

  find(id: string): Promise<ExecutionRecord | null> {
    return this.runs.findOneBy({ id });
  }

  findByIdempotencyKey(userId: string, idempotencyKey: string): Promise<ExecutionRecord | null> {
    return this.runs.findOneBy({ userId, idempotencyKey });
  }

  /**
   * Stores a new run, queued, or, when `claimFor` is given and nothing waits in the queue
   * and the per-user and per-script limits allow, already claimed (starting) by that
   * replica with its transition row. One statement either way.
   */
  async insert(run: ExecutionRecord, claimFor?: ClaimOnCreate): Promise<ExecutionRecord> {
    const columns: string[] = [];
    const values: unknown[] = [claimFor?.instanceId ?? null, claimFor?.maxRunsPerUser ?? 0, claimFor?.maxRunsPerScript ?? 0, run.userId, run.scriptId];
    for (const column of this.runs.metadata.columns) {
      const value = (run as unknown as Record<string, unknown>)[column.propertyName];
      if (value === undefined || column.propertyName === 'state' || column.propertyName === 'ownerInstance') continue;
      columns.push(column.databaseName);
      values.push(column.type === 'jsonb' && value !== null ? JSON.stringify(value) : value);
    }
    const placeholders = columns.map((_, i) => `$${i + 6}`);
    const rows: Record<string, unknown>[] = await this.runs.query(
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
    return this.toRecord(rows[0]);
  }

  /**
   * Moves up to `free` queued runs to starting for replica `instanceId`, with their transition
   * rows, in one statement (it commits whole or not at all, so trying it again claims nothing
   * twice). It locks a window of the queue, ranks each candidate among its user's and its
   * script's active runs, and takes the oldest ones within every limit. Per-user and per-script
   * limits are exact with one replica; concurrent claims of several replicas can overshoot them
   * by the runs claimed in the same instant. Without those limits the window is exactly the
   * free slots, so no more rows are locked than started.
   */
  async claimQueued(free: number, limits: ClaimLimits, instanceId: string): Promise<ExecutionRecord[]> {
    const limited = limits.maxRunsPerUser > 0 || limits.maxRunsPerScript > 0;
    const rows: Record<string, unknown>[] = await this.runs.query(
      `WITH chosen AS (
         WITH locked AS (
           SELECT id, user_id, script_id, created_at FROM execution.executions
           WHERE state = 'queued' ORDER BY created_at LIMIT $4 FOR UPDATE SKIP LOCKED
         ), ranked AS (
           SELECT l.id, l.created_at,
             row_number() OVER (PARTITION BY l.user_id ORDER BY l.created_at)
               + ${activeRunsWhere('user_id', 'l.user_id')} AS user_slot,
             row_number() OVER (PARTITION BY l.script_id ORDER BY l.created_at)
               + ${activeRunsWhere('script_id', 'l.script_id')} AS script_slot
           FROM locked l
         )
         SELECT id FROM ranked WHERE ($2 = 0 OR user_slot <= $2) AND ($3 = 0 OR script_slot <= $3) ORDER BY created_at LIMIT $1
       ),
       claimed AS (
         UPDATE execution.executions e SET state = 'starting', state_reason = '', owner_instance = $5, version = e.version + 1
         FROM chosen WHERE e.id = chosen.id AND e.state = 'queued' RETURNING e.*
       ),
       logged AS (
         INSERT INTO execution.execution_transitions (execution_id, from_state, to_state, reason)
         SELECT id, 'queued', 'starting', '' FROM claimed
       )
       SELECT * FROM claimed ORDER BY created_at`,
      [free, limits.maxRunsPerUser, limits.maxRunsPerScript, limited ? Math.max(free * 10, 100) : free, instanceId],
    );
    return rows.map((row) => this.toRecord(row));
  }

  /** Applies `patch` (and `change`, with its transition row) to the run when it is in one of `from`; undefined otherwise. */
  async update(id: string, from: ExecutionState[], patch: RunPatch, change?: { state: ExecutionState; reason: string }) {
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
    const rows: Record<string, unknown>[] = await this.runs.query(
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

  /** Writes where the output got to, while replica `instanceId` owns the active run; false when it does not any more. */
  async storeLogCursor(id: string, state: StoredLogCursor, instanceId: string): Promise<boolean> {
    const result: unknown = await this.runs.query(
      `UPDATE execution.executions SET log_cursor = $2
       WHERE id = $1 AND owner_instance = $3 AND state IN ('starting', 'running') RETURNING id`,
      [id, JSON.stringify(state), instanceId],
    );
    return resultRows(result).length > 0;
  }

  /** Runs starting or running on replica `instanceId`. */
  async activeOwnedBy(instanceId: string): Promise<{ id: string; runtimeRef: string | null }[]> {
    const rows: { id: string; runtime_ref: string | null }[] = await this.runs.query(
      `SELECT id, runtime_ref FROM execution.executions WHERE state IN ('starting', 'running') AND owner_instance = $1`,
      [instanceId],
    );
    return rows.map((r) => ({ id: r.id, runtimeRef: r.runtime_ref }));
  }

  /** Of these runs, those another replica than `instanceId` owns. */
  async ownedElsewhere(ids: string[], instanceId: string): Promise<string[]> {
    const rows: { id: string }[] = await this.runs.query(
      `SELECT id FROM execution.executions WHERE id = ANY($1::uuid[]) AND owner_instance IS DISTINCT FROM $2`,
      [ids, instanceId],
    );
    return rows.map((r) => r.id);
  }

  /** Of these runs, those that ended. */
  async endedAmong(ids: string[]): Promise<string[]> {
    const rows: { id: string }[] = await this.runs.query(
      `SELECT id FROM execution.executions WHERE id = ANY($1::uuid[]) AND state NOT IN ('queued', 'starting', 'running')`,
      [ids],
    );
    return rows.map((r) => r.id);
  }

  /** Replica `instanceId` is alive now. */
  async heartbeat(instanceId: string) {
    await this.runs.query(
      `INSERT INTO execution.instances (instance_id) VALUES ($1)
       ON CONFLICT (instance_id) DO UPDATE SET last_seen = now()`,
      [instanceId],
    );
  }

  /**
   * Gives `instanceId` the active runs of replicas unseen for `deadAfterSeconds`. The UPDATE is
   * conditional on the run's owner still being the dead replica, so when several replicas
   * adopt at once each run gets exactly one new owner.
   */
  async adoptRunsOfDeadReplicas(instanceId: string, deadAfterSeconds: number): Promise<{ id: string; previousOwner: string }[]> {
    const result: unknown = await this.runs.query(
      `UPDATE execution.executions e SET owner_instance = $1, version = e.version + 1
       FROM execution.instances i
       WHERE e.owner_instance = i.instance_id AND i.instance_id <> $1
         AND i.last_seen < now() - make_interval(secs => $2) AND e.state IN ('starting', 'running')
       RETURNING e.id, i.instance_id AS previous_owner`,
      [instanceId, deadAfterSeconds],
    );
    return resultRows<{ id: string; previous_owner: string }>(result).map((r) => ({ id: r.id, previousOwner: r.previous_owner }));
  }

  /** The user's submissions in the last 60 s (and the oldest of them), and the runs waiting in the queue. */
  async submissionCounts(userId: string): Promise<{ recent: number; oldest: Date | null; queued: number }> {
    const [counts]: { recent: string; oldest: Date | null; queued: string }[] = await this.runs.query(
      `SELECT count(*) FILTER (WHERE user_id = $1 AND created_at > now() - interval '60 seconds') AS recent,
              min(created_at) FILTER (WHERE user_id = $1 AND created_at > now() - interval '60 seconds') AS oldest,
              count(*) FILTER (WHERE state = 'queued') AS queued
       FROM execution.executions WHERE state = 'queued' OR (user_id = $1 AND created_at > now() - interval '60 seconds')`,
      [userId],
    );
    return { recent: Number(counts.recent), oldest: counts.oldest, queued: Number(counts.queued) };
  }

  /** 1-based position of a queued run in the queue. */
  async queuePosition(id: string): Promise<number> {
    const [row]: { position: string }[] = await this.runs.query(
      // Compared in the database: created_at has microseconds, a JS Date only milliseconds.
      `SELECT count(*) AS position FROM execution.executions q, execution.executions r
       WHERE r.id = $1 AND q.state = 'queued' AND (q.created_at, q.id) <= (r.created_at, r.id)`,
      [id],
    );
    return Number(row.position);
  }

  transitions(id: string): Promise<StateTransitionRow[]> {
    return this.runs.query(
      `SELECT from_state AS "fromState", to_state AS "toState", reason, at FROM execution.execution_transitions
       WHERE execution_id = $1 ORDER BY id`,
      [id],
    );
  }

  /** Newest first, `take` of them, after run `after` (the previous page's last) when given. */
  page(filter: { userId?: string; scriptId?: string; state?: string; after?: string }, take: number): Promise<ExecutionRecord[]> {
    const query = this.runs.createQueryBuilder('e').orderBy('e.created_at', 'DESC').addOrderBy('e.id', 'DESC').take(take);
    if (filter.userId !== undefined) query.andWhere('e.user_id = :userId', { userId: filter.userId });
    if (filter.scriptId) query.andWhere('e.script_id = :scriptId', { scriptId: filter.scriptId });
    if (filter.state) query.andWhere('e.state = :state', { state: filter.state });
    if (filter.after !== undefined) {
      // Compared in the database, where created_at has microseconds.
      query.andWhere('(e.created_at, e.id) < (SELECT p.created_at, p.id FROM execution.executions p WHERE p.id = :after)', { after: filter.after });
    }
    return query.getMany();
  }

  activeRunOf(scriptId: string): Promise<ExecutionRecord | null> {
    return this.runs.findOneBy({ scriptId, state: In([...ACTIVE_STATES]) });
  }

  /** Active run ids by script id. */
  async activeRunsOf(scriptIds: string[]): Promise<Map<string, string>> {
    if (!scriptIds.length) return new Map();
    const rows = await this.runs.find({ select: { id: true, scriptId: true }, where: { scriptId: In(scriptIds), state: In([...ACTIVE_STATES]) } });
    return new Map(rows.map((r) => [r.scriptId, r.id]));
  }

  recentRunsOf(scriptId: string, limit: number): Promise<ExecutionRecord[]> {
    return this.runs.find({ where: { scriptId }, order: { createdAt: 'DESC', id: 'DESC' }, take: limit });
  }

  /** A raw row (column names) as the entity (property names). */
  private toRecord(row: Record<string, unknown>): ExecutionRecord {
    const record = this.runs.create();
    for (const column of this.runs.metadata.columns) {
      if (column.databaseName in row) (record as unknown as Record<string, unknown>)[column.propertyName] = row[column.databaseName];
    }
    return record;
  }
}
