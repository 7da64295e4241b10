import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import { TERMINAL_STATES } from '#contracts/execution-states.js';
import type { SessionRoutes } from '../runs/sessions.port.js';

export interface SessionRow {
  id: string;
  executionId: string;
  userId: string;
  username: string;
  scriptId: string;
  scriptName: string;
  upstream: string;
  state: 'open' | 'closed';
  closedReason: string;
  executionState: string;
  createdAt: Date;
  lastHeartbeatAt: Date;
  closedAt: Date | null;
}

export type NewSession = Pick<SessionRow, 'id' | 'executionId' | 'userId' | 'username' | 'scriptId' | 'scriptName' | 'upstream'>;

/** One opening's view of the open sessions, inside its transaction. */
export interface OpeningContext {
  mine: number;
  total: number;
  /** Ports of the open sessions' upstream addresses (read on demand). */
  openPorts(): Promise<number[]>;
}

// A session's run state is read with it (the run's own table belongs to runs; these are reads only).
const SELECT = `SELECT s.id, s.execution_id AS "executionId", s.user_id AS "userId", s.username, s.script_id AS "scriptId",
  s.script_name AS "scriptName", s.upstream, s.state, s.closed_reason AS "closedReason", coalesce(e.state, 'queued') AS "executionState",
  s.created_at AS "createdAt", s.last_heartbeat_at AS "lastHeartbeatAt", s.closed_at AS "closedAt"
  FROM execution.sessions s LEFT JOIN execution.executions e ON e.id = s.execution_id`;
const LIMIT_LOCK = 7_402_113; // pg advisory lock key: serializes the session-limit check with the insert
const TERMINAL = [...TERMINAL_STATES];

