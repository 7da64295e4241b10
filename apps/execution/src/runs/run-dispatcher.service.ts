import { readFileSync } from 'node:fs';
import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { OutputLine } from '#contracts/events.js';
import type { ExecutionState } from '#contracts/execution-states.js';
import { Subjects } from '#contracts/subjects.js';
import { EventBus } from '#common/bus.js';
import { rootLogger } from '#common/logger.js';
import type { ExecutionConfig } from '../execution.config.js';
import { KubernetesRuntime, type KubernetesRunObserver } from '../runtime/kubernetes/kubernetes.runtime.js';
import type { LogCursor } from '../runtime/kubernetes/log-follower.js';
import { podNameFor } from '../runtime/kubernetes/pod-manifest.js';
import { OutputPump } from '../runtime/output-pump.js';
import { ScriptRuntime, type RunExit, type RunHandle } from '../runtime/script-runtime.js';
import { ExecutionRecord, type StoredLogCursor } from './execution.entity.js';
import { activeRunsWhere, RunStateStore, type ClaimOnCreate } from './run-state.store.js';
import { moveSessionToPort } from '../sessions/session-port.js';
import { isUuid } from '#common/ids.js';

const POLL_MS = 1000;
const PROGRESS_WRITE_MS = 250;
/** Kubernetes runtime: each replica writes its heartbeat this often… */
const HEARTBEAT_MS = 10_000;
/** …and a replica unseen for this long is dead: live replicas adopt its runs. */
const DEAD_AFTER_SECONDS = 30;
/** Lines per published batch, at most (unless one read of the log brought more). */
const MAX_PUBLISH_LINES = 2000;

/**
 * Starts queued runs. The queue is the executions table itself: a replica claims
 * runs with `FOR UPDATE SKIP LOCKED`, so each accepted run starts exactly once,
 * whichever replica accepted it and even across restarts.
 *
 * Restarts: the local runtime cannot re-attach (see `recoverOrphans`). With the kubernetes
 * runtime the pods outlive the service: at start-up this replica re-attaches its own runs
 * still `starting`/`running`, and every replica adopts the runs of replicas that are dead
 * (no heartbeat in `execution.instances` for DEAD_AFTER_SECONDS): one conditional UPDATE of
 * `owner_instance` per dead replica, so each run gets exactly one new owner. Output resumes
 * from the run's stored log cursor (see OutputLedger), so no line is lost or doubled.
 */
