import { createHash } from 'node:crypto';
import type { Caller } from '#common/auth.js';
import type { ProjectRecord } from '../projects/project.entity.js';
import type { ExecutionRecord } from './execution.entity.js';

/** A run whose script, launch and project are decided: what enqueue stores. */
export interface PreparedRun {
  scriptId: string;
  scriptName: string;
  groupId: string;
  project: ProjectRecord;
  interpreter: string;
  scriptPath: string;
  scriptSource: string;
  /** The container image of the script's group environment (kubernetes runtime); absent = the runtime's default. */
  image?: string;
  /** Arguments after the standard ones. */
  args: string[];
  env: Record<string, string>;
  /** What history shows (secrets masked). */
  parameters: Record<string, unknown>;
  language: string;
  timeoutSeconds: number;
  idempotencyKey: string | null;
  /** What the key stands for (requestFingerprint of the request as the caller sent it). */
  idempotencyFingerprint?: string | null;
  rerunOf?: string | null;
  /** An interactive script: the run opens a session and is told the port to serve on. */
  interactive?: boolean;
}

/** A hash of what a request asks for, keys sorted at every depth, so the same request always hashes the same. */
export function requestFingerprint(request: Record<string, unknown>): string {
  const sorted = (_: string, value: unknown) =>
    value && typeof value === 'object' && !Array.isArray(value) ? Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : value;
  return createHash('sha256').update(JSON.stringify(request, sorted)).digest('base64url');
}

/** What other features need of runs: code sessions submit their source as runs and list them (RunsModule provides it). */
export abstract class RunSubmission {
  /** Submits a run whose launch the caller decided: same idempotency, limits and queue as any run. */
  abstract submitPrepared(caller: Caller, prepared: PreparedRun): Promise<ExecutionRecord>;
  /** The caller's run started with this key, if any; refused when it was started by a different request. */
  abstract repeatOf(caller: Caller, idempotencyKey: string, fingerprint: string | null): Promise<ExecutionRecord | null>;
  /** The queued, starting or running run of a script, if any. */
  abstract activeRunOf(scriptId: string): Promise<ExecutionRecord | null>;
  /** Active run ids of many scripts at once, by script id. */
  abstract activeRunsOf(scriptIds: string[]): Promise<Map<string, string>>;
  /** A script's latest runs, newest first. */
  abstract recentRunsOf(scriptId: string, limit: number): Promise<ExecutionRecord[]>;
}

/** Cancelling a run from another feature (a session closing cancels its run; RunsModule provides it). */
export abstract class RunControl {
  /**
   * A queued run is dequeued at once (`cancelled`, with `reason`; fails fast when the database
   * is away, as a caller may be waiting) and returned; an active one is stopped where this
   * replica runs it (elsewhere its owner stops it) and undefined is returned.
   */
  abstract cancel(executionId: string, reason: string): Promise<ExecutionRecord | undefined>;
}