/** The SQL of execution.sessions and execution.session_secrets (secrets arrive hashed). */
@Injectable()
export class SessionsRepository implements SessionRoutes {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /**
   * Opens a session serialized with every other opening: `decide` sees the open sessions'
   * counts (throwing refuses) and answers the row to insert, in the same transaction.
   */
  open<T>(userId: string, decide: (context: OpeningContext) => Promise<{ row: NewSession; result: T }>): Promise<T> {
    return this.db.transaction(async (m: EntityManager) => {
      await m.query('SELECT pg_advisory_xact_lock($1)', [LIMIT_LOCK]);
      const [counts]: { mine: string; total: string }[] = await m.query(
        `SELECT count(*) FILTER (WHERE user_id = $1) AS mine, count(*) AS total FROM execution.sessions WHERE state = 'open'`,
        [userId],
      );
      const { row, result } = await decide({
        mine: Number(counts.mine),
        total: Number(counts.total),
        openPorts: async () => {
          const taken: { upstream: string }[] = await m.query(`SELECT upstream FROM execution.sessions WHERE state = 'open'`);
          return taken.map((t) => Number(t.upstream.split(':').pop()));
        },
      });
      await m.query(
        `INSERT INTO execution.sessions (id, execution_id, user_id, username, script_id, script_name, upstream) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [row.id, row.executionId, row.userId, row.username, row.scriptId, row.scriptName, row.upstream],
      );
      return result;
    });
  }

  async delete(sessionId: string) {
    await this.db.query('DELETE FROM execution.sessions WHERE id = $1', [sessionId]);
  }

  async find(sessionId: string): Promise<SessionRow | undefined> {
    const [row]: SessionRow[] = await this.db.query(`${SELECT} WHERE s.id = $1`, [sessionId]);
    return row;
  }

  /** The newest 100 sessions, of `userId` only when given, open only unless `includeClosed`. */
  list(options: { userId?: string; includeClosed: boolean }): Promise<SessionRow[]> {
    const where: string[] = [];
    const values: unknown[] = [];
    if (options.userId !== undefined) {
      values.push(options.userId);
      where.push(`s.user_id = $${values.length}`);
    }
    if (!options.includeClosed) where.push(`s.state = 'open'`);
    return this.db.query(`${SELECT} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY s.created_at DESC LIMIT 100`, values);
  }

  async touch(sessionId: string) {
    await this.db.query(`UPDATE execution.sessions SET last_heartbeat_at = now() WHERE id = $1 AND state = 'open'`, [sessionId]);
  }

  async moveTo(sessionId: string, upstream: string): Promise<void> {
    await this.db.query(`UPDATE execution.sessions SET upstream = $2 WHERE id = $1 AND state = 'open'`, [sessionId, upstream]);
  }

  async addEntry(hash: string, sessionId: string, userId: string, expiresAt: Date) {
    await this.db.query(
      `INSERT INTO execution.session_secrets (hash, session_id, kind, user_id, expires_at) VALUES ($1, $2, 'entry', $3, $4)`,
      [hash, sessionId, userId, expiresAt],
    );
  }

  /** The entry with this hash, deleted as it is read (single use). */
  async takeEntry(hash: string): Promise<{ sessionId: string; userId: string; expiresAt: Date } | undefined> {
    const [rows] = (await this.db.query(
      `DELETE FROM execution.session_secrets WHERE hash = $1 AND kind = 'entry' RETURNING session_id AS "sessionId", user_id AS "userId", expires_at AS "expiresAt"`,
      [hash],
    )) as [{ sessionId: string; userId: string; expiresAt: Date }[], number];
    return rows[0];
  }

  async stateOf(sessionId: string): Promise<{ state: string; closedReason: string } | undefined> {
    const [session]: { state: string; closedReason: string }[] = await this.db.query(
      `SELECT state, closed_reason AS "closedReason" FROM execution.sessions WHERE id = $1`,
      [sessionId],
    );
    return session;
  }

  async addCredential(hash: string, sessionId: string, userId: string, maxAgeSeconds: number) {
    await this.db.query(
      `INSERT INTO execution.session_secrets (hash, session_id, kind, user_id, expires_at) VALUES ($1, $2, 'cookie', $3, now() + make_interval(secs => $4))`,
      [hash, sessionId, userId, maxAgeSeconds],
    );
  }

  /** The session behind an unexpired browser credential of that session. */
  async byCredential(hash: string, sessionId: string): Promise<{ upstream: string; userId: string; state: string; closedReason: string } | undefined> {
    const [row]: { upstream: string; userId: string; state: string; closedReason: string }[] = await this.db.query(
      `SELECT s.upstream, c.user_id AS "userId", s.state, s.closed_reason AS "closedReason" FROM execution.session_secrets c
       JOIN execution.sessions s ON s.id = c.session_id
       WHERE c.hash = $1 AND c.kind = 'cookie' AND c.session_id = $2 AND c.expires_at > now()`,
      [hash, sessionId],
    );
    return row;
  }

  async closeForRun(executionId: string, reason: string) {
    await this.db.query(
      `UPDATE execution.sessions SET state = 'closed', closed_reason = $2, closed_at = now() WHERE execution_id = $1 AND state = 'open'`,
      [executionId, reason],
    );
  }

  /** Closes the open ones of these sessions and drops their entry tokens; the runs of those it closed. */
  async close(sessionIds: string[], reason: string): Promise<string[]> {
    const [rows] = (await this.db.query(
      `UPDATE execution.sessions SET state = 'closed', closed_reason = $2, closed_at = now() WHERE id = ANY($1) AND state = 'open'
       RETURNING execution_id AS "executionId"`,
      [sessionIds, reason],
    )) as [{ executionId: string }[], number];
    await this.db.query(`DELETE FROM execution.session_secrets WHERE session_id = ANY($1) AND kind = 'entry'`, [sessionIds]);
    return rows.map((r) => r.executionId);
  }

  async idle(idleSeconds: number): Promise<string[]> {
    const stale: { id: string }[] = await this.db.query(
      `SELECT id FROM execution.sessions WHERE state = 'open' AND last_heartbeat_at < now() - make_interval(secs => $1)`,
      [idleSeconds],
    );
    return stale.map((s) => s.id);
  }

  /** Closed sessions whose run is still queued, or active on replica `instanceId`. */
  closedWithLiveRuns(instanceId: string): Promise<{ executionId: string; closedReason: string }[]> {
    return this.db.query(
      `SELECT s.execution_id AS "executionId", s.closed_reason AS "closedReason" FROM execution.sessions s
       JOIN execution.executions e ON e.id = s.execution_id
       WHERE s.state = 'closed' AND (e.state = 'queued' OR (e.state IN ('starting', 'running') AND e.owner_instance = $1))`,
      [instanceId],
    );
  }

  /** Closes open sessions whose run ended (or, after a minute, never was stored). */
  async closeOfEndedRuns() {
    await this.db.query(
      `UPDATE execution.sessions s SET state = 'closed', closed_at = now(),
         closed_reason = 'its run ended (' || coalesce((SELECT e.state FROM execution.executions e WHERE e.id = s.execution_id), 'gone') || ')'
       WHERE s.state = 'open' AND (
         EXISTS (SELECT 1 FROM execution.executions e WHERE e.id = s.execution_id AND e.state = ANY($1))
         OR (NOT EXISTS (SELECT 1 FROM execution.executions e WHERE e.id = s.execution_id) AND s.created_at < now() - interval '1 minute'))`,
      [TERMINAL],
    );
  }

  /** Drops expired secrets and sessions closed more than 7 days ago. */
  async deleteExpired() {
    await this.db.query(`DELETE FROM execution.session_secrets WHERE expires_at < now()`);
    await this.db.query(`DELETE FROM execution.sessions WHERE state = 'closed' AND closed_at < now() - interval '7 days'`);
  }
}