@Injectable()
export class RunDispatcher implements OnApplicationBootstrap, OnModuleDestroy, BeforeApplicationShutdown {
  private readonly active = new Map<string, RunHandle>();
  /** Ends of runs being stored (`finish`): shutdown waits for them. */
  private readonly finishing = new Set<Promise<void>>();
  private claiming = false;
  /** Slots promised to submissions still being stored. */
  private reserved = 0;
  private again = false;
  private timer?: NodeJS.Timeout;
  private heartbeatTimer?: NodeJS.Timeout;
  private beating = false;
  private recovered = false;
  /** Nothing is claimed before the runs of the previous process are recovered. */
  private claimingStarted = false;
  private destroyed = false;
  private releaseCongestion = () => {};
  private readonly log = rootLogger().child({ service: 'execution', component: 'RunDispatcher' });

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    @Inject('SERVICE_CONFIG') private readonly config: ExecutionConfig,
    private readonly runtime: ScriptRuntime,
    private readonly state: RunStateStore,
    private readonly bus: EventBus,
  ) {}

  async onApplicationBootstrap() {
    // Output waits in the bus's outbox while the broker is away; past its bound, scripts are held.
    this.releaseCongestion = this.bus.onCongestion((congested) => this.runtime.holdOutput(congested));
    if (!(this.runtime instanceof KubernetesRuntime)) {
      await this.recoverOrphans();
      return this.startClaiming();
    }
    const runtime = this.runtime;
    await this.heartbeat();
    this.heartbeatTimer = setInterval(() => void this.beat(runtime), HEARTBEAT_MS);
    this.heartbeatTimer.unref();
    // New runs are claimed only once the old ones are followed again (the API server may be
    // unreachable for a while: then the service starts, runs wait queued, and recovery
    // retries in the background with a growing pause).
    if (!(await this.recoverPodsOnce(runtime, 0))) void this.retryRecovery(runtime);
  }

  private async retryRecovery(runtime: KubernetesRuntime) {
    for (let attempt = 1; !this.destroyed; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(30_000, 1000 * 2 ** attempt)).unref());
      if (this.destroyed || (await this.recoverPodsOnce(runtime, attempt))) return;
    }
  }

  /** One recovery attempt; on success claiming starts. */
  private async recoverPodsOnce(runtime: KubernetesRuntime, attempt: number): Promise<boolean> {
    try {
      await this.recoverPods(runtime);
      this.recovered = true;
      this.startClaiming();
      return true;
    } catch (error) {
      this.log.error({ err: error, attempt }, 'could not re-attach the runs of the pods; retrying');
      return false;
    }
  }

  private startClaiming() {
    this.claimingStarted = true;
    this.timer = setInterval(() => this.kick(), POLL_MS);
    this.kick();
  }

  /** Shutdown, first step: nothing new is claimed (queued runs stay queued for the next start). */
  onModuleDestroy() {
    this.destroyed = true;
    this.releaseCongestion();
    clearInterval(this.timer);
    clearInterval(this.heartbeatTimer);
  }

  /**
   * Shutdown, before the runtime and the database go: the local runtime's active runs get
   * SHUTDOWN_GRACE_SECONDS to finish; the others are then stopped and end `cancelled`
   * ("the platform was stopped") with their output stored, rather than being killed with
   * the launcher or found `lost` at the next start. Kubernetes pods outlive the service
   * and are re-attached at the next start, so they are left running.
   */
  async beforeApplicationShutdown() {
    if (this.runtime instanceof KubernetesRuntime) return;
    const idle = () => !this.active.size && !this.finishing.size && !this.claiming;
    if (!idle()) this.log.info({ runs: this.active.size, graceSeconds: this.config.SHUTDOWN_GRACE_SECONDS }, 'shutting down: waiting for the active runs');
    await until(idle, this.config.SHUTDOWN_GRACE_SECONDS * 1000);
    if (this.active.size) this.log.warn({ runs: this.active.size }, 'shutting down: stopping the runs still active');
    for (const handle of this.active.values()) handle.stop('shutdown', this.config.CANCEL_GRACE_SECONDS);
    // Bounded by the stop's own SIGKILL, plus the time to store the runs' ends.
    await until(idle, (this.config.CANCEL_GRACE_SECONDS + 10) * 1000);
  }

  /** Stops a run this replica is executing; false when it runs elsewhere or not at all. */
  stop(id: string, reason: 'cancelled'): boolean {
    const handle = this.active.get(id);
    handle?.stop(reason, this.config.CANCEL_GRACE_SECONDS);
    return !!handle;
  }

  /**
   * Promises a slot of this replica to a run being submitted here, so it can be stored
   * already claimed (see RunStateStore.create) and start at once: no trip through the
   * queue. Undefined when no slot is free or claiming has not begun. Each reservation
   * ends with `settle`.
   */
  reserveSlot(): ClaimOnCreate | undefined {
    if (!this.claimingStarted || this.destroyed || this.active.size + this.reserved >= this.config.MAX_CONCURRENT_RUNS) return undefined;
    this.reserved++;
    // What the stored run must satisfy, as the claim loop does.
    return { instanceId: this.config.INSTANCE_ID, maxRunsPerUser: this.config.MAX_RUNS_PER_USER, maxRunsPerScript: this.config.MAX_RUNS_PER_SCRIPT };
  }

  /** Ends a reservation: starts the run if it was stored claimed, otherwise the claim loop looks at the queue. */
  settle(run: ExecutionRecord | undefined) {
    this.reserved--;
    if (run?.state === 'starting') this.start(run);
    else this.kick();
  }

  /** Claims and starts as many queued runs as there are free slots. */
  kick() {
    if (!this.claimingStarted || this.destroyed) return;
    if (this.claiming) {
      this.again = true;
      return;
    }
    this.claiming = true;
    this.claim()
      .catch((error) => this.log.error({ err: error }, 'claiming queued runs failed'))
      .finally(() => {
        this.claiming = false;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  private async claim() {
    const free = this.config.MAX_CONCURRENT_RUNS - this.active.size - this.reserved;
    if (free <= 0) return;
    // Lock a window of the queue, rank each candidate among its user's and its script's
    // active runs, and start the oldest ones within every limit. Per-user and per-script
    // limits are exact with one replica; concurrent claims of several replicas can overshoot
    // them by the runs claimed in the same instant. Without those limits the window is
    // exactly the free slots, so no more rows are locked than started.
    const limited = this.config.MAX_RUNS_PER_USER > 0 || this.config.MAX_RUNS_PER_SCRIPT > 0;
    const claimed = await this.state.claim(
      `WITH locked AS (
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
       SELECT id FROM ranked WHERE ($2 = 0 OR user_slot <= $2) AND ($3 = 0 OR script_slot <= $3) ORDER BY created_at LIMIT $1`,
      [free, this.config.MAX_RUNS_PER_USER, this.config.MAX_RUNS_PER_SCRIPT, limited ? Math.max(free * 10, 100) : free],
      this.config.INSTANCE_ID,
    );
    for (const run of claimed) this.start(run);
  }

  private start(run: ExecutionRecord) {
    const output = this.output(run, null);
    output.attach(this.runtime.start(run.launchSpec!, output.observer));
  }

  /**
   * What a run's runtime reports goes through here: output through the OutputPump (numbered
   * lines) and the OutputLedger (published, with the log cursor stored first on kubernetes),
   * progress throttled, the end through `finish`.
   */
  private output(run: ExecutionRecord, stored: StoredLogCursor | null) {
    const kubernetes = this.runtime instanceof KubernetesRuntime ? this.runtime : undefined;
    let progressTimer: NodeJS.Timeout | undefined;
    let pendingProgress: { progress?: number; progressMessage?: string; result?: unknown } = {};
    let ended = false;
    const writeProgress = () => {
      progressTimer = undefined;
      const patch = pendingProgress;
      pendingProgress = {};
      this.state.patch(run.id, patch).catch((error) => this.log.error({ err: error, executionId: run.id }, 'storing the progress of a run failed'));
    };
    const queueProgress = (patch: typeof pendingProgress) => {
      Object.assign(pendingProgress, patch);
      progressTimer ??= setTimeout(writeProgress, PROGRESS_WRITE_MS);
    };
    let stderrTail = '';
    const ledger = new OutputLedger(
      (lines) => this.bus.publish(Subjects.outputProduced, { executionId: run.id, userId: run.userId, lines, final: false }),
      kubernetes ? (state) => this.storeLogCursor(run.id, state) : undefined,
      stored,
      () => {
        // Another replica owns the run now (it took this one for dead): let go without touching the pod.
        ended = true;
        clearTimeout(progressTimer);
        this.active.delete(run.id);
        kubernetes?.detach(run.id);
        this.log.warn({ executionId: run.id }, 'run adopted by another replica; stopped following it');
      },
      (error) => this.log.warn({ err: error, executionId: run.id }, 'storing the log cursor failed; retrying'),
    );
    const pump = new OutputPump(
      {
        lines: (lines) => ledger.lines(lines),
        progress: (progress, progressMessage) => queueProgress({ progress, progressMessage }),
        result: (result) => queueProgress({ result }),
      },
      stored?.sequence ?? 0,
    );
    const end = (exit: RunExit, progress: object, tail: string) => {
      if (ended) return;
      ended = true;
      clearTimeout(progressTimer);
      const finished = this.finish(run, pump, ledger, exit, progress, tail)
        .catch((error) => this.log.error({ err: error, executionId: run.id }, 'storing the end of a run failed'))
        .finally(() => this.finishing.delete(finished));
      this.finishing.add(finished);
    };
    const observer: KubernetesRunObserver = {
      started: (runtimeRef) => {
        this.state
          .transition(run.id, ['starting'], 'running', '', { startedAt: new Date(), runtimeRef: runtimeRef ?? null })
          .catch((error) => this.log.error({ err: error, executionId: run.id }, 'storing the start of a run failed'));
      },
      stdout: (chunk) => pump.write('stdout', chunk),
      stderr: (chunk) => {
        stderrTail = (stderrTail + chunk).slice(-2000);
        pump.write('stderr', chunk);
      },
      // The log follower delivers whole lines, then the cursor after them: flushing the pump
      // here (no partial line is pending) pairs the cursor with the exact last sequence.
      logCursor: (cursor) => {
        pump.end();
        ledger.point(cursor);
      },
      exited: (exit) => end(exit, pendingProgress, stderrTail),
      failedToStart: (message) => {
        pump.system(message);
        end({ exitCode: null, signal: null }, {}, message);
      },
      sessionPortChanged: async (port) => {
        const session = run.launchSpec?.session;
        if (session) await moveSessionToPort(this.db, session.sessionId, port);
      },
    };
    return {
      observer,
      attach: (handle: RunHandle) => {
        if (!ended) this.active.set(run.id, handle);
      },
    };
  }

  private async finish(run: ExecutionRecord, pump: OutputPump, ledger: OutputLedger, exit: RunExit, progress: object, stderrTail: string) {
    this.active.delete(run.id);
    const [state, reason] = outcome(exit, run.launchSpec!.timeoutSeconds, this.config.RUN_OUTPUT_LIMIT_MB);
    if (exit.stoppedFor) pump.system(`Run ${state.replace('_', ' ')}: ${reason}`);
    pump.end();
    if (!(await ledger.close())) return; // another replica owns the run now
    this.bus.publish(Subjects.outputProduced, { executionId: run.id, userId: run.userId, lines: [], final: true, finalSequence: pump.lastSequence });
    // The outbox holds the run's output now; the launcher's spool of it is not needed any more.
    this.runtime.releaseOutput(run.id);
    const error = state === 'failed' ? stderrTail.trim().split('\n').slice(-5).join('\n') || reason : '';
    await this.state.transition(run.id, ['starting', 'running'], state, reason, {
      ...progress,
      exitCode: exit.exitCode,
      finishedAt: new Date(),
      error,
      launchSpec: null,
    });
    this.kick();
  }

  /** Writes where the output got to, while this replica still owns the active run; false when it does not any more. */
  private async storeLogCursor(id: string, state: StoredLogCursor): Promise<boolean> {
    const result: unknown = await this.db.query(
      `UPDATE execution.executions SET log_cursor = $2
       WHERE id = $1 AND owner_instance = $3 AND state IN ('starting', 'running') RETURNING id`,
      [id, JSON.stringify(state), this.config.INSTANCE_ID],
    );
    return affectedRows(result) > 0;
  }

  /**
   * Runs this replica owned before a restart cannot be re-attached by the local
   * runtime (their output pipes died with the old process): their processes are
   * stopped and the runs end as `lost`, with the reason. What their scripts printed
   * is not lost with them: the launcher spooled it (see output-spool.ts), and it is
   * published again here, numbered as the old process numbered it.
   */
  private async recoverOrphans() {
    const rows: { id: string; user_id: string; runtime_ref: string | null }[] = await this.db.query(
      `SELECT id, user_id, runtime_ref FROM execution.executions WHERE state IN ('starting', 'running') AND owner_instance = $1`,
      [this.config.INSTANCE_ID],
    );
    if (rows.length) await this.runtime.spoolsSettled();
    for (const { id, user_id: userId, runtime_ref: runtimeRef } of rows) {
      const stopped = runtimeRef ? stopOrphanProcess(Number(runtimeRef), id) : false;
      const reason = `the execution service restarted while the run was active; its process could not be re-attached${stopped ? ' and was stopped' : ''}`;
      const finalSequence = this.replaySpool(id, userId);
      await this.markLost(id, reason, finalSequence);
      this.runtime.releaseOutput(id);
    }
    // Spools of runs that ended (the service was killed between their end and the spool's removal).
    const orphaned = new Set(rows.map((r) => r.id));
    for (const id of this.runtime.spooledRuns()) if (!orphaned.has(id)) this.runtime.releaseOutput(id);
    if (rows.length) this.log.warn({ count: rows.length }, 'marked orphaned runs as lost');
  }

  /**
   * Publishes a run's spooled output again through a fresh pump: the same chunks in the same
   * order get the same sequences, so logging drops the lines it already has and stores the
   * rest. Returns the run's last sequence, or undefined when there is no spool.
   */
  private replaySpool(id: string, userId: string): number | undefined {
    let chunks;
    try {
      chunks = this.runtime.spooledOutput(id);
    } catch (error) {
      this.log.error({ err: error, executionId: id }, 'could not read the output spool of a lost run');
      return undefined;
    }
    if (!chunks) return undefined;
    const publish = (lines: OutputLine[]) => this.bus.publish(Subjects.outputProduced, { executionId: id, userId, lines, final: false });
    // Progress and results of a lost run are not stored: only its lines.
    const pump = new OutputPump({ lines: publish, progress: () => {}, result: () => {} });
    for (const chunk of chunks) pump.write(chunk.stream, chunk.data);
    pump.end();
    this.log.info({ executionId: id, lines: pump.lastSequence }, 'replayed the output spool of a lost run');
    return pump.lastSequence;
  }

  /** `finalSequence` (the replayed spool's last line): the log completes once every line up to it is stored. */
  private async markLost(id: string, reason: string, finalSequence?: number) {
    const run = await this.state.transition(id, ['starting', 'running'], 'lost', reason, { finishedAt: new Date(), launchSpec: null });
    if (!run) return;
    if (finalSequence === undefined) this.bus.publish(Subjects.outputProduced, { executionId: id, userId: run.userId, lines: [], final: true, lost: true });
    else this.bus.publish(Subjects.outputProduced, { executionId: id, userId: run.userId, lines: [], final: true, finalSequence });
  }

  // ------------------------------------------------------------------ kubernetes: re-attach and adopt

  /**
   * Start-up with the kubernetes runtime: re-attach this replica's active runs and those of
   * dead replicas (adopted), and stop running pods whose run already ended. Afterwards each
   * heartbeat adopts again whenever another replica died.
   */
  private async recoverPods(runtime: KubernetesRuntime) {
    const own: { id: string }[] = await this.db.query(
      `SELECT id FROM execution.executions WHERE state IN ('starting', 'running') AND owner_instance = $1`,
      [this.config.INSTANCE_ID],
    );
    const adopted = await this.adoptDeadReplicas();
    const ids = [...own.map((r) => r.id), ...adopted];
    runtime.expect(ids);
    const pods = await runtime.listActive();
    await this.reattachAll(runtime, ids);
    await this.stopPodsOfEndedRuns(runtime, pods.filter((p) => !p.finished && p.instanceId === this.config.INSTANCE_ID));
  }

  private async beat(runtime: KubernetesRuntime) {
    if (this.beating) return;
    this.beating = true;
    try {
      await this.heartbeat();
      // Runs this replica follows that another replica adopted (this one was taken for dead): let go.
      const mine = [...this.active.keys()];
      if (mine.length) {
        const taken: { id: string }[] = await this.db.query(
          `SELECT id FROM execution.executions WHERE id = ANY($1::uuid[]) AND owner_instance IS DISTINCT FROM $2`,
          [mine, this.config.INSTANCE_ID],
        );
        for (const { id } of taken) {
          this.active.delete(id);
          runtime.detach(id);
          this.log.warn({ executionId: id }, 'run adopted by another replica; stopped following it');
        }
      }
      if (!this.recovered) return;
      const adopted = await this.adoptDeadReplicas();
      if (adopted.length) {
        runtime.expect(adopted);
        await this.reattachAll(runtime, adopted);
      }
    } catch (error) {
      this.log.warn({ err: error }, 'heartbeat or adoption failed');
    } finally {
      this.beating = false;
    }
  }

  private async heartbeat() {
    await this.db.query(
      `INSERT INTO execution.instances (instance_id) VALUES ($1)
       ON CONFLICT (instance_id) DO UPDATE SET last_seen = now()`,
      [this.config.INSTANCE_ID],
    );
  }

  /**
   * Takes over the active runs of replicas unseen for DEAD_AFTER_SECONDS. The UPDATE is
   * conditional on the run's owner still being the dead replica, so when several replicas
   * adopt at once each run gets exactly one new owner.
   */
  private async adoptDeadReplicas(): Promise<string[]> {
    const result: unknown = await this.db.query(
      `UPDATE execution.executions e SET owner_instance = $1, version = e.version + 1
       FROM execution.instances i
       WHERE e.owner_instance = i.instance_id AND i.instance_id <> $1
         AND i.last_seen < now() - make_interval(secs => $2) AND e.state IN ('starting', 'running')
       RETURNING e.id, i.instance_id AS previous_owner`,
      [this.config.INSTANCE_ID, DEAD_AFTER_SECONDS],
    );
    const rows = resultRows<{ id: string; previous_owner: string }>(result);
    for (const row of rows) this.log.warn({ executionId: row.id, from: row.previous_owner }, 'adopted a run of a dead replica');
    return rows.map((r) => r.id);
  }

  private async reattachAll(runtime: KubernetesRuntime, ids: string[]) {
    try {
      for (const id of ids) {
        if (this.active.has(id)) continue;
        const run = await this.db.getRepository(ExecutionRecord).findOneBy({ id });
        if (!run || (run.state !== 'starting' && run.state !== 'running')) continue;
        await this.reattach(runtime, run);
      }
    } finally {
      runtime.unexpect(ids);
    }
  }

  /** Follows an existing pod again, from the run's stored log cursor; `lost` when the pod is gone. */
  private async reattach(runtime: KubernetesRuntime, run: ExecutionRecord) {
    const stored = run.logCursor;
    const output = this.output(run, stored);
    const timeout = run.launchSpec?.timeoutSeconds ?? this.config.DEFAULT_TIMEOUT_SECONDS;
    const elapsed = run.startedAt ? (Date.now() - run.startedAt.getTime()) / 1000 : 0;
    let handle: RunHandle | null;
    try {
      handle = await runtime.reattach(run.id, output.observer, stored?.cursor, Math.max(1, Math.ceil(timeout - elapsed)));
    } catch (error) {
      this.log.error({ err: error, executionId: run.id }, 'could not re-attach a run');
      return;
    }
    if (handle) {
      output.attach(handle);
      this.log.info({ executionId: run.id, afterSequence: stored?.sequence ?? 0 }, 're-attached a run to its pod');
      return;
    }
    const pod = run.runtimeRef ?? podNameFor(run.id);
    await this.markLost(
      run.id,
      run.state === 'starting' && !run.runtimeRef
        ? `the execution service stopped before pod ${pod} was running, and the pod does not exist`
        : `pod ${pod} was gone when the execution service re-attached after a restart (deleted while no service followed it); the run's end is unknown`,
    );
  }

  /** Running pods this replica started whose run already ended (e.g. marked lost): deleted. */
  private async stopPodsOfEndedRuns(runtime: KubernetesRuntime, pods: { executionId: string; podName: string }[]) {
    const ids = pods.map((p) => p.executionId).filter((id) => isUuid(id));
    if (!ids.length) return;
    const ended: { id: string }[] = await this.db.query(
      `SELECT id FROM execution.executions WHERE id = ANY($1::uuid[]) AND state NOT IN ('queued', 'starting', 'running')`,
      [ids],
    );
    for (const { id } of ended) {
      this.log.warn({ executionId: id }, 'deleting the pod of a run that already ended');
      await runtime.deletePod(podNameFor(id), 0);
    }
  }
}

/**
 * Publishes a run's output lines. Without a log cursor (local runtime) every batch goes out
 * at once. With one (kubernetes), before a batch goes out it stores where the output got to:
 * the cursor and sequence after the lines published before, and the end of this batch. A
 * re-attach (from that cursor, numbering after that sequence) publishes exactly that batch
 * again, then continues: a batch logging already stored comes again with the same first
 * sequence and is dropped, one it never got is stored, and nothing else overlaps (logging
 * keys its rows by first sequence, so an overlap with other boundaries could drop lines).
 * One write is in flight at a time; lines that come meanwhile go out together after it.
 * The write is conditional on this replica owning the run: when another replica adopted
 * it, nothing more is published.
 */
export class OutputLedger {
  private queue: OutputLine[] = [];
  private points: { sequence: number; cursor: LogCursor }[] = [];
  private checkpoint: { sequence: number; cursor?: LogCursor };
  private replay?: { sequence: number; cursor?: LogCursor };
  private last: number;
  private writing?: Promise<void>;
  private again = false;
  private fenced = false;

  constructor(
    private readonly publish: (lines: OutputLine[]) => void,
    private readonly persist: ((state: StoredLogCursor) => Promise<boolean>) | undefined,
    stored: StoredLogCursor | null | undefined,
    private readonly onFenced: () => void = () => {},
    private readonly onError: (error: unknown) => void = () => {},
  ) {
    this.checkpoint = { sequence: stored?.sequence ?? 0, cursor: stored?.cursor };
    if (stored && stored.through > stored.sequence) this.replay = { sequence: stored.through, cursor: stored.throughCursor };
    this.last = this.checkpoint.sequence;
  }

  lines(lines: OutputLine[]) {
    if (this.fenced || !lines.length) return;
    this.last = lines.at(-1)!.sequence;
    if (!this.persist) return this.publish(lines);
    this.queue.push(...lines);
  }

  /** The log cursor after every line given so far. */
  point(cursor: LogCursor) {
    if (!this.persist || this.fenced) return;
    const previous = this.points.at(-1);
    if (previous?.sequence === this.last) previous.cursor = cursor;
    else if (this.last > this.checkpoint.sequence) this.points.push({ sequence: this.last, cursor });
    this.kick();
  }

  private kick() {
    if (this.writing) {
      this.again = true;
      return;
    }
    this.writing = this.drain().finally(() => {
      this.writing = undefined;
      if (this.again && !this.fenced) {
        this.again = false;
        this.kick();
      }
    });
  }

  /** At the run's end: publishes what is left; false when another replica owns the run. */
  async close(): Promise<boolean> {
    while (this.writing) await this.writing.catch(() => undefined);
    if (this.fenced) return false;
    if (this.queue.length) this.publish(this.queue.splice(0));
    return true;
  }

  private async drain() {
    while (!this.fenced) {
      if (this.replay) {
        // The batch that may have been lost with the previous process goes out again, whole.
        if (this.last < this.replay.sequence) return;
        this.publish(this.take(this.replay.sequence));
        this.checkpoint = this.replay;
        this.replay = undefined;
        this.points = this.points.filter((p) => p.sequence > this.checkpoint.sequence);
        continue;
      }
      const next = this.nextPoint();
      if (!next) return;
      const state: StoredLogCursor = { sequence: this.checkpoint.sequence, through: next.sequence, throughCursor: next.cursor };
      if (this.checkpoint.cursor) state.cursor = this.checkpoint.cursor;
      if (!(await this.store(state))) {
        this.fenced = true;
        this.queue = [];
        this.points = [];
        this.onFenced();
        return;
      }
      this.publish(this.take(next.sequence));
      this.checkpoint = next;
    }
  }

  /** The batch ends at a cursor: the last one within MAX_PUBLISH_LINES, else the first. */
  private nextPoint() {
    const limit = this.checkpoint.sequence + MAX_PUBLISH_LINES;
    let chosen = -1;
    for (let i = 0; i < this.points.length; i++) {
      if (i === 0 || this.points[i]!.sequence <= limit) chosen = i;
      else break;
    }
    if (chosen < 0) return undefined;
    const next = this.points[chosen]!;
    this.points.splice(0, chosen + 1);
    return next;
  }

  private take(through: number): OutputLine[] {
    let n = 0;
    while (n < this.queue.length && this.queue[n]!.sequence <= through) n++;
    return this.queue.splice(0, n);
  }

  private async store(state: StoredLogCursor): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.persist!(state);
      } catch (error) {
        this.onError(error);
        await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 100 * 2 ** attempt)));
      }
    }
  }
}

