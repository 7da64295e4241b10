import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { rootLogger } from '#common/logger.js';
import { outsideRequestContext } from '#common/request-context.js';

/** Asks the launcher to start a command (detached: in its own process group). */
export interface LauncherRequest {
  type: 'spawn';
  id: number;
  command: string[];
  cwd: string;
  env: Record<string, string>;
  /** Names the run's output spool (when the launcher keeps spools). */
  executionId?: string;
  /**
   * The first `prefix` words of `command` set up a sandbox that depends on nothing else of the
   * run (with `cwd`): the launcher keeps up to `keep` such sandboxes started ahead of time and
   * hands the run to one (see process-launcher.process.ts).
   */
  warm?: { prefix: number; keep: number };
}

/** Holds (or releases) the output of every process: their pipes are not read while held. */
export interface LauncherHold {
  type: 'hold';
  hold: boolean;
}

/** What the launcher reports: readiness, then per process its start, output and end. */
export type LauncherEvent =
  | { type: 'ready' }
  | { type: 'spawned'; id: number; pid: number }
  | { type: 'error'; id: number; message: string }
  | { type: 'stdout' | 'stderr'; id: number; data: string }
  | { type: 'close'; id: number; code: number | null; signal: NodeJS.Signals | null };

export interface LaunchedProcessEvents {
  spawned(pid: number): void;
  stdout(chunk: string): void;
  stderr(chunk: string): void;
  /** The process could not be started. */
  error(message: string): void;
  /** The process ended and its output is read to the end (the launcher's own death counts as SIGKILL). */
  close(code: number | null, signal: NodeJS.Signals | null): void;
}

/**
 * Starts the local runtime's processes from a small helper process instead of the
 * service itself. Node forks the whole parent to spawn, and that fork costs time
 * in proportion to the parent's memory (measured: ~1 ms from a 50 MB process,
 * ~16 ms from 360 MB), on the event loop, for every run. The helper stays small.
 *
 * The helper ends every process it started when the service goes away (its IPC
 * channel closes), and a helper that dies is replaced at the next start; the runs
 * it carried end as killed.
 */
export class ProcessLauncher {
  /** `spoolDir`: the helper writes each run's output there (see output-spool.ts) before relaying it. */
  constructor(private readonly options: { spoolDir?: string } = {}) {}

  private helper: ChildProcess | undefined;
  private ready: Promise<void> | undefined;
  private nextId = 1;
  private readonly running = new Map<number, LaunchedProcessEvents>();
  private closed = false;
  private held = false;

  /** The helper's process id, while it runs. */
  get helperPid(): number | undefined {
    return this.helper?.pid;
  }

  /** Forks the helper now (it is forked on first use otherwise). */
  warmUp(): Promise<void> {
    return this.helperReady();
  }

  spawn(command: string[], options: { cwd: string; env: Record<string, string>; executionId?: string; warm?: LauncherRequest['warm'] }, events: LaunchedProcessEvents): void {
    const id = this.nextId++;
    this.running.set(id, events);
    this.helperReady()
      .then(() => {
        this.keepAlive(true);
        this.helper!.send({ type: 'spawn', id, command, cwd: options.cwd, env: options.env, executionId: options.executionId, warm: options.warm } satisfies LauncherRequest);
      })
      .catch((error: Error) => {
        this.running.delete(id);
        events.error(`the process launcher is not available: ${error.message}`);
      });
  }

  /** While held, the scripts' output is not read (they block on write); a replaced helper starts held too. */
  holdOutput(hold: boolean): void {
    if (hold === this.held) return;
    this.held = hold;
    if (this.helper?.connected) this.helper.send({ type: 'hold', hold } satisfies LauncherHold);
  }

  async close(): Promise<void> {
    this.closed = true;
    const helper = this.helper;
    if (!helper || helper.exitCode !== null || helper.signalCode !== null) return;
    helper.ref(); // wait for it to end
    const exited = new Promise((resolve) => helper.once('exit', resolve));
    if (helper.connected) helper.disconnect();
    await exited;
  }

  private helperReady(): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the runtime is shutting down'));
    if (this.ready && this.helper?.connected) return this.ready;
    // A replacement helper is forked during whichever request next starts a run; its messages must not carry that request's id.
    const helper = outsideRequestContext(() =>
      fork(fileURLToPath(new URL('./process-launcher.process.js', import.meta.url)), this.options.spoolDir ? [this.options.spoolDir] : [], {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        serialization: 'advanced',
        execArgv: [],
      }),
    );
    this.helper = helper;
    this.ready = new Promise<void>((resolve, reject) => {
      helper.once('error', reject);
      helper.once('exit', (code, signal) => reject(new Error(`it exited (${signal ?? code})`)));
      helper.on('message', (event: LauncherEvent) => {
        if (event.type !== 'ready') return this.deliver(event);
        if (this.held) helper.send({ type: 'hold', hold: true } satisfies LauncherHold);
        this.keepAlive(this.running.size > 0);
        resolve();
      });
    });
    helper.once('exit', (code, signal) => {
      if (this.helper === helper) this.helper = undefined;
      if (!this.running.size) return;
      if (!this.closed) rootLogger().error({ code, signal, runs: this.running.size }, 'the process launcher stopped; its runs are ended as killed');
      const orphaned = [...this.running.values()];
      this.running.clear();
      for (const events of orphaned) events.close(null, 'SIGKILL');
    });
    return this.ready;
  }

  private deliver(event: Exclude<LauncherEvent, { type: 'ready' }>) {
    const events = this.running.get(event.id);
    if (!events) return;
    switch (event.type) {
      case 'spawned':
        return events.spawned(event.pid);
      case 'stdout':
      case 'stderr':
        return events[event.type](event.data);
      case 'error':
        this.forget(event.id);
        return events.error(event.message);
      case 'close':
        this.forget(event.id);
        return events.close(event.code, event.signal);
    }
  }

  private forget(id: number) {
    this.running.delete(id);
    if (!this.running.size) this.keepAlive(false);
  }

  /** An idle helper does not keep the service (or a test) alive; a running process does. */
  private keepAlive(on: boolean) {
    const helper = this.helper;
    if (on) {
      helper?.ref();
      helper?.channel?.ref();
    } else {
      helper?.unref();
      helper?.channel?.unref();
    }
  }
}
