import type { ExecutionState } from './execution-states.js';
import type { Subjects } from './subjects.js';

/** Fields every event carries so consumers can be idempotent. */
export interface EventEnvelope {
  /** Unique id of this event. */
  eventId: string;
  occurredAt: string;
  /** The request during which it was published, if any: its handlers' log lines carry it. */
  requestId?: string;
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
  /**
   * The run's context, kept by logging beside its log (search, export, statistics, retention).
   * Optional so older publishers still fit; logging derives what is missing (the group from
   * `scriptId`, start and end from the events' times).
   */
  scriptName?: string;
  groupId?: string;
  username?: string;
  /** The owner's level when the run was submitted (retention policies by level). */
  userLevel?: string;
  projectId?: string;
  projectName?: string;
  /** The parameters as given, with every secret already masked by the publisher. */
  parameters?: Record<string, unknown>;
  createdAt?: string;
  startedAt?: string | null;
  finishedAt?: string | null;
  durationMs?: number | null;
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
  /** True when this is the run's last batch: no line after it will be produced. */
  final: boolean;
  /**
   * On a final event: the last sequence of the run's output (0 when it printed none); the
   * log is complete once every line up to it is stored. Absent from older publishers: the
   * log is then completed with what is stored, as before.
   */
  finalSequence?: number;
  /**
   * On a final event: the run ended `lost`, so lines it never published will never come;
   * the log is completed with what is stored.
   */
  lost?: boolean;
}

export interface CatalogChangedEvent extends EventEnvelope {
  added: string[];
  changed: string[];
  removed: string[];
}

/**
 * An auditable action performed by a service other than auth, published on
 * Subjects.auditActionPerformed; auth records it. `eventId` (from the envelope) makes
 * a redelivered event a no-op.
 */
export interface AuditActionPerformedEvent extends EventEnvelope {
  /** The publishing service, e.g. "catalog". */
  service: string;
  /** Dotted action name, e.g. "script.metadata_edited". At most 100 characters. */
  action: string;
  outcome: 'success' | 'failure';
  /** Who did it: Caller.userId and Caller.username; empty for the system itself. */
  actorId: string;
  actorUsername: string;
  /** What it was done to, e.g. { type: "script", id: "getting_started/greet.py", name: "Greet" }. */
  targetType: string;
  targetId: string;
  targetName?: string;
  /** The client address, when known (the `x-forwarded-for` metadata of the call). */
  ip?: string;
  /** JSON-serialisable details (changed fields, old and new values); at most ~16 KiB. */
  details?: Record<string, unknown>;
}

export interface UserDeletedEvent extends EventEnvelope {
  userId: string;
  /** The admin who deleted the account. */
  deletedBy: string;
}

/** Maps each subject to the payload it carries. */
export interface EventMap {
  [Subjects.runCreated]: RunCreatedEvent;
  [Subjects.runUpdated]: RunUpdatedEvent;
  [Subjects.runFinished]: RunUpdatedEvent;
  [Subjects.outputProduced]: OutputProducedEvent;
  [Subjects.catalogChanged]: CatalogChangedEvent;
  [Subjects.auditActionPerformed]: AuditActionPerformedEvent;
  [Subjects.userDeleted]: UserDeletedEvent;
}