/** Resolves once `done()` holds, or after `timeoutMs`. */
async function until(done: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
}

function resultRows<T>(result: unknown): T[] {
  // TypeORM's postgres driver answers an UPDATE … RETURNING with [rows, count].
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number') return result[0] as T[];
  return Array.isArray(result) ? (result as T[]) : [];
}

function affectedRows(result: unknown): number {
  return resultRows(result).length;
}

/** The final state of a run and why, from how its process ended. */
function outcome(exit: RunExit, timeoutSeconds: number, outputLimitMb: number): [ExecutionState, string] {
  switch (exit.stoppedFor) {
    case 'timeout':
      return ['timed_out', `stopped after the ${timeoutSeconds} s timeout`];
    case 'cancelled':
      return ['cancelled', 'cancelled by request'];
    case 'output_limit':
      return ['failed', `stopped: the output exceeded ${outputLimitMb} MB`];
    case 'shutdown':
      return ['cancelled', 'the platform was stopped'];
  }
  if (exit.exitCode === 0) return ['succeeded', ''];
  return ['failed', exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.exitCode ?? 'none'}`];
}

/** Kills the process group of an orphaned run, after checking the pid still belongs to that run. */
function stopOrphanProcess(pid: number, executionId: string): boolean {
  try {
    const environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
    if (!environ.split('\0').includes(`SCRIPTORIUM_EXECUTION_ID=${executionId}`)) return false;
    process.kill(-pid, 'SIGKILL');
    return true;
  } catch {
    return false;
  }
}
