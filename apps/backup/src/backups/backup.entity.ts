import { Column, CreateDateColumn, Entity, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';

export type BackupState = 'running' | 'succeeded' | 'failed';
export type BackupTrigger = 'manual' | 'scheduled' | 'uploaded' | 'found';

@Entity({ schema: 'backup', name: 'backups' })
export class BackupRecord {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ type: 'text' })
  state: BackupState;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column({ name: 'finished_at', type: 'timestamptz', nullable: true })
  finishedAt: Date | null;

  @Column({ name: 'size_bytes', type: 'bigint', default: 0 })
  sizeBytes: string;

  /** The archive's name in the destination. */
  @Column({ type: 'text', default: '' })
  location: string;

  @Column({ type: 'text', default: '' })
  error: string;

  @Column({ name: 'requested_by', type: 'text' })
  requestedBy: string;

  @Column({ type: 'text', default: 'manual' })
  trigger: BackupTrigger;

  @Column({ name: 'verified_at', type: 'timestamptz', nullable: true })
  verifiedAt: Date | null;

  @Column({ name: 'verify_error', type: 'text', default: '' })
  verifyError: string;

  @Column({ type: 'jsonb', nullable: true })
  manifest: Record<string, unknown> | null;
}

/** The schedule and retention an admin set (one row); until then the configured defaults apply. */
@Entity({ schema: 'backup', name: 'settings' })
export class BackupSettingsRecord {
  @PrimaryColumn({ type: 'int', default: 1 })
  id: number;

  @Column({ type: 'text' })
  schedule: string;

  @Column({ name: 'time_zone', type: 'text' })
  timeZone: string;

  @Column({ name: 'keep_last', type: 'int' })
  keepLast: number;

  @Column({ name: 'keep_days', type: 'int' })
  keepDays: number;
}
