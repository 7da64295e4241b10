import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/** One run's log: who owns it, how long it is, whether the run has ended. */
@Entity({ schema: 'logging', name: 'log_streams' })
export class LogStream {
  @PrimaryColumn({ name: 'execution_id', type: 'uuid' })
  executionId: string;

  @Column({ name: 'user_id', type: 'text' })
  userId: string;

  @Column({ name: 'line_count', type: 'integer', default: 0 })
  lineCount: number;

  @Column({ type: 'boolean', default: false })
  complete: boolean;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
