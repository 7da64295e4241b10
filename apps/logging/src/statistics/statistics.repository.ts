import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { OwnerScope } from '../logs/log-access.js';
import { runConditions } from '../runs/log-runs.repository.js';
import type { RunFilter } from '../search/search-query.js';

const FAILED = `('failed', 'timed_out', 'cancelled', 'lost')`;
/** Most used scripts and projects listed. */
const TOP = 10;

/** The SQL of log statistics: aggregates over `log_runs` and `log_streams`. */
@Injectable()
export class StatisticsRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  async totals(scope: OwnerScope, filter: RunFilter) {
    const params: unknown[] = [];
    const where = runConditions(scope, filter, params);
    const from = `FROM logging.log_runs r LEFT JOIN logging.log_streams s USING (execution_id) ${where.length ? `WHERE ${where.join(' AND ')}` : ''}`;
    const [totals] = await this.db.query(
      `SELECT count(*)::bigint AS runs, count(*) FILTER (WHERE r.state = 'succeeded')::bigint AS succeeded,
              count(*) FILTER (WHERE r.state IN ${FAILED})::bigint AS failed, coalesce(sum(r.duration_ms), 0)::bigint AS duration_ms,
              coalesce(sum(s.stored_bytes) FILTER (WHERE s.deleted_at IS NULL), 0)::bigint AS stored_bytes,
              coalesce(sum(s.line_count) FILTER (WHERE s.deleted_at IS NULL), 0)::bigint AS stored_lines, count(DISTINCT r.user_id)::bigint AS users ${from}`,
      params,
    );
    const scripts = await this.db.query(
      `SELECT r.script_id, count(*)::bigint AS runs, count(*) FILTER (WHERE r.state = 'succeeded')::bigint AS succeeded, coalesce(sum(r.duration_ms), 0)::bigint AS duration_ms
       ${from} GROUP BY r.script_id ORDER BY runs DESC, r.script_id LIMIT ${TOP}`,
      params,
    );
    const projects = await this.db.query(
      `SELECT r.project_id, max(r.project_name) AS project_name, count(*)::bigint AS runs ${from} ${where.length ? 'AND' : 'WHERE'} r.project_id <> ''
       GROUP BY r.project_id ORDER BY runs DESC, r.project_id LIMIT ${TOP}`,
      params,
    );
    const days = await this.db.query(
      `SELECT to_char(r.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, count(*)::bigint AS runs,
              count(*) FILTER (WHERE r.state = 'succeeded')::bigint AS succeeded, count(*) FILTER (WHERE r.state IN ${FAILED})::bigint AS failed
       ${from} GROUP BY day ORDER BY day`,
      params,
    );
    return { totals, scripts, projects, days } as {
      totals: Record<string, string>;
      scripts: { script_id: string; runs: string; succeeded: string; duration_ms: string }[];
      projects: { project_id: string; project_name: string; runs: string }[];
      days: { day: string; runs: string; succeeded: string; failed: string }[];
    };
  }
}
