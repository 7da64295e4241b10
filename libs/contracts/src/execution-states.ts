export const EXECUTION_STATES = [
  'queued',
  'starting',
  'running',
  'succeeded',
  'failed',
  'timed_out',
  'cancelled',
  'lost',
] as const;
export type ExecutionState = (typeof EXECUTION_STATES)[number];

export const TERMINAL_STATES: ReadonlySet<ExecutionState> = new Set([
  'succeeded',
  'failed',
  'timed_out',
  'cancelled',
  'lost',
]);

export function isTerminal(state: string): boolean {
  return TERMINAL_STATES.has(state as ExecutionState);
}
