import { Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, MoreThan } from 'typeorm';
import type { OutputLine, OutputProducedEvent, RunCreatedEvent } from '#contracts/events.js';
import { Subjects } from '#contracts/subjects.js';
import { EventBus } from '#common/bus.js';
import { LogChunkRecord } from './log-chunk.entity.js';
import { LogStream } from './log-stream.entity.js';

/** Lines per stored row: large enough that a flood is few writes, small enough that a reader parses little it does not need. */
const MAX_CHUNK_LINES = 5000;
/** Rows per read query. */
const CHUNKS_PER_READ = 4;

interface PendingBatch {
  userId: string;
  lines: OutputLine[];
  final: boolean;
  /** The events merged into this batch, told when it is stored (or failed to be). */
  waiting: { stored: () => void; failed: (error: unknown) => void }[];
}

/**
 * Stores output batches in sequence order, one execution at a time. Batches that
 * arrive while a write is in flight are merged into the next write, so a flood of
 * small batches becomes a few large rows.
 */
@Injectable()
export class LogStore implements OnModuleInit, OnModuleDestroy {
  private readonly pending = new Map<string, PendingBatch>();
  private readonly writing = new Set<string>();
  private unsubscribe: (() => void)[] = [];

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly bus: EventBus,
  ) {}

  onModuleInit() {
    this.unsubscribe = [
      this.bus.subscribe(Subjects.outputProduced, (e) => this.accept(e), { queue: 'logging' }),
      this.bus.subscribe(Subjects.runCreated, (e) => this.register(e), { queue: 'logging' }),
    ];
  }

  onModuleDestroy() {
    this.unsubscribe.forEach((u) => u());
  }

  private async register(event: RunCreatedEvent) {
    await this.db.query(
      `INSERT INTO logging.log_streams (execution_id, user_id) VALUES ($1, $2) ON CONFLICT (execution_id) DO NOTHING`,
      [event.run.executionId, event.run.userId],
    );
  }

  /** Resolves once the event's lines are stored (the bus acknowledges a durable event then, not before). */
  private accept(event: OutputProducedEvent): Promise<void> {
    return new Promise((stored, failed) => {
      const batch = this.pending.get(event.executionId);
      if (batch) {
        batch.lines.push(...event.lines);
        batch.final ||= event.final;
        batch.waiting.push({ stored, failed });
      } else {
        this.pending.set(event.executionId, { userId: event.userId, lines: [...event.lines], final: event.final, waiting: [{ stored, failed }] });
      }
      if (!this.writing.has(event.executionId)) void this.drain(event.executionId);
    });
  }

  private async drain(executionId: string) {
    this.writing.add(executionId);
    try {
      for (let batch = this.pending.get(executionId); batch; batch = this.pending.get(executionId)) {
        this.pending.delete(executionId);
        try {
          await this.write(executionId, batch);
          for (const w of batch.waiting) w.stored();
        } catch (error) {
          for (const w of batch.waiting) w.failed(error);
        }
      }
    } finally {
      this.writing.delete(executionId);
    }
  }

  private async write(executionId: string, batch: PendingBatch) {
    // Redelivered lines (same sequence) are dropped, so a replayed batch is harmless.
    const lines = batch.lines.sort((a, b) => a.sequence - b.sequence);
    for (let start = 0; start < lines.length; start += MAX_CHUNK_LINES) {
      const chunk = lines.slice(start, start + MAX_CHUNK_LINES);
      await this.db.query(
        // A resent batch may start where a stored one starts but reach further: keep the longer.
        `INSERT INTO logging.log_chunks (execution_id, first_sequence, last_sequence, lines) VALUES ($1, $2, $3, $4)
         ON CONFLICT (execution_id, first_sequence) DO UPDATE SET last_sequence = EXCLUDED.last_sequence, lines = EXCLUDED.lines
         WHERE EXCLUDED.last_sequence > log_chunks.last_sequence`,
        [executionId, chunk[0].sequence, chunk.at(-1)!.sequence, JSON.stringify(chunk)],
      );
    }
    // The stream's length and completion are written after its lines, so a reader never
    // sees a log complete before every line of it is readable.
    await this.db.query(
      `INSERT INTO logging.log_streams (execution_id, user_id, line_count, complete) VALUES ($1, $2, $3, $4)
       ON CONFLICT (execution_id) DO UPDATE SET line_count = GREATEST(log_streams.line_count, EXCLUDED.line_count),
         complete = log_streams.complete OR EXCLUDED.complete`,
      [executionId, batch.userId, lines.at(-1)?.sequence ?? 0, batch.final],
    );
  }

  findStream(executionId: string): Promise<LogStream | null> {
    return this.db.getRepository(LogStream).findOneBy({ executionId });
  }

  /** Stored lines after `afterSequence`, in order, at most `limit`; reads a few chunks at a time, never more than it needs. */
  async read(executionId: string, afterSequence: number, limit = Number.MAX_SAFE_INTEGER): Promise<OutputLine[]> {
    const lines: OutputLine[] = [];
    let after = afterSequence;
    for (;;) {
      const chunks = await this.db.getRepository(LogChunkRecord).find({
        where: { executionId, lastSequence: MoreThan(after) },
        order: { firstSequence: 'ASC' },
        take: CHUNKS_PER_READ,
      });
      for (const chunk of chunks) {
        for (const line of JSON.parse(chunk.lines) as OutputLine[]) {
          if (line.sequence <= after) continue;
          lines.push(line);
          after = line.sequence;
          if (lines.length >= limit) return lines;
        }
      }
      if (chunks.length < CHUNKS_PER_READ) return lines;
    }
  }
}
