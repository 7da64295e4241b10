import type { LaunchSpec } from './launch-spec.js';

/** Why the platform stopped a run; `shutdown`: the service stopped while the run was active, past its grace period. */
export type StopReason = 'timeout' | 'cancelled' | 'output_limit' | 'shutdown';

export interface RunExit {
  exitCode: number | null;
  signal: string | null;
  /** Set when the platform stopped the run. */
  stoppedFor?: StopReason;
}

/** A piece of a run's output as the script wrote it, on one stream. */
export interface OutputChunk {
  stream: 'stdout' | 'stderr';
  data: string;
}

/** Where a runtime's log of a run got to (the kubernetes runtime: a kubelet timestamp and how many lines share it). */
export interface LogCursor {
  time: string;
  sameTime: number;
}

/** Where the gateway's session proxy reaches an interactive run. */
export interface SessionEndpoint {
  /** The port the script is told to listen on. */
  port: number;
  /** host:port the proxy connects to. */
  upstream: string;
  /** Listen on every interface (in a pod, where the session's Service reaches it), not only loopback. */
  bindAllInterfaces: boolean;
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
  /** The log position after the output reported so far (runtimes whose runs survive a restart), to resume exactly from. */
  logCursor?(cursor: LogCursor): void;
  /** An interactive run is reached elsewhere than its session was opened with; resolves once the session points there. */
  sessionMoved?(endpoint: SessionEndpoint): Promise<void>;
}

export interface RunHandle {
  /** Graceful stop (SIGTERM or pod delete), then forced after `graceSeconds`. */
  stop(reason: StopReason, graceSeconds: number): void;
}

/** A run being followed again after a restart, as RunRecovery.resume answers it. */
export interface ResumedRun {
  state: 'starting' | 'running';
  runtimeRef: string | null;
  startedAt: Date | null;
  timeoutSeconds: number;
  /** Where its published output got to: the runtime continues from there. */
  logCursor?: LogCursor;
  /** Lines published before (for the log). */
  afterSequence: number;
  /** Reports the run's output and end, numbered after what was published before. */
  observer: RunObserver;
  /** Hands the run's handle back once the runtime follows it again. */
  attach(handle: RunHandle): void;
}

/**
 * What a runtime needs of the service to recover after a restart (the dispatcher provides it,
 * over the run's stored state): it reads the runs that were active, follows them again or ends
 * them `lost`, then says it is done, and only then are new runs claimed.
 */
export interface RunRecovery {
  /** This replica's runs that were starting or running when it stopped. */
  ownActiveRuns(): Promise<{ executionId: string; runtimeRef: string | null }[]>;
  /** Follows a run again; undefined when it is not active any more or already followed. */
  resume(executionId: string): Promise<ResumedRun | undefined>;
  /** Ends a run that cannot be recovered as `lost`, saying why; `keptOutput` (what the runtime kept of its output) is published first. */
  lost(executionId: string, reason: string, keptOutput?: OutputChunk[]): Promise<void>;
  /** Recovery is done: new runs are claimed from now on. */
  recovered(): void;
  /**
   * Replicas sharing runs that outlive them: this replica is alive. Call every few seconds;
   * a replica unseen for long is dead, and its runs go to `adoptRunsOfDeadReplicas`.
   */
  heartbeat(): Promise<void>;
  /** Takes over the active runs of dead replicas (each run gets exactly one new owner); their ids. */
  adoptRunsOfDeadReplicas(): Promise<string[]>;
  /** Runs this replica follows that another replica adopted meanwhile: forgotten here; their ids, to let go of. */
  releaseRunsAdoptedElsewhere(): Promise<string[]>;
  /** Those of the given runs that already ended. */
  endedRuns(executionIds: string[]): Promise<string[]>;
}

/**
 * Runs scripts: a local child process, or a Kubernetes pod. The dispatcher knows runtimes only
 * through this: start (and stop through the handle), recover after a restart, where an
 * interactive run's session is reached, and the cleanup after a run's end.
 */
export abstract class ScriptRuntime {
  /**
   * Runs outlive the service (pods): they are left running at shutdown and followed again
   * at the next start, so how far each run's output was published is stored as it goes.
   */
  abstract readonly runsSurviveRestart: boolean;

  abstract start(spec: LaunchSpec, observer: RunObserver): RunHandle;

  /** At start-up, before any new run is claimed: picks up (or ends `lost`) the runs active before; ends with `recovery.recovered()`. */
  abstract recover(recovery: RunRecovery): Promise<void>;

  /** Where the session of an interactive run will be reached; `portsInUse`: ports of open sessions (asked only when the runtime shares one network). */
  abstract sessionEndpoint(executionId: string, portsInUse: () => Promise<number[]>): Promise<SessionEndpoint>;

  /**
   * While held, running scripts' output is not read (the bus's outbox is full): a script
   * writing more then blocks on its write, nothing is dropped. Released, reading resumes.
   */
  abstract holdOutput(hold: boolean): void;

  /** Stops following a run without touching it (another replica owns it now). */
  detach(_executionId: string): void {}

  /** The run's end and output are with the bus now: what the runtime kept for it can go. */
  cleanUp(_executionId: string): void {}
}
