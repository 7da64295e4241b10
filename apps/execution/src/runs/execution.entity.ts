import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';
import type { ExecutionState } from '#contracts/execution-states.js';
import type { LaunchSpec } from '../runtime/launch-spec.js';
import type { LogCursor } from '../runtime/script-runtime.js';

/**
 * Where a run's published output got to, for re-attaching after a restart (kubernetes runtime).
 * Written before each batch is published: lines up to `sequence` (log position `cursor`) were
 * published before; lines `sequence + 1 … through` are the batch being published (perhaps lost
 * with the process), so a re-attach publishes exactly that batch again, then continues.
 */
export interface StoredLogCursor {
  /** The runtime's log cursor after line `sequence`; absent = from the start of the log. */
  cursor?: LogCursor;
  sequence: number;
  through: number;
  /** The runtime's log cursor after line `through`. */
  throughCursor?: LogCursor;
}

/** A row of execution.execution_transitions: one change of a run's state. */
export interface StateTransitionRow {
  fromState: string | null;
  toState: string;
  reason: string;
  at: Date;
}

@Entity({ schema: 'execution', name: 'executions' })
export class ExecutionRecord {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'script_id', type: 'text' })
  scriptId: string;

  @Column({ name: 'script_name', type: 'text' })
  scriptName: string;

  @Column({ name: 'group_id', type: 'text' })
  groupId: string;

  @Column({ name: 'user_id', type: 'text' })
  userId: string;

  @Column({ type: 'text' })
  username: string;

  /** The owner's level when the run was submitted. */
  @Column({ name: 'user_level', type: 'text', default: '' })
  userLevel: string;

  @Column({ type: 'text' })
  state: ExecutionState;

  @Column({ name: 'state_reason', type: 'text', default: '' })
  stateReason: string;

  /** Parameters as given, secrets masked: what history shows. */
  @Column({ name: 'parameters', type: 'jsonb' })
  parameters: Record<string, unknown>;

  /** Everything a runtime needs to start the run (secrets included); cleared when the run ends. */
  @Column({ name: 'launch_spec', type: 'jsonb', nullable: true })
  launchSpec: LaunchSpec | null;

  @Column({ name: 'idempotency_key', type: 'text', nullable: true })
  idempotencyKey: string | null;

  /** Hash of the request the key was sent with (see requestFingerprint). */
  @Column({ name: 'idempotency_fingerprint', type: 'text', nullable: true })
  idempotencyFingerprint: string | null;

  @Column({ name: 'project_id', type: 'text' })
  projectId: string;

  @Column({ name: 'project_name', type: 'text', default: '' })
  projectName: string;

  @Column({ name: 'exit_code', type: 'integer', nullable: true })
  exitCode: number | null;

  @Column({ type: 'integer', default: 0 })
  progress: number;

  @Column({ name: 'progress_message', type: 'text', default: '' })
  progressMessage: string;

  @Column({ type: 'jsonb', nullable: true })
  result: unknown;

  @Column({ type: 'text', default: '' })
  error: string;

  /** The run this one re-runs. */
  @Column({ name: 'rerun_of', type: 'uuid', nullable: true })
  rerunOf: string | null;

  /** What runs it: a process id (local) or a pod name (kubernetes). */
  @Column({ name: 'runtime_ref', type: 'text', nullable: true })
  runtimeRef: string | null;

  @Column({ name: 'log_cursor', type: 'jsonb', nullable: true })
  logCursor: StoredLogCursor | null;

  @Column({ name: 'owner_instance', type: 'text', nullable: true })
  ownerInstance: string | null;

  /** Increases with every change, so consumers can drop stale snapshots. */
  @Column({ type: 'integer', default: 1 })
  version: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column({ name: 'started_at', type: 'timestamptz', nullable: true })
  startedAt: Date | null;

  @Column({ name: 'finished_at', type: 'timestamptz', nullable: true })
  finishedAt: Date | null;
}
