import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { Subjects } from '#contracts/subjects.js';
import type { Caller } from '#common/auth.js';
import { EventBus } from '#common/bus.js';
import { failedPrecondition, notFound, permissionDenied, tooManyRequests, unauthenticated } from '#common/errors.js';
import { isUuid } from '#common/ids.js';
import { rootLogger } from '#common/logger.js';
import type { ExecutionConfig } from '../execution.config.js';
import { RunControl } from '../runs/runs.port.js';
import type { OpenedSession, SessionOpener } from '../runs/sessions.port.js';
import { ScriptRuntime } from '../runtime/script-runtime.js';
import { sessionsConfigFrom, type SessionsConfig } from './sessions.config.js';
import { SessionsRepository, type SessionRow } from './sessions.repository.js';

const hash = (secret: string) => createHash('sha256').update(secret).digest('hex');
const secret = () => randomBytes(32).toString('base64url');

/**
 * Interactive sessions: opened with their run (submit), kept alive by heartbeats, closed
 * when idle, on request, or when their run ends (closing cancels the run). Entry tokens
 * and browser credentials are stored hashed; the upstream address (a loopback port or the
 * session's Service) never leaves this service except to a holder of a valid credential.
 */
@Injectable()
export class SessionsService implements SessionOpener, OnApplicationBootstrap, OnModuleDestroy {
  readonly settings: SessionsConfig;
  private timer?: NodeJS.Timeout;
  private unsubscribe?: () => void;
  private sweeping = false;
  private readonly log = rootLogger().child({ service: 'execution', component: 'SessionsService' });

  constructor(
    private readonly sessions: SessionsRepository,
    @Inject('SERVICE_CONFIG') private readonly config: ExecutionConfig,
    private readonly runs: RunControl,
    private readonly bus: EventBus,
    private readonly runtime: ScriptRuntime,
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
    const id = randomUUID();
    return this.sessions.open(caller.userId, async ({ mine, total, openPorts }) => {
      if (mine >= perUser) {
        throw tooManyRequests(
          `You already have ${mine} open interactive sessions, the most one user may have (${perUser}); close one before starting another`,
          30,
        );
      }
      if (total >= global) {
        throw tooManyRequests(`The platform has reached its limit of ${global} open interactive sessions; try again when one closes`, 60);
      }
      const { port, upstream, bindAllInterfaces } = await this.runtime.sessionEndpoint(run.executionId, openPorts);
      return {
        row: { id, executionId: run.executionId, userId: caller.userId, username: caller.username, scriptId: run.scriptId, scriptName: run.scriptName, upstream },
        result: { id, launch: { sessionId: id, port, bindAllInterfaces } },
      };
    });
  }

  /** Forgets a session whose run could not be stored. */
  async discard(sessionId: string) {
    await this.sessions.delete(sessionId);
  }

  // ------------------------------------------------------------------ queries and commands

  /** A session the caller may see (theirs, or any for an admin); others are reported missing. */
  async get(caller: Caller, sessionId: string): Promise<SessionRow> {
    const missing = () => notFound(`Session ${sessionId} not found`);
    if (!isUuid(sessionId)) throw missing();
    const row = await this.sessions.find(sessionId);
    if (!row || (row.userId !== caller.userId && caller.level !== 'admin')) throw missing();
    return row;
  }

  async list(caller: Caller, options: { allUsers: boolean; includeClosed: boolean }): Promise<SessionRow[]> {
    if (options.allUsers && caller.level !== 'admin') throw permissionDenied("Listing every user's sessions requires level admin");
    return this.sessions.list({ userId: options.allUsers ? undefined : caller.userId, includeClosed: options.includeClosed });
  }

  async heartbeat(caller: Caller, sessionId: string): Promise<SessionRow> {
    const session = await this.get(caller, sessionId);
    if (session.state !== 'open') throw failedPrecondition(`Session ${sessionId} is closed: ${session.closedReason}`);
    await this.sessions.touch(sessionId);
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
    await this.sessions.addEntry(hash(token), sessionId, caller.userId, expiresAt);
    await this.sessions.touch(sessionId);
    return { token, expiresAt };
  }

  /** Exchanges an entry token (single use: deleted as it is read) for a browser credential. */
  async redeemEntry(sessionId: string, token: string): Promise<{ credential: string; maxAgeSeconds: number }> {
    const refused = () =>
      permissionDenied('This entry link is not valid: it was already used, has expired, or belongs to another session. Open the session again from Scriptorium.');
    if (!isUuid(sessionId) || !token) throw refused();
    const entry = await this.sessions.takeEntry(hash(token));
    if (!entry || entry.sessionId !== sessionId || new Date(entry.expiresAt).getTime() < Date.now()) throw refused();
    const session = await this.sessions.stateOf(sessionId);
    if (!session || session.state !== 'open') throw failedPrecondition(`This session has ended: ${session?.closedReason || 'closed'}`);
    const credential = secret();
    const maxAgeSeconds = this.settings.SESSION_COOKIE_SECONDS;
    await this.sessions.addCredential(hash(credential), sessionId, entry.userId, maxAgeSeconds);
    return { credential, maxAgeSeconds };
  }

  /** Where a session's traffic goes, for the holder of a valid browser credential. */
  async resolveUpstream(sessionId: string, credential: string): Promise<{ upstream: string; userId: string }> {
    if (!isUuid(sessionId) || !credential) throw unauthenticated('No valid session credential');
    const row = await this.sessions.byCredential(hash(credential), sessionId);
    if (!row) throw unauthenticated('No valid session credential');
    if (row.state !== 'open') throw failedPrecondition(`This session has ended: ${row.closedReason}`);
    return { upstream: row.upstream, userId: row.userId };
  }

  // ------------------------------------------------------------------ ending

  private async closeForRun(executionId: string, reason: string) {
    await this.sessions.closeForRun(executionId, reason);
  }

  /** Closes sessions and cancels their runs (a queued run is dequeued; an active one stopped where it runs). */
  private async closeAndStop(sessionIds: string[], reason: string) {
    if (!sessionIds.length) return;
    for (const executionId of await this.sessions.close(sessionIds, reason)) await this.stopRun(executionId, reason);
  }

  private async stopRun(executionId: string, reason: string) {
    // Fails fast: a caller may be waiting, and the upkeep sweep finds a closed session's queued run again.
    // Stopped here when this replica runs it; otherwise the owner's sweep stops it.
    await this.runs.cancel(executionId, `session ${reason}`);
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
      await this.closeAndStop(await this.sessions.idle(idle), `idle: no heartbeat for ${idle} s`);
      for (const o of await this.sessions.closedWithLiveRuns(this.config.INSTANCE_ID)) await this.stopRun(o.executionId, o.closedReason);
      await this.sessions.closeOfEndedRuns();
      await this.sessions.deleteExpired();
    } catch (error) {
      this.log.error({ err: error }, 'session upkeep failed');
    } finally {
      this.sweeping = false;
    }
  }
}
