import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import { TERMINAL_STATES } from '#contracts/execution-states.js';
import { Subjects } from '#contracts/subjects.js';
import type { Caller } from '#common/auth.js';
import { EventBus } from '#common/bus.js';
import { failedPrecondition, notFound, permissionDenied, tooManyRequests, unauthenticated } from '#common/errors.js';
import { rootLogger } from '#common/logger.js';
import type { ExecutionConfig } from '../execution.config.js';
import { sessionServiceAddress } from '../runtime/kubernetes/pod-manifest.js';
import type { LaunchSession } from '../runtime/launch-spec.js';
import { RunDispatcher } from '../runs/run-dispatcher.service.js';
import { RunStateStore } from '../runs/run-state.store.js';
import { freeLoopbackPort } from '../runtime/loopback-port.js';
import { sessionsConfigFrom, type SessionsConfig } from './sessions.config.js';
import { isUuid } from '#common/ids.js';

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

/** What `open()` reserved for a run about to be stored. */
export interface OpenedSession {
  id: string;
  /** What the runtime needs: the port the script is told to listen on. */
  launch: LaunchSession;
}

const SELECT = `SELECT s.id, s.execution_id AS "executionId", s.user_id AS "userId", s.username, s.script_id AS "scriptId",
  s.script_name AS "scriptName", s.upstream, s.state, s.closed_reason AS "closedReason", coalesce(e.state, 'queued') AS "executionState",
  s.created_at AS "createdAt", s.last_heartbeat_at AS "lastHeartbeatAt", s.closed_at AS "closedAt"
  FROM execution.sessions s LEFT JOIN execution.executions e ON e.id = s.execution_id`;
const LIMIT_LOCK = 7_402_113; // pg advisory lock key: serializes the session-limit check with the insert
const TERMINAL = [...TERMINAL_STATES];

const hash = (secret: string) => createHash('sha256').update(secret).digest('hex');
const secret = () => randomBytes(32).toString('base64url');

/**
 * Interactive sessions: opened with their run (submit), kept alive by heartbeats, closed
 * when idle, on request, or when their run ends (closing cancels the run). Entry tokens
 * and browser credentials are stored hashed; the upstream address (a loopback port or the
 * session's Service) never leaves this service except to a holder of a valid credential.
 */
