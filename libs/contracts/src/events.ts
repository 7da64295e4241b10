import type { ExecutionState } from './execution-states.js';
import type { Subjects } from './subjects.js';

/** Fields every event carries so consumers can be idempotent. */
export interface EventEnvelope {
  /** Unique id of this event. */
  eventId: string;
  occurredAt: string;
}

export interface RunSnapshot {
  executionId: string;
  scriptId: string;
  userId: string;
  state: ExecutionState;
  stateReason: string;
  progress: number;
  progressMessage: string;
  exitCode: number | null;
  /** Monotonic per execution: a consumer drops a snapshot older than the one it has. */
  version: number;
}

export interface RunCreatedEvent extends EventEnvelope {
  run: RunSnapshot;
}

export interface RunUpdatedEvent extends EventEnvelope {
  run: RunSnapshot;
}

export interface OutputLine {
  sequence: number;
  stream: 'stdout' | 'stderr' | 'system';
  text: string;
  timestamp: string;
}

export interface OutputProducedEvent extends EventEnvelope {
  executionId: string;
  userId: string;
  lines: OutputLine[];
  /** True when this is the run's last batch: the log is complete. */
  final: boolean;
}

export interface LinesStoredEvent extends EventEnvelope {
  executionId: string;
  lines: OutputLine[];
  final: boolean;
}

export interface CatalogChangedEvent extends EventEnvelope {
  added: string[];
  changed: string[];
  removed: string[];
}

/** Maps each subject to the payload it carries. */
export interface EventMap {
  [Subjects.runCreated]: RunCreatedEvent;
  [Subjects.runUpdated]: RunUpdatedEvent;
  [Subjects.runFinished]: RunUpdatedEvent;
  [Subjects.outputProduced]: OutputProducedEvent;
  [Subjects.linesStored]: LinesStoredEvent;
  [Subjects.catalogChanged]: CatalogChangedEvent;
}
