import type { LaunchSpec } from './launch-spec.js';
import type { SpooledChunk } from './output-spool.js';

/** Why the platform stopped a run; `shutdown`: the service stopped while the run was active, past its grace period. */
export type StopReason = 'timeout' | 'cancelled' | 'output_limit' | 'shutdown';

export interface RunExit {
  exitCode: number | null;
  signal: string | null;
  /** Set when the platform stopped the run. */
  stoppedFor?: StopReason;
}

/** What a runtime reports about a run it started. */
export interface RunObserver {
  /** `runtimeRef` names what runs it (a process id, a pod name) so a restarted service can find it. */
  started(runtimeRef?: string): void;
  stdout(chunk: string): void;
  stderr(chunk: string): void;
  exited(exit: RunExit): void;
  /** The run could not be started at all. */
  failedToStart(message: string): void;
  /** An interactive run listens on another port than its session was opened with; resolves once the session points there. */
  sessionPortChanged?(port: number): Promise<void>;
}

export interface RunHandle {
  /** Graceful stop (SIGTERM or pod delete), then forced after `graceSeconds`. */
  stop(reason: StopReason, graceSeconds: number): void;
}

/** Starts runs: a local child process, or a Kubernetes pod. */
export abstract class ScriptRuntime {
  abstract start(spec: LaunchSpec, observer: RunObserver): RunHandle;
  /**
   * While held, running scripts' output is not read (the bus's outbox is full): a script
   * writing more then blocks on its write, nothing is dropped. Released, reading resumes.
   */
  abstract holdOutput(hold: boolean): void;
  /**
   * Output of a run kept on this machine outside the service (the local runtime's spool), to
   * replay after the service was killed mid-run; undefined when the runtime keeps none.
   */
  spooledOutput(_executionId: string): SpooledChunk[] | undefined {
    return undefined;
  }
  /** Resolves once nothing writes the kept output of a previous process any more. */
  async spoolsSettled(): Promise<void> {}
  /** The run's output is with the bus now: what was kept for it can go. */
  releaseOutput(_executionId: string): void {}
  /** Runs with kept output. */
  spooledRuns(): string[] {
    return [];
  }
}
