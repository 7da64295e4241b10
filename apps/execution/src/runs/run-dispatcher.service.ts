import { readFileSync } from 'node:fs';
import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { ExecutionState } from '#contracts/execution-states.js';
import { Subjects } from '#contracts/subjects.js';
import { EventBus } from '#common/bus.js';
import { rootLogger } from '#common/logger.js';
import type { ExecutionConfig } from '../execution.config.js';
import { OutputPump } from '../runtime/output-pump.js';
import { ScriptRuntime, type RunExit, type RunHandle } from '../runtime/script-runtime.js';
import { ExecutionRecord } from './execution.entity.js';
import { RunStateStore } from './run-state.store.js';

const POLL_MS = 1000;
const PROGRESS_WRITE_MS = 250;

/**
 * Starts queued runs. The queue is the executions table itself: a replica claims
 * runs with `FOR UPDATE SKIP LOCKED`, so each accepted run starts exactly once,
 * whichever replica accepted it and even across restarts.
 */
@Injectable()
export class RunDispatcher implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly active = new Map<string, RunHandle>();
  private claiming = false;
  private again = false;
  private timer?: NodeJS.Timeout;
  private readonly log = rootLogger().child({ service: 'execution', component: 'RunDispatcher' });

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    @Inject('SERVICE_CONFIG') private readonly config: ExecutionConfig,
    private readonly runtime: ScriptRuntime,
    private readonly state: RunStateStore,
    private readonly bus: EventBus,
  ) {}

  async onApplicationBootstrap() {
    await this.recoverOrphans();
    this.timer = setInterval(() => this.kick(), POLL_MS);
    this.kick();
  }

  onModuleDestroy() {
    clearInterval(this.timer);
  }

  /** Stops a run this replica is executing; false when it runs elsewhere or not at all. */
  stop(id: string, reason: 'cancelled'): boolean {
    const handle = this.active.get(id);
    handle?.stop(reason, this.config.CANCEL_GRACE_SECONDS);
    return !!handle;
  }

  /** Claims and starts as many queued runs as there are free slots. */
  kick() {
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
    const free = this.config.MAX_CONCURRENT_RUNS - this.active.size;
    if (free <= 0) return;
    // Lock a window of the queue, rank each candidate among its user's and its script's
    // active runs, and start the oldest ones within every limit. Per-user and per-script
    // limits are exact with one replica; concurrent claims of several replicas can overshoot
    // them by the runs claimed in the same instant.
    const [rows] = (await this.db.query(
      `WITH locked AS (
         SELECT id, user_id, script_id, created_at FROM execution.executions
         WHERE state = 'queued' ORDER BY created_at LIMIT $5 FOR UPDATE SKIP LOCKED
       ), ranked AS (
         SELECT l.id, l.created_at,
           row_number() OVER (PARTITION BY l.user_id ORDER BY l.created_at)
             + (SELECT count(*) FROM execution.executions a WHERE a.state IN ('starting', 'running') AND a.user_id = l.user_id) AS user_slot,
           row_number() OVER (PARTITION BY l.script_id ORDER BY l.created_at)
             + (SELECT count(*) FROM execution.executions a WHERE a.state IN ('starting', 'running') AND a.script_id = l.script_id) AS script_slot
         FROM locked l
       ), chosen AS (
         SELECT id FROM ranked WHERE ($3 = 0 OR user_slot <= $3) AND ($4 = 0 OR script_slot <= $4) ORDER BY created_at LIMIT $2
       )
       UPDATE execution.executions e SET state = 'starting', state_reason = '', owner_instance = $1, version = e.version + 1
       FROM chosen WHERE e.id = chosen.id RETURNING e.id`,
      [this.config.INSTANCE_ID, free, this.config.MAX_RUNS_PER_USER, this.config.MAX_RUNS_PER_SCRIPT, Math.max(free * 10, 100)],
    )) as [{ id: string }[], number];
    for (const { id } of rows) this.start(await this.state.claimed(id));
  }

  private start(run: ExecutionRecord) {
    const spec = run.launchSpec!;
    let progressTimer: NodeJS.Timeout | undefined;
    let pendingProgress: { progress?: number; progressMessage?: string; result?: unknown } = {};
    const writeProgress = () => {
      progressTimer = undefined;
      const patch = pendingProgress;
      pendingProgress = {};
      void this.state.patch(run.id, patch);
    };
    const queueProgress = (patch: typeof pendingProgress) => {
      Object.assign(pendingProgress, patch);
      progressTimer ??= setTimeout(writeProgress, PROGRESS_WRITE_MS);
    };
    let stderrTail = '';
    const pump = new OutputPump({
      lines: (lines) => this.bus.publish(Subjects.outputProduced, { executionId: run.id, userId: run.userId, lines, final: false }),
      progress: (progress, progressMessage) => queueProgress({ progress, progressMessage }),
      result: (result) => queueProgress({ result }),
    });
    const handle = this.runtime.start(spec, {
      started: (runtimeRef) => {
        void this.state.transition(run.id, ['starting'], 'running', '', { startedAt: new Date(), runtimeRef: runtimeRef ?? null });
      },
      stdout: (chunk) => pump.write('stdout', chunk),
      stderr: (chunk) => {
        stderrTail = (stderrTail + chunk).slice(-2000);
        pump.write('stderr', chunk);
      },
      exited: (exit) => {
        clearTimeout(progressTimer);
        void this.finish(run, pump, exit, pendingProgress, stderrTail);
      },
      failedToStart: (message) => {
        clearTimeout(progressTimer);
        pump.system(message);
        void this.finish(run, pump, { exitCode: null, signal: null }, {}, message);
      },
    });
    this.active.set(run.id, handle);
  }

  private async finish(run: ExecutionRecord, pump: OutputPump, exit: RunExit, progress: object, stderrTail: string) {
    this.active.delete(run.id);
    const [state, reason] = outcome(exit, run.launchSpec!.timeoutSeconds, this.config.RUN_OUTPUT_LIMIT_MB);
    if (exit.stoppedFor) pump.system(`Run ${state.replace('_', ' ')}: ${reason}`);
    pump.end();
    this.bus.publish(Subjects.outputProduced, { executionId: run.id, userId: run.userId, lines: [], final: true });
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

  /**
   * Runs this replica owned before a restart cannot be re-attached by the local
   * runtime (their output pipes died with the old process): their processes are
   * stopped and the runs end as `lost`, with the reason.
   */
  private async recoverOrphans() {
    const rows: { id: string; runtime_ref: string | null }[] = await this.db.query(
      `SELECT id, runtime_ref FROM execution.executions WHERE state IN ('starting', 'running') AND owner_instance = $1`,
      [this.config.INSTANCE_ID],
    );
    for (const { id, runtime_ref: runtimeRef } of rows) {
      const stopped = runtimeRef ? stopOrphanProcess(Number(runtimeRef), id) : false;
      const reason = `the execution service restarted while the run was active; its process could not be re-attached${stopped ? ' and was stopped' : ''}`;
      const run = await this.state.transition(id, ['starting', 'running'], 'lost', reason, { finishedAt: new Date(), launchSpec: null });
      if (run) this.bus.publish(Subjects.outputProduced, { executionId: id, userId: run.userId, lines: [], final: true });
    }
    if (rows.length) this.log.warn({ count: rows.length }, 'marked orphaned runs as lost');
  }
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
