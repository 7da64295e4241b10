import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

export interface PolicyRow {
  id: string;
  scope: 'level' | 'group';
  target: string;
  keep_days: number | null;
  max_runs_per_script: number | null;
  max_bytes_per_user: string | null;
  updated_at: Date;
  updated_by: string;
}

export interface DoomedRun {
  execution_id: string;
  user_id: string;
  script_id: string;
  stored_bytes: string;
  created_at: Date;
  reason: string;
}

const FINISHED = `('succeeded', 'failed', 'timed_out', 'cancelled', 'lost')`;
/** Any number: replicas running the sweep agree on it. */
const SWEEP_LOCK = 'hashtext(\'scriptorium.logging.retention\')';

/** The SQL of retention: policies, what they would delete, and deleting logs' lines. */
@Injectable()
export class RetentionRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  listPolicies(): Promise<PolicyRow[]> {
    return this.db.query(`SELECT * FROM logging.retention_policies ORDER BY scope, target`);
  }

  async upsertPolicy(p: Omit<PolicyRow, 'id' | 'updated_at'>): Promise<PolicyRow> {
    const [row]: PolicyRow[] = await this.db.query(
      `INSERT INTO logging.retention_policies (scope, target, keep_days, max_runs_per_script, max_bytes_per_user, updated_by) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (scope, target) DO UPDATE SET keep_days = excluded.keep_days, max_runs_per_script = excluded.max_runs_per_script,
         max_bytes_per_user = excluded.max_bytes_per_user, updated_by = excluded.updated_by, updated_at = now()
       RETURNING *`,
      [p.scope, p.target, p.keep_days, p.max_runs_per_script, p.max_bytes_per_user, p.updated_by],
    );
    return row;
  }

  async deletePolicy(id: string): Promise<PolicyRow | undefined> {
    const [rows]: [PolicyRow[], number] = await this.db.query(`DELETE FROM logging.retention_policies WHERE id = $1 RETURNING *`, [id]);
    return rows[0];
  }

  /**
   * The finished runs with a stored log that `policy` would delete, oldest first: older than its
   * days, beyond its newest N per user and script, or beyond its byte cap per user (newest kept).
   */
  doomedBy(policy: PolicyRow, reason: { days: string; runs: string; bytes: string }): Promise<DoomedRun[]> {
    const covers = policy.scope === 'level' ? 'r.user_level = $1' : 'r.group_id = $1';
    return this.db.query(
      `SELECT execution_id, user_id, script_id, stored_bytes, created_at,
              CASE WHEN $2::integer IS NOT NULL AND created_at < now() - make_interval(days => $2::integer) THEN $5
                   WHEN nth > $3::integer THEN $6 ELSE $7 END AS reason
       FROM (SELECT r.execution_id, r.user_id, r.script_id, s.stored_bytes, r.created_at,
               row_number() OVER (PARTITION BY r.user_id, r.script_id ORDER BY r.created_at DESC, r.execution_id DESC) AS nth,
               sum(s.stored_bytes) OVER (PARTITION BY r.user_id ORDER BY r.created_at DESC, r.execution_id DESC) AS bytes_upto
             FROM logging.log_runs r JOIN logging.log_streams s USING (execution_id)
             WHERE ${covers} AND s.deleted_at IS NULL AND r.state IN ${FINISHED}) x
       WHERE ($2::integer IS NOT NULL AND created_at < now() - make_interval(days => $2::integer))
          OR nth > $3::integer OR bytes_upto > $4::bigint
       ORDER BY created_at, execution_id`,
      [policy.target, policy.keep_days, policy.max_runs_per_script, policy.max_bytes_per_user, reason.days, reason.runs, reason.bytes],
    );
  }

  /**
   * Deletes the lines of those of `executionIds` still stored and finished (owned by `userId`
   * when given), keeping each stream's row marked deleted; answers the runs it deleted. With
   * `sweep`, only while holding the sweep's advisory lock (false: another replica holds it).
   */
  async deleteLogs(executionIds: string[], deletedBy: string, reason: string, options: { userId?: string; sweep?: boolean } = {}): Promise<{ locked: boolean; deleted: { execution_id: string; user_id: string; stored_bytes: string }[] }> {
    return this.db.transaction(async (tx) => {
      if (options.sweep) {
        const [{ locked }]: { locked: boolean }[] = await tx.query(`SELECT pg_try_advisory_xact_lock(${SWEEP_LOCK}) AS locked`);
        if (!locked) return { locked: false, deleted: [] };
      }
      const [deleted]: [{ execution_id: string; user_id: string; stored_bytes: string }[], number] = await tx.query(
        `UPDATE logging.log_streams s SET deleted_at = now(), deleted_by = $2, deletion_reason = $3, stored_bytes = 0
         FROM logging.log_runs r, (SELECT execution_id, stored_bytes AS bytes FROM logging.log_streams WHERE execution_id = ANY($1::uuid[])) old
         WHERE s.execution_id = old.execution_id AND r.execution_id = s.execution_id AND s.deleted_at IS NULL AND r.state IN ${FINISHED}
           AND ($4::text IS NULL OR s.user_id = $4)
         RETURNING s.execution_id, s.user_id, old.bytes AS stored_bytes`,
        [executionIds, deletedBy, reason, options.userId ?? null],
      );
      if (deleted.length) await tx.query(`DELETE FROM logging.log_chunks WHERE execution_id = ANY($1::uuid[])`, [deleted.map((d) => d.execution_id)]);
      return { locked: true, deleted };
    });
  }

  /** Finished runs of a user whose logs are still stored. */
  async finishedRunsOf(userId: string): Promise<string[]> {
    const rows: { execution_id: string }[] = await this.db.query(
      `SELECT r.execution_id FROM logging.log_runs r JOIN logging.log_streams s USING (execution_id)
       WHERE r.user_id = $1 AND s.deleted_at IS NULL AND r.state IN ${FINISHED}`,
      [userId],
    );
    return rows.map((r) => r.execution_id);
  }
}
