import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
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
    const [rows] = (await this.db.query(
      `UPDATE execution.executions SET state = 'starting', state_reason = '', owner_instance = $1, version = version + 1
       WHERE id IN (SELECT id FROM execution.executions WHERE state = 'queued' ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED)
       RETURNING id`,
      [this.config.INSTANCE_ID, free],
    )) as [{ id: string }[], number];
    for (const { id } of rows) {
      await this.db.query(
        `INSERT INTO execution.execution_transitions (execution_id, from_state, to_state, reason) VALUES ($1, 'queued', 'starting', '')`,
        [id],
      );
      const run = await this.db.getRepository(ExecutionRecord).findOneByOrFail({ id });
      this.start(run);
    }
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
      started: () => {
        void this.state.transition(run.id, ['starting'], 'running', '', { startedAt: new Date() });
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
    const [state, reason] =
      exit.stoppedFor === 'timeout'
        ? (['timed_out', `stopped after the ${run.launchSpec!.timeoutSeconds} s timeout`] as const)
        : exit.stoppedFor === 'cancelled'
          ? (['cancelled', 'cancelled by request'] as const)
          : exit.exitCode === 0
            ? (['succeeded', ''] as const)
            : (['failed', exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.exitCode ?? 'none'}`] as const);
    if (state !== 'succeeded' && state !== 'failed') pump.system(`Run ${state.replace('_', ' ')}: ${reason}`);
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
   * runtime (their output pipes died with the old process): they end as `lost`.
   */
  private async recoverOrphans() {
    const rows: { id: string }[] = await this.db.query(
      `SELECT id FROM execution.executions WHERE state IN ('starting', 'running') AND owner_instance = $1`,
      [this.config.INSTANCE_ID],
    );
    for (const { id } of rows) {
      const reason = 'the execution service restarted while the run was active; its process could not be re-attached';
      const run = await this.state.transition(id, ['starting', 'running'], 'lost', reason, { finishedAt: new Date(), launchSpec: null });
      if (run) this.bus.publish(Subjects.outputProduced, { executionId: id, userId: run.userId, lines: [], final: true });
    }
    if (rows.length) this.log.warn({ count: rows.length }, 'marked orphaned runs as lost');
  }
}