@Injectable()
export class SessionsService implements OnApplicationBootstrap, OnModuleDestroy {
  readonly settings: SessionsConfig;
  private timer?: NodeJS.Timeout;
  private unsubscribe?: () => void;
  private sweeping = false;
  private readonly log = rootLogger().child({ service: 'execution', component: 'SessionsService' });

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    @Inject('SERVICE_CONFIG') private readonly config: ExecutionConfig,
    private readonly dispatcher: RunDispatcher,
    private readonly state: RunStateStore,
    private readonly bus: EventBus,
  ) {
    this.settings = sessionsConfigFrom(config);
  }

  onApplicationBootstrap() {
    // Every replica closes the sessions of runs that ended; the UPDATE is conditional, so doing it twice is harmless.
    this.unsubscribe = this.bus.subscribe(Subjects.runFinished, (event) =>
      this.closeForRun(event.run.executionId, `its run ended (${event.run.state})`),
    );
    const everyMs = Math.min(5000, Math.max(500, (this.settings.SESSION_IDLE_SECONDS * 1000) / 4));
    this.timer = setInterval(() => void this.sweep(), everyMs);
    this.timer.unref();
  }

  onModuleDestroy() {
    clearInterval(this.timer);
    this.unsubscribe?.();
  }

  // ------------------------------------------------------------------ opening (from submit)

  /**
   * Reserves a session for a run about to be stored: checks the per-user and global limits
   * (429 with a clear message), picks where the script listens, and stores the session.
   * The caller stores the run next, or calls `discard()` when that fails.
   */
  async open(caller: Caller, run: { executionId: string; scriptId: string; scriptName: string }): Promise<OpenedSession> {
    const { MAX_SESSIONS_PER_USER: perUser, MAX_SESSIONS: global } = this.settings;
    const kubernetes = this.config.EXECUTION_RUNTIME === 'kubernetes';
    const id = randomUUID();
    return this.db.transaction(async (m: EntityManager) => {
      await m.query('SELECT pg_advisory_xact_lock($1)', [LIMIT_LOCK]);
      const [counts]: { mine: string; total: string }[] = await m.query(
        `SELECT count(*) FILTER (WHERE user_id = $1) AS mine, count(*) AS total FROM execution.sessions WHERE state = 'open'`,
        [caller.userId],
      );
      if (Number(counts.mine) >= perUser) {
        throw tooManyRequests(
          `You already have ${counts.mine} open interactive sessions, the most one user may have (${perUser}); close one before starting another`,
          30,
        );
      }
      if (Number(counts.total) >= global) {
        throw tooManyRequests(`The platform has reached its limit of ${global} open interactive sessions; try again when one closes`, 60);
      }
      let port: number;
      let upstream: string;
      if (kubernetes) {
        // Every pod has its own network namespace: the fixed port, behind the session's own Service.
        port = this.settings.SESSION_PORT;
        upstream = sessionServiceAddress(run.executionId, this.config.SCRIPT_NAMESPACE, port);
      } else {
        const taken: { upstream: string }[] = await m.query(`SELECT upstream FROM execution.sessions WHERE state = 'open'`);
        port = await freeLoopbackPort(new Set(taken.map((t) => Number(t.upstream.split(':').pop()))));
        upstream = `127.0.0.1:${port}`;
      }
      await m.query(
        `INSERT INTO execution.sessions (id, execution_id, user_id, username, script_id, script_name, upstream) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [id, run.executionId, caller.userId, caller.username, run.scriptId, run.scriptName, upstream],
      );
      return { id, launch: { sessionId: id, port, bindAllInterfaces: kubernetes } };
    });
  }

  /** Forgets a session whose run could not be stored. */
  async discard(sessionId: string) {
    await this.db.query('DELETE FROM execution.sessions WHERE id = $1', [sessionId]);
  }

  // ------------------------------------------------------------------ queries and commands

  /** A session the caller may see (theirs, or any for an admin); others are reported missing. */
  async get(caller: Caller, sessionId: string): Promise<SessionRow> {
    const missing = () => notFound(`Session ${sessionId} not found`);
    if (!isUuid(sessionId)) throw missing();
    const [row]: SessionRow[] = await this.db.query(`${SELECT} WHERE s.id = $1`, [sessionId]);
    if (!row || (row.userId !== caller.userId && caller.level !== 'admin')) throw missing();
    return row;
  }

  async list(caller: Caller, options: { allUsers: boolean; includeClosed: boolean }): Promise<SessionRow[]> {
    if (options.allUsers && caller.level !== 'admin') throw permissionDenied("Listing every user's sessions requires level admin");
    const where: string[] = [];
    const values: unknown[] = [];
    if (!options.allUsers) {
      values.push(caller.userId);
      where.push(`s.user_id = $${values.length}`);
    }
    if (!options.includeClosed) where.push(`s.state = 'open'`);
    return this.db.query(`${SELECT} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY s.created_at DESC LIMIT 100`, values);
  }

  async heartbeat(caller: Caller, sessionId: string): Promise<SessionRow> {
    const session = await this.get(caller, sessionId);
    if (session.state !== 'open') throw failedPrecondition(`Session ${sessionId} is closed: ${session.closedReason}`);
    await this.db.query(`UPDATE execution.sessions SET last_heartbeat_at = now() WHERE id = $1 AND state = 'open'`, [sessionId]);
    return this.get(caller, sessionId);
  }

  async close(caller: Caller, sessionId: string): Promise<SessionRow> {
    const session = await this.get(caller, sessionId);
    if (session.state === 'open') await this.closeAndStop([sessionId], `closed by ${caller.username}`);
    return this.get(caller, sessionId);
  }

  idleDeadline(session: SessionRow): Date | null {
    if (session.state !== 'open') return null;
    return new Date(new Date(session.lastHeartbeatAt).getTime() + this.settings.SESSION_IDLE_SECONDS * 1000);
  }

  /** A one-time entry token for the session host (valid SESSION_ENTRY_SECONDS, stored hashed). */
  async createEntry(caller: Caller, sessionId: string): Promise<{ token: string; expiresAt: Date }> {
    const session = await this.get(caller, sessionId);
    if (session.state !== 'open') throw failedPrecondition(`Session ${sessionId} is closed: ${session.closedReason}`);
    const token = secret();
    const expiresAt = new Date(Date.now() + this.settings.SESSION_ENTRY_SECONDS * 1000);
    await this.db.query(
      `INSERT INTO execution.session_secrets (hash, session_id, kind, user_id, expires_at) VALUES ($1, $2, 'entry', $3, $4)`,
      [hash(token), sessionId, caller.userId, expiresAt],
    );
    await this.db.query(`UPDATE execution.sessions SET last_heartbeat_at = now() WHERE id = $1 AND state = 'open'`, [sessionId]);
    return { token, expiresAt };
  }

  /** Exchanges an entry token (single use: deleted as it is read) for a browser credential. */
  async redeemEntry(sessionId: string, token: string): Promise<{ credential: string; maxAgeSeconds: number }> {
    const refused = () =>
      permissionDenied('This entry link is not valid: it was already used, has expired, or belongs to another session. Open the session again from Scriptorium.');
    if (!isUuid(sessionId) || !token) throw refused();
    const [rows] = (await this.db.query(
      `DELETE FROM execution.session_secrets WHERE hash = $1 AND kind = 'entry' RETURNING session_id AS "sessionId", user_id AS "userId", expires_at AS "expiresAt"`,
      [hash(token)],
    )) as [{ sessionId: string; userId: string; expiresAt: Date }[], number];
    const entry = rows[0];
    if (!entry || entry.sessionId !== sessionId || new Date(entry.expiresAt).getTime() < Date.now()) throw refused();
    const [session]: { state: string; closedReason: string }[] = await this.db.query(
      `SELECT state, closed_reason AS "closedReason" FROM execution.sessions WHERE id = $1`,
      [sessionId],
    );
    if (!session || session.state !== 'open') throw failedPrecondition(`This session has ended: ${session?.closedReason || 'closed'}`);
    const credential = secret();
    const maxAgeSeconds = this.settings.SESSION_COOKIE_SECONDS;
    await this.db.query(
      `INSERT INTO execution.session_secrets (hash, session_id, kind, user_id, expires_at) VALUES ($1, $2, 'cookie', $3, now() + make_interval(secs => $4))`,
      [hash(credential), sessionId, entry.userId, maxAgeSeconds],
    );
    return { credential, maxAgeSeconds };
  }

  /** Where a session's traffic goes, for the holder of a valid browser credential. */
  async resolveUpstream(sessionId: string, credential: string): Promise<{ upstream: string; userId: string }> {
    if (!isUuid(sessionId) || !credential) throw unauthenticated('No valid session credential');
    const [row]: { upstream: string; userId: string; state: string; closedReason: string }[] = await this.db.query(
      `SELECT s.upstream, c.user_id AS "userId", s.state, s.closed_reason AS "closedReason" FROM execution.session_secrets c
       JOIN execution.sessions s ON s.id = c.session_id
       WHERE c.hash = $1 AND c.kind = 'cookie' AND c.session_id = $2 AND c.expires_at > now()`,
      [hash(credential), sessionId],
    );
    if (!row) throw unauthenticated('No valid session credential');
    if (row.state !== 'open') throw failedPrecondition(`This session has ended: ${row.closedReason}`);
    return { upstream: row.upstream, userId: row.userId };
  }

  // ------------------------------------------------------------------ ending

  private async closeForRun(executionId: string, reason: string) {
    await this.db.query(
      `UPDATE execution.sessions SET state = 'closed', closed_reason = $2, closed_at = now() WHERE execution_id = $1 AND state = 'open'`,
      [executionId, reason],
    );
  }

  /** Closes sessions and cancels their runs (a queued run is dequeued; an active one stopped where it runs). */
  private async closeAndStop(sessionIds: string[], reason: string) {
    if (!sessionIds.length) return;
    const [rows] = (await this.db.query(
      `UPDATE execution.sessions SET state = 'closed', closed_reason = $2, closed_at = now() WHERE id = ANY($1) AND state = 'open'
       RETURNING execution_id AS "executionId"`,
      [sessionIds, reason],
    )) as [{ executionId: string }[], number];
    await this.db.query(`DELETE FROM execution.session_secrets WHERE session_id = ANY($1) AND kind = 'entry'`, [sessionIds]);
    for (const { executionId } of rows) await this.stopRun(executionId, reason);
  }

  private async stopRun(executionId: string, reason: string) {
    // Fails fast: a caller may be waiting, and the upkeep sweep finds a closed session's queued run again.
    const dequeued = await this.state.transition(
      executionId,
      ['queued'],
      'cancelled',
      `session ${reason}`,
      { finishedAt: new Date(), launchSpec: null },
      { failFast: true },
    );
    if (dequeued) {
      this.bus.publish(Subjects.outputProduced, { executionId, userId: dequeued.userId, lines: [], final: true });
      return;
    }
    // Stopped here when this replica runs it; otherwise the owner's sweep stops it.
    this.dispatcher.stop(executionId, 'cancelled');
  }

  /**
   * Periodic upkeep: closes idle sessions (cancelling their runs), stops runs of sessions
   * closed elsewhere that this replica executes, closes sessions whose run ended unseen,
   * and drops expired secrets and old closed sessions.
   */
  async sweep() {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      const idle = this.settings.SESSION_IDLE_SECONDS;
      const stale: { id: string }[] = await this.db.query(
        `SELECT id FROM execution.sessions WHERE state = 'open' AND last_heartbeat_at < now() - make_interval(secs => $1)`,
        [idle],
      );
      await this.closeAndStop(stale.map((s) => s.id), `idle: no heartbeat for ${idle} s`);
      const orphans: { executionId: string; closedReason: string }[] = await this.db.query(
        `SELECT s.execution_id AS "executionId", s.closed_reason AS "closedReason" FROM execution.sessions s
         JOIN execution.executions e ON e.id = s.execution_id
         WHERE s.state = 'closed' AND (e.state = 'queued' OR (e.state IN ('starting', 'running') AND e.owner_instance = $1))`,
        [this.config.INSTANCE_ID],
      );
      for (const o of orphans) await this.stopRun(o.executionId, o.closedReason);
      await this.db.query(
        `UPDATE execution.sessions s SET state = 'closed', closed_at = now(),
           closed_reason = 'its run ended (' || coalesce((SELECT e.state FROM execution.executions e WHERE e.id = s.execution_id), 'gone') || ')'
         WHERE s.state = 'open' AND (
           EXISTS (SELECT 1 FROM execution.executions e WHERE e.id = s.execution_id AND e.state = ANY($1))
           OR (NOT EXISTS (SELECT 1 FROM execution.executions e WHERE e.id = s.execution_id) AND s.created_at < now() - interval '1 minute'))`,
        [TERMINAL],
      );
      await this.db.query(`DELETE FROM execution.session_secrets WHERE expires_at < now()`);
      await this.db.query(`DELETE FROM execution.sessions WHERE state = 'closed' AND closed_at < now() - interval '7 days'`);
    } catch (error) {
      this.log.error({ err: error }, 'session upkeep failed');
    } finally {
      this.sweeping = false;
    }
  }
}
