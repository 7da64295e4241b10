import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager, MoreThan } from 'typeorm';
import type { OutputLine } from '#contracts/events.js';
import { LogChunkRecord } from './log-chunk.entity.js';

/** The SQL of `logging.log_chunks`: gap-free runs of one log's lines, one row each. */
@Injectable()
export class LogChunksRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /** Stores `row` (consecutive lines); answers its size in bytes as stored. */
  async insert(tx: EntityManager, executionId: string, row: OutputLine[]): Promise<number> {
    const lines = JSON.stringify(row);
    await tx.query(`INSERT INTO logging.log_chunks (execution_id, first_sequence, last_sequence, lines) VALUES ($1, $2, $3, $4)`, [
      executionId,
      row[0].sequence,
      row.at(-1)!.sequence,
      lines,
    ]);
    return Buffer.byteLength(lines);
  }

  /** The sequence ranges of the rows that overlap `from`…`to`, in order. */
  storedRanges(tx: EntityManager, executionId: string, from: number, to: number): Promise<{ first_sequence: number; last_sequence: number }[]> {
    return tx.query(
      `SELECT first_sequence, last_sequence FROM logging.log_chunks
       WHERE execution_id = $1 AND last_sequence >= $2 AND first_sequence <= $3 ORDER BY first_sequence`,
      [executionId, from, to],
    );
  }

  /** The last sequence reached from `through` by following rows that start right after the previous one ends. */
  async contiguousFrom(tx: EntityManager, executionId: string, through: number): Promise<number> {
    const [row]: { through: number }[] = await tx.query(
      `WITH RECURSIVE run(last_sequence) AS (
         SELECT $2::integer
         UNION ALL
         SELECT c.last_sequence FROM run JOIN logging.log_chunks c ON c.execution_id = $1 AND c.first_sequence = run.last_sequence + 1
       ) SELECT max(last_sequence)::integer AS through FROM run`,
      [executionId, through],
    );
    return row.through;
  }

  /** Up to `take` rows holding sequences after `after`, in sequence order. */
  rowsAfter(executionId: string, after: number, take: number): Promise<LogChunkRecord[]> {
    return this.db.getRepository(LogChunkRecord).find({
      where: { executionId, lastSequence: MoreThan(after) },
      // Rows never overlap, so this is sequence order too, and the (execution_id, last_sequence) index serves it.
      order: { lastSequence: 'ASC' },
      take,
    });
  }
}
