import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { OutputLine } from '#contracts/events.js';
import type { ExecutionState } from '#contracts/execution-states.js';
import { Subjects } from '#contracts/subjects.js';
import { EventBus } from '#common/bus.js';
import { rootLogger } from '#common/logger.js';
import type { ExecutionConfig } from '../execution.config.js';
import { ScriptRuntime, type LogCursor, type OutputChunk, type ResumedRun, type RunExit, type RunHandle, type RunObserver, type RunRecovery } from '../runtime/script-runtime.js';
import type { ExecutionRecord, StoredLogCursor } from './execution.entity.js';
import { ExecutionRepository, type ClaimOnCreate } from './execution.repository.js';
import { OutputPump } from './output-pump.js';
import { RunStateStore } from './run-state.store.js';
import { SessionRoutes } from './sessions.port.js';

const POLL_MS = 1000;
const PROGRESS_WRITE_MS = 250;
/** A replica unseen for this long (its runtime writes a heartbeat every few seconds) is dead: live replicas adopt its runs. */
const DEAD_AFTER_SECONDS = 30;
/** Lines per published batch, at most (unless one read of the log brought more). */
const MAX_PUBLISH_LINES = 2000;

/**
 * Starts queued runs. The queue is the executions table itself: a replica claims
 * runs with `FOR UPDATE SKIP LOCKED`, so each accepted run starts exactly once,
 * whichever replica accepted it and even across restarts.
 *
 * Restarts: before anything is claimed the runtime recovers the runs active before
 * (ScriptRuntime.recover, through the RunRecovery this dispatcher provides): the local
 * runtime ends them `lost` with their spooled output, the kubernetes runtime follows their
 * pods again and adopts the runs of dead replicas (no heartbeat in `execution.instances` for
 * DEAD_AFTER_SECONDS). Output resumes from the run's stored log cursor (see OutputLedger).
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
  /** Nothing is claimed before the runs of the previous process are recovered. */
  private claimingStarted = false;
  private destroyed = false;
  private releaseCongestion = () => {};
  private readonly log = rootLogger().child({ service: 'execution', component: 'RunDispatcher' });

  constructor(
    private readonly executions: ExecutionRepository,
    @Inject('SERVICE_CONFIG') private readonly config: ExecutionConfig,
    private readonly runtime: ScriptRuntime,
    private readonly state: RunStateStore,
    private readonly bus: EventBus,
    private readonly sessions: SessionRoutes,
  ) {}

  async onApplicationBootstrap() {
    // Output waits in the bus's outbox while the broker is away; past its bound, scripts are held.
    this.releaseCongestion = this.bus.onCongestion((congested) => this.runtime.holdOutput(congested));
    await this.runtime.recover(this.recovery());
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
  }

  /**
   * Shutdown, before the runtime and the database go: the local runtime's active runs get
   * SHUTDOWN_GRACE_SECONDS to finish; the others are then stopped and end `cancelled`
   * ("the platform was stopped") with their output stored, rather than being killed with
   * the launcher or found `lost` at the next start. Kubernetes pods outlive the service
   * and are re-attached at the next start, so they are left running.
   */
  async beforeApplicationShutdown() {
    if (this.runtime.runsSurviveRestart) return;
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
    const limits = { maxRunsPerUser: this.config.MAX_RUNS_PER_USER, maxRunsPerScript: this.config.MAX_RUNS_PER_SCRIPT };
    const claimed = await this.state.claim(free, limits, this.config.INSTANCE_ID);
    for (const run of claimed) this.start(run);
  }

  private start(run: ExecutionRecord) {
    const output = this.output(run, null);
    output.attach(this.runtime.start(run.launchSpec!, output.observer));
  }

  /**
   * What a run's runtime reports goes through here: output through the OutputPump (numbered
   * lines) and the OutputLedger (published, with the log cursor stored first when runs survive a restart),
   * progress throttled, the end through `finish`.
   */
  private output(run: ExecutionRecord, stored: StoredLogCursor | null) {
    const resumable = this.runtime.runsSurviveRestart;
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
      resumable ? (state) => this.storeLogCursor(run.id, state) : undefined,
      stored,
      () => {
        // Another replica owns the run now (it took this one for dead): let go without touching the pod.
        ended = true;
        clearTimeout(progressTimer);
        this.active.delete(run.id);
        this.runtime.detach(run.id);
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
    const observer: RunObserver = {
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
      sessionMoved: async (endpoint) => {
        const session = run.launchSpec?.session;
        if (session) await this.sessions.moveTo(session.sessionId, endpoint.upstream);
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
    this.runtime.cleanUp(run.id);
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
  private storeLogCursor(id: string, state: StoredLogCursor): Promise<boolean> {
    return this.executions.storeLogCursor(id, state, this.config.INSTANCE_ID);
  }

  /** What the runtime recovers the runs of before a restart with (see ScriptRuntime.recover). */
  private recovery(): RunRecovery {
    return {
      ownActiveRuns: async () =>
        (await this.executions.activeOwnedBy(this.config.INSTANCE_ID)).map((r) => ({ executionId: r.id, runtimeRef: r.runtimeRef })),
      resume: (id) => this.resume(id),
      lost: async (id, reason, keptOutput) => this.markLost(id, reason, keptOutput && (await this.replay(id, keptOutput))),
      recovered: () => {
        if (!this.destroyed) this.startClaiming();
      },
      heartbeat: () => this.executions.heartbeat(this.config.INSTANCE_ID),
      adoptRunsOfDeadReplicas: () => this.adoptDeadReplicas(),
      releaseRunsAdoptedElsewhere: async () => {
        const mine = [...this.active.keys()];
        if (!mine.length) return [];
        const taken = await this.executions.ownedElsewhere(mine, this.config.INSTANCE_ID);
        for (const id of taken) this.active.delete(id);
        return taken;
      },
      endedRuns: (ids) => this.executions.endedAmong(ids),
    };
  }

  /** A run active before the restart, to be followed again from its stored log cursor; undefined when it is followed already or ended. */
  private async resume(id: string): Promise<ResumedRun | undefined> {
    if (this.active.has(id)) return undefined;
    const run = await this.executions.find(id);
    if (!run || (run.state !== 'starting' && run.state !== 'running')) return undefined;
    const stored = run.logCursor;
    const output = this.output(run, stored);
    return {
      state: run.state,
      runtimeRef: run.runtimeRef,
      startedAt: run.startedAt,
      timeoutSeconds: run.launchSpec?.timeoutSeconds ?? this.config.DEFAULT_TIMEOUT_SECONDS,
      logCursor: stored?.cursor,
      afterSequence: stored?.sequence ?? 0,
      ...output,
    };
  }

  /**
   * Publishes a lost run's kept output again through a fresh pump: the same chunks in the same
   * order get the same sequences, so logging drops the lines it already has and stores the
   * rest. Returns the run's last sequence.
   */
  private async replay(id: string, chunks: OutputChunk[]): Promise<number> {
    const run = await this.executions.find(id);
    const userId = run?.userId ?? '';
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

  /** Takes over the active runs of replicas unseen for DEAD_AFTER_SECONDS (each gets exactly one new owner). */
  private async adoptDeadReplicas(): Promise<string[]> {
    const adopted = await this.executions.adoptRunsOfDeadReplicas(this.config.INSTANCE_ID, DEAD_AFTER_SECONDS);
    for (const run of adopted) this.log.warn({ executionId: run.id, from: run.previousOwner }, 'adopted a run of a dead replica');
    return adopted.map((r) => r.id);
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
