/**
 * Every NATS subject of the platform. Events are past-tense facts; apps import
 * these constants and never spell a subject themselves.
 */
export const Subjects = {
  /** A run was accepted and stored (queued). Logging learns the owner of a log from it. */
  runCreated: 'scriptorium.execution.run.created',
  /** A run changed state (starting, running, progress, or a terminal state). */
  runUpdated: 'scriptorium.execution.run.updated',
  /** A run reached a terminal state. */
  runFinished: 'scriptorium.execution.run.finished',
  /**
   * A runtime read output lines of a run (a batch, in sequence order). Logging stores
   * them (queue group) and every logging replica feeds its live tails from them.
   */
  outputProduced: 'scriptorium.execution.output.produced',
  /** The catalog's view of the script tree changed. */
  catalogChanged: 'scriptorium.catalog.scripts.changed',
  /**
   * A service performed an auditable action (e.g. catalog metadata edited). Auth stores
   * each one in its audit trail (idempotent by eventId); admins read it via ListAuditEvents.
   */
  auditActionPerformed: 'scriptorium.audit.action.performed',
  /** An account was deleted (anonymized): its id stays; owners of per-user data may act on it. */
  userDeleted: 'scriptorium.auth.user.deleted',
} as const;

export type Subject = (typeof Subjects)[keyof typeof Subjects];

/**
 * Events that must survive an outage of their consumer: on NATS they go through the
 * JetStream stream `DURABLE_STREAM` and their queue subscriber acknowledges each one
 * only once it has handled it (stored the lines, registered the log, recorded the
 * audit entry), so a consumer that was down gets what it missed when it is back.
 * Plain subscribers (live tails) still see them as they are published.
 */
export const DURABLE_SUBJECTS: readonly Subject[] = [Subjects.runCreated, Subjects.outputProduced, Subjects.auditActionPerformed];
export const DURABLE_STREAM = 'SCRIPTORIUM_DURABLE_EVENTS';
