import type { RunSnapshot } from '#contracts/events.js';
import type { RunContext } from '#contracts/generated/scriptorium/logging/v1/logging.js';

/** A run's context as one row of `logging.log_runs` holds it (snake case, as PostgreSQL answers). */
export interface RunRow {
  execution_id: string;
  user_id: string;
  username: string;
  user_level: string;
  script_id: string;
  script_name: string;
  group_id: string;
  project_id: string;
  project_name: string;
  parameters: Record<string, unknown>;
  state: string;
  exit_code: number | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  duration_ms: string | number | null;
}

/** What one execution event says about its run, ready to be merged into the stored row. */
export interface RunFacts {
  executionId: string;
  userId: string;
  username: string;
  userLevel: string;
  scriptId: string;
  scriptName: string;
  groupId: string;
  projectId: string;
  projectName: string;
  parameters: Record<string, unknown> | null;
  state: string;
  exitCode: number | null;
  version: number;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
}

/** Parameter names whose values are never stored, whatever the publisher sent (a second line of defence). */
const SECRET_NAME = /(secret|passw|token|api[-_]?key|credential|private[-_]?key)/i;
export const MASK = '********';

export function maskSecrets(parameters: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(parameters).map(([name, value]) => [name, SECRET_NAME.test(name) && value !== MASK ? MASK : value]));
}

const TERMINAL = new Set(['succeeded', 'failed', 'timed_out', 'cancelled', 'lost']);

/** The facts of a run snapshot published at `occurredAt`: the group from the script id, the start and end from the event's time when the publisher does not say. */
export function factsOf(run: RunSnapshot, occurredAt: string): RunFacts {
  const terminal = TERMINAL.has(run.state);
  return {
    executionId: run.executionId,
    userId: run.userId,
    username: run.username ?? '',
    userLevel: run.userLevel ?? '',
    scriptId: run.scriptId,
    scriptName: run.scriptName ?? '',
    groupId: run.groupId ?? (run.scriptId.includes('/') ? run.scriptId.slice(0, run.scriptId.indexOf('/')) : ''),
    projectId: run.projectId ?? '',
    projectName: run.projectName ?? '',
    parameters: run.parameters ? maskSecrets(run.parameters) : null,
    state: run.state,
    exitCode: run.exitCode,
    version: run.version,
    createdAt: run.createdAt ?? occurredAt,
    startedAt: run.startedAt ?? (run.state === 'running' ? occurredAt : null),
    finishedAt: run.finishedAt ?? (terminal ? occurredAt : null),
    durationMs: run.durationMs ?? null,
  };
}

const iso = (d: Date | null) => (d ? new Date(d).toISOString() : '');

export function runContextOf(row: RunRow): RunContext {
  return {
    executionId: row.execution_id,
    userId: row.user_id,
    username: row.username,
    scriptId: row.script_id,
    scriptName: row.script_name,
    groupId: row.group_id,
    projectId: row.project_id,
    projectName: row.project_name,
    parametersJson: JSON.stringify(row.parameters ?? {}),
    state: row.state,
    exitCode: row.exit_code ?? undefined,
    createdAt: iso(row.created_at),
    startedAt: iso(row.started_at),
    finishedAt: iso(row.finished_at),
    durationMs: row.duration_ms === null ? undefined : Number(row.duration_ms),
  };
}
