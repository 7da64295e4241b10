import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { OutputLine } from '#contracts/events.js';

/** A batch of consecutive lines of one run, stored as one row so high-volume output stays cheap. */
@Entity({ schema: 'logging', name: 'log_chunks' })
export class LogChunkRecord {
  @PrimaryColumn({ name: 'execution_id', type: 'uuid' })
  executionId: string;

  @PrimaryColumn({ name: 'first_sequence', type: 'integer' })
  firstSequence: number;

  @Column({ name: 'last_sequence', type: 'integer' })
  lastSequence: number;

  @Column({ type: 'jsonb' })
  lines: OutputLine[];
}
