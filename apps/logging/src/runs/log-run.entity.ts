import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * A run's context as logging learned it from execution's events (never from execution's
 * tables): what search filters on, what exports and statistics carry. The SQL is in
 * LogRunsRepository; `search_vector` (generated) exists in the table only.
 */
@Entity({ schema: 'logging', name: 'log_runs' })
export class LogRun {
  @PrimaryColumn({ name: 'execution_id', type: 'uuid' }) executionId: string;
  @Column({ name: 'user_id', type: 'text' }) userId: string;
  @Column({ type: 'text', default: '' }) username: string;
  @Column({ name: 'user_level', type: 'text', default: '' }) userLevel: string;
  @Column({ name: 'script_id', type: 'text', default: '' }) scriptId: string;
  @Column({ name: 'script_name', type: 'text', default: '' }) scriptName: string;
  @Column({ name: 'group_id', type: 'text', default: '' }) groupId: string;
  @Column({ name: 'project_id', type: 'text', default: '' }) projectId: string;
  @Column({ name: 'project_name', type: 'text', default: '' }) projectName: string;
  @Column({ type: 'jsonb', default: {} }) parameters: Record<string, unknown>;
  @Column({ type: 'text', default: '' }) state: string;
  @Column({ name: 'exit_code', type: 'integer', nullable: true }) exitCode: number | null;
  @Column({ type: 'integer', default: 0 }) version: number;
  @Column({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
  @Column({ name: 'started_at', type: 'timestamptz', nullable: true }) startedAt: Date | null;
  @Column({ name: 'finished_at', type: 'timestamptz', nullable: true }) finishedAt: Date | null;
  @Column({ name: 'duration_ms', type: 'bigint', nullable: true }) durationMs: string | null;
}
