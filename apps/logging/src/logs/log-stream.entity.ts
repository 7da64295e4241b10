import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/** One run's log: who owns it, how far it is stored, whether it is complete. */
@Entity({ schema: 'logging', name: 'log_streams' })
export class LogStream {
  @PrimaryColumn({ name: 'execution_id', type: 'uuid' })
  executionId: string;

  @Column({ name: 'user_id', type: 'text' })
  userId: string;

  /** The highest sequence stored (lines below it may still be missing). */
  @Column({ name: 'line_count', type: 'integer', default: 0 })
  lineCount: number;

  /** Every line from 1 up to this sequence is stored. */
  @Column({ name: 'stored_through', type: 'integer', default: 0 })
  storedThrough: number;

  /** The run's last sequence, once its final event arrived. */
  @Column({ name: 'final_sequence', type: 'integer', nullable: true })
  finalSequence: number | null;

  /**
   * Every line up to `finalSequence` is stored (or the run was lost and its log closed
   * with what was stored): nothing more will come.
   */
  @Column({ type: 'boolean', default: false })
  complete: boolean;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  /** Bytes of the stored rows (as JSON text): size caps and statistics. */
  @Column({ name: 'stored_bytes', type: 'bigint', default: 0, transformer: { to: (v: number) => v, from: (v: string) => Number(v) } })
  storedBytes: number;

  /** When the lines were deleted (retention or a person); the row stays so the run can say so. */
  @Column({ name: 'deleted_at', type: 'timestamptz', nullable: true })
  deletedAt: Date | null;

  @Column({ name: 'deleted_by', type: 'text', default: '' })
  deletedBy: string;

  @Column({ name: 'deletion_reason', type: 'text', default: '' })
  deletionReason: string;
}

/** The last sequence a reader of a complete log has to reach. */
export function endOf(stream: LogStream): number {
  return stream.finalSequence ?? stream.lineCount;
}
