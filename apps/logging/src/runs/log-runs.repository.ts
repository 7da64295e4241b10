import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { OwnerScope } from '../logs/log-access.js';
import type { RunFilter } from '../search/search-query.js';
import type { RunFacts, RunRow } from './run-context.js';

/** A run's context with its log's state, as reads want it. */
export interface RunLogRow extends RunRow {
  line_count: number | null;
  stored_bytes: string | null;
  complete: boolean | null;
  deleted_at: Date | null;
  deleted_by: string | null;
  deletion_reason: string | null;
}

export const RUN_LOG_COLUMNS = `r.*, s.line_count, s.stored_bytes, s.complete, s.deleted_at, s.deleted_by, s.deletion_reason`;

/** The SQL of `logging.log_runs`. */
@Injectable()
export class LogRunsRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /**
   * Merges what an event says into the run's row: state and exit code from the newest version,
   * context fields kept when an event does not carry them, the start kept once known, the
   * duration computed from the start (or the creation) when the publisher gives none.
   */
  async merge(f: RunFacts): Promise<void> {
    await this.db.query(
      `INSERT INTO logging.log_runs AS r (execution_id, user_id, username, user_level, script_id, script_name, group_id, project_id, project_name,
         parameters, state, exit_code, version, created_at, started_at, finished_at, duration_ms)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, coalesce($10::jsonb, '{}'), $11, $12, $13, $14, $15, $16,
         coalesce($17, (extract(epoch FROM $16::timestamptz - coalesce($15::timestamptz, $14::timestamptz)) * 1000)::bigint))
       ON CONFLICT (execution_id) DO UPDATE SET
         username = coalesce(nullif(excluded.username, ''), r.username),
         user_level = coalesce(nullif(excluded.user_level, ''), r.user_level),
         script_id = coalesce(nullif(excluded.script_id, ''), r.script_id),
         script_name = coalesce(nullif(excluded.script_name, ''), r.script_name),
         group_id = coalesce(nullif(excluded.group_id, ''), r.group_id),
         project_id = coalesce(nullif(excluded.project_id, ''), r.project_id),
         project_name = coalesce(nullif(excluded.project_name, ''), r.project_name),
         parameters = CASE WHEN $10::jsonb IS NULL THEN r.parameters ELSE excluded.parameters END,
         state = CASE WHEN excluded.version >= r.version THEN excluded.state ELSE r.state END,
         exit_code = CASE WHEN excluded.version >= r.version THEN excluded.exit_code ELSE r.exit_code END,
         version = greatest(r.version, excluded.version),
         created_at = least(r.created_at, excluded.created_at),
         started_at = coalesce(r.started_at, excluded.started_at),
         finished_at = coalesce(r.finished_at, excluded.finished_at),
         duration_ms = coalesce($17, (extract(epoch FROM coalesce(r.finished_at, excluded.finished_at)
           - coalesce(r.started_at, excluded.started_at, least(r.created_at, excluded.created_at))) * 1000)::bigint)`,
      [
        f.executionId, f.userId, f.username, f.userLevel, f.scriptId, f.scriptName, f.groupId, f.projectId, f.projectName,
        f.parameters === null ? null : JSON.stringify(f.parameters), f.state, f.exitCode, f.version, f.createdAt, f.startedAt, f.finishedAt, f.durationMs,
      ],
    );
  }

  /** The runs of a scope and filter, newest first, with their logs' state. */
  list(scope: OwnerScope, filter: RunFilter, limit: number): Promise<RunLogRow[]> {
    const params: unknown[] = [];
    const where = runConditions(scope, filter, params);
    return this.db.query(
      `SELECT ${RUN_LOG_COLUMNS} FROM logging.log_runs r LEFT JOIN logging.log_streams s USING (execution_id)
       ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY r.created_at DESC, r.execution_id DESC LIMIT $${params.push(limit)}`,
      params,
    );
  }

  async find(executionId: string): Promise<RunLogRow | undefined> {
    const [row]: RunLogRow[] = await this.db.query(
      `SELECT ${RUN_LOG_COLUMNS} FROM logging.log_runs r LEFT JOIN logging.log_streams s USING (execution_id) WHERE r.execution_id = $1`,
      [executionId],
    );
    return row;
  }
}

/** Conditions on `logging.log_runs r` for an owner scope and run filter; adds their values to `params`. */
export function runConditions(scope: OwnerScope, filter: RunFilter, params: unknown[]): string[] {
  const add = (value: unknown) => `$${params.push(value)}`;
  const where: string[] = [];
  if ('userId' in scope) where.push(`r.user_id = ${add(scope.userId)}`);
  if (filter.scriptId) where.push(`r.script_id = ${add(filter.scriptId)}`);
  if (filter.groupId) where.push(`r.group_id = ${add(filter.groupId)}`);
  if (filter.projectId) where.push(`r.project_id = ${add(filter.projectId)}`);
  if (filter.states.length) where.push(`r.state = ANY(${add(filter.states)}::text[])`);
  if (filter.from) where.push(`r.created_at >= ${add(filter.from)}::timestamptz`);
  if (filter.to) where.push(`r.created_at < ${add(filter.to)}::timestamptz`);
  if (filter.minDurationMs !== null) where.push(`r.duration_ms >= ${add(filter.minDurationMs)}`);
  if (filter.maxDurationMs !== null) where.push(`r.duration_ms <= ${add(filter.maxDurationMs)}`);
  return where;
}
