import type { Execution } from '#contracts/generated/scriptorium/execution/v1/execution.js';
import type { ExecutionRecord, StateTransitionRow } from './runs/execution.entity.js';

/** A run as the gRPC API answers it (runs and code sessions alike). */
export function toExecutionMessage(run: ExecutionRecord, queuePosition = 0, transitions: StateTransitionRow[] = []): Execution {
  const end = run.finishedAt ?? (run.startedAt ? new Date() : null);
  return {
    id: run.id,
    scriptId: run.scriptId,
    scriptName: run.scriptName,
    groupId: run.groupId,
    userId: run.userId,
    username: run.username,
    state: run.state,
    stateReason: run.stateReason,
    parametersJson: JSON.stringify(run.parameters),
    hasExitCode: run.exitCode !== null && run.exitCode !== undefined,
    exitCode: run.exitCode ?? 0,
    createdAt: run.createdAt.toISOString(),
    startedAt: run.startedAt?.toISOString() ?? '',
    finishedAt: run.finishedAt?.toISOString() ?? '',
    durationMs: run.startedAt && end ? end.getTime() - run.startedAt.getTime() : 0,
    progress: run.progress,
    progressMessage: run.progressMessage,
    resultJson: run.result === null || run.result === undefined ? '' : JSON.stringify(run.result),
    error: run.error,
    projectId: run.projectId,
    queuePosition,
    rerunOf: run.rerunOf ?? '',
    transitions: transitions.map((t) => ({ fromState: t.fromState ?? '', toState: t.toState, reason: t.reason, at: new Date(t.at).toISOString() })),
  };
}
