import type { Execution } from '#contracts/generated/scriptorium/execution/v1/execution.js';

/** The REST/stream shape of a run: JSON fields parsed, absent values as null. */
export function executionView(e: Execution) {
  const { parametersJson, resultJson, hasExitCode, exitCode, startedAt, finishedAt, ...rest } = e;
  return {
    ...rest,
    parameters: JSON.parse(parametersJson || '{}') as Record<string, unknown>,
    result: resultJson ? (JSON.parse(resultJson) as unknown) : null,
    exitCode: hasExitCode ? exitCode : null,
    startedAt: startedAt || null,
    finishedAt: finishedAt || null,
  };
}
export type ExecutionView = ReturnType<typeof executionView>;
