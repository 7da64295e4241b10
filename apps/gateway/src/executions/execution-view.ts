import type { ExecutionState } from '#contracts/execution-states.js';
import type { Execution } from '#contracts/generated/scriptorium/execution/v1/execution.js';
import type { ExecutionDto, StateTransitionDto } from './execution.dto.js';

/** The REST/stream shape of a run: JSON fields parsed, absent values as null. */
export function executionView(e: Execution): ExecutionDto {
  const { parametersJson, resultJson, hasExitCode, exitCode, startedAt, finishedAt, state, transitions, ...rest } = e;
  return {
    ...rest,
    // The execution service stores only EXECUTION_STATES.
    state: state as ExecutionState,
    transitions: transitions as StateTransitionDto[],
    parameters: JSON.parse(parametersJson || '{}') as Record<string, unknown>,
    result: resultJson ? (JSON.parse(resultJson) as unknown) : null,
    exitCode: hasExitCode ? exitCode : null,
    startedAt: startedAt || null,
    finishedAt: finishedAt || null,
  };
}
export type ExecutionView = ExecutionDto;
