import { Column, Entity, PrimaryColumn } from 'typeorm';

/** A batch of consecutive lines of one run, stored as one row so high-volume output stays cheap. */
@Entity({ schema: 'logging', name: 'log_chunks' })
export class LogChunkRecord {
  @PrimaryColumn({ name: 'execution_id', type: 'uuid' })
  executionId: string;

  @PrimaryColumn({ name: 'first_sequence', type: 'integer' })
  firstSequence: number;

  @Column({ name: 'last_sequence', type: 'integer' })
  lastSequence: number;

  /** The lines as a JSON array (text: parsed by readers, never by the database). */
  @Column({ type: 'text' })
  lines: string;
}
