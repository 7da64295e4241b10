import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { LogStream } from './log-stream.entity.js';

/** How far a log is stored, as the writer reads it under the stream's row lock. */
export interface StreamProgress {
  stored_through: number;
  line_count: number;
  final_sequence: number | null;
  complete: boolean;
  /** The lines were deleted: whatever arrives later for this run is dropped. */
  deleted?: boolean;
}

/** The SQL of `logging.log_streams`: one row per run's log. */
@Injectable()
export class LogStreamsRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  async register(executionId: string, userId: string): Promise<void> {
    await this.db.query(`INSERT INTO logging.log_streams (execution_id, user_id) VALUES ($1, $2) ON CONFLICT (execution_id) DO NOTHING`, [executionId, userId]);
  }

  /** Creates the row if need be and locks it until `tx` ends: the no-op update returns it in one round trip. */
  async lock(tx: EntityManager, executionId: string, userId: string): Promise<StreamProgress> {
    const [stream]: StreamProgress[] = await tx.query(
      `INSERT INTO logging.log_streams (execution_id, user_id) VALUES ($1, $2)
       ON CONFLICT (execution_id) DO UPDATE SET user_id = log_streams.user_id
       RETURNING stored_through, line_count, final_sequence, complete, deleted_at IS NOT NULL AS deleted`,
      [executionId, userId],
    );
    return stream;
  }

  async saveProgress(tx: EntityManager, executionId: string, progress: StreamProgress, addedBytes: number): Promise<void> {
    await tx.query(
      `UPDATE logging.log_streams SET stored_through = $2, line_count = $3, final_sequence = $4, complete = $5, stored_bytes = stored_bytes + $6 WHERE execution_id = $1`,
      [executionId, progress.stored_through, progress.line_count, progress.final_sequence, progress.complete, addedBytes],
    );
  }

  find(executionId: string): Promise<LogStream | null> {
    return this.db.getRepository(LogStream).findOneBy({ executionId });
  }
}
