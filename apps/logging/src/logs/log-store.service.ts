import { Injectable, type BeforeApplicationShutdown, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import type { OutputLine, OutputProducedEvent } from '#contracts/events.js';
import { Subjects } from '#contracts/subjects.js';
import { EventBus } from '#common/bus.js';
import { contiguousRuns, groupsOf, lineBytes } from './line-batches.js';
import { LogChunksRepository } from './log-chunks.repository.js';
import type { LogStream } from './log-stream.entity.js';
import { LogStreamsRepository, type StreamProgress } from './log-streams.repository.js';

/** Lines per stored row: large enough that a flood is few writes, small enough that a reader parses little it does not need. */
export const MAX_ROW_LINES = 5000;
/** Bytes per stored row: lines can be 256 KiB each, and a row is read (and sent) whole. */
export const MAX_ROW_BYTES = 512 * 1024;
/** Rows per read query. */
const ROWS_PER_READ = 4;

export interface ReadOptions {
  /** At most this many lines (default: no bound but `maxBytes`). */
  limit?: number;
  /** At most about this many bytes (at least one line is returned whatever its size). */
  maxBytes?: number;
  /**
   * Read on past missing sequences. Only for a complete log, whose holes can never fill
   * (a lost run); otherwise a read stops at the first hole, so no line is ever skipped.
   */
  throughHoles?: boolean;
  /** Only lines of these streams (stdout, stderr, system); the others are passed over. */
  streams?: ReadonlySet<string>;
}

export interface LogRead {
  lines: OutputLine[];
  /** Every line up to this sequence was considered: with a streams filter, past the last line returned. */
  through: number;
}

interface PendingBatch {
  userId: string;
  lines: OutputLine[];
  final: boolean;
  finalSequence?: number;
  lost: boolean;
  /** The events merged into this batch, told when it is stored (or failed to be). */
  waiting: { stored: () => void; failed: (error: unknown) => void }[];
}

/**
 * Stores output batches, one execution at a time. Batches that arrive while a write is
 * in flight are merged into the next write, so a flood of small batches becomes a few
 * large rows. Every row holds a gap-free run of sequences and no sequence is stored twice,
 * whatever order (and how many times) JetStream delivers the batches in.
 */
@Injectable()
export class LogStore implements OnModuleInit, OnModuleDestroy, BeforeApplicationShutdown {
  private readonly pending = new Map<string, PendingBatch>();
  private readonly writing = new Set<string>();
  private readonly drains = new Set<Promise<void>>();
  private unsubscribe: (() => void)[] = [];

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly bus: EventBus,
    private readonly streams: LogStreamsRepository,
    private readonly chunks: LogChunksRepository,
  ) {}

  onModuleInit() {
    this.unsubscribe = [
      this.bus.subscribe(Subjects.outputProduced, (e) => this.accept(e), { queue: 'logging' }),
    ];
  }

  onModuleDestroy() {
    this.unsubscribe.forEach((u) => u());
  }

  /** Shutdown: the batches already accepted are written before the database closes. */
  async beforeApplicationShutdown() {
    while (this.drains.size) await Promise.all([...this.drains]);
  }

  /** Resolves once the event's lines are stored (the bus acknowledges a durable event then, not before). */
  private accept(event: OutputProducedEvent): Promise<void> {
    return new Promise((stored, failed) => {
      const batch = this.pending.get(event.executionId);
      if (batch) {
        batch.lines.push(...event.lines);
        batch.final ||= event.final;
        if (event.finalSequence !== undefined) batch.finalSequence = Math.max(batch.finalSequence ?? 0, event.finalSequence);
        batch.lost ||= event.lost === true;
        batch.waiting.push({ stored, failed });
      } else {
        this.pending.set(event.executionId, {
          userId: event.userId,
          lines: [...event.lines],
          final: event.final,
          finalSequence: event.final ? event.finalSequence : undefined,
          lost: event.lost === true,
          waiting: [{ stored, failed }],
        });
      }
      if (!this.writing.has(event.executionId)) {
        const drained = this.drain(event.executionId).finally(() => this.drains.delete(drained));
        this.drains.add(drained);
      }
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

  /**
   * One transaction per batch, holding the stream's row lock so replicas that receive
   * redeliveries of the same run write one after the other: lines already stored are
   * dropped, the rest is stored as gap-free rows, then how far the log is stored and
   * whether it is complete.
   */
  private async write(executionId: string, batch: PendingBatch) {
    const bySequence = new Map<number, OutputLine>();
    for (const line of batch.lines) if (Number.isInteger(line.sequence) && line.sequence > 0 && !bySequence.has(line.sequence)) bySequence.set(line.sequence, line);
    const lines = [...bySequence.values()].sort((a, b) => a.sequence - b.sequence);
    await this.db.transaction(async (tx) => {
      const stream = await this.streams.lock(tx, executionId, batch.userId);
      if (stream.deleted) return;
      const fresh = await this.unstored(tx, executionId, lines.filter((l) => l.sequence > stream.stored_through), stream.line_count);
      const rows = contiguousRuns(fresh).flatMap((run) => groupsOf(run, MAX_ROW_LINES, MAX_ROW_BYTES));
      let addedBytes = 0;
      for (const row of rows) addedBytes += await this.chunks.insert(tx, executionId, row);
      const storedThrough = await this.storedThrough(tx, executionId, stream, rows);
      const lineCount = Math.max(stream.line_count, fresh.at(-1)?.sequence ?? 0);
      let finalSequence = stream.final_sequence;
      let complete = stream.complete;
      if (batch.lost || (batch.final && batch.finalSequence === undefined && finalSequence === null)) {
        // Lines a lost run never published will never come, and an older publisher does not say
        // how many there are: the log ends with what is stored (as it always did for the latter).
        finalSequence = lineCount;
        complete = true;
      } else if (batch.final) {
        finalSequence ??= batch.finalSequence ?? lineCount;
      }
      complete ||= finalSequence !== null && storedThrough >= finalSequence;
      await this.streams.saveProgress(tx, executionId, { stored_through: storedThrough, line_count: lineCount, final_sequence: finalSequence, complete }, addedBytes);
    });
  }

  /** `sorted` without the lines whose sequence a stored row already holds (none past `highestStored`). */
  private async unstored(tx: EntityManager, executionId: string, sorted: OutputLine[], highestStored: number): Promise<OutputLine[]> {
    if (!sorted.length || sorted[0].sequence > highestStored) return sorted;
    const stored = await this.chunks.storedRanges(tx, executionId, sorted[0].sequence, sorted.at(-1)!.sequence);
    let r = 0;
    return sorted.filter((line) => {
      while (r < stored.length && stored[r].last_sequence < line.sequence) r++;
      return !(r < stored.length && stored[r].first_sequence <= line.sequence);
    });
  }

  /** How far the log is stored without a hole once `rows` (sorted) are added. */
  private async storedThrough(tx: EntityManager, executionId: string, stream: StreamProgress, rows: OutputLine[][]): Promise<number> {
    if (!rows.length || rows[0][0].sequence !== stream.stored_through + 1) return stream.stored_through;
    // Nothing was stored past the hole-free part: the new rows alone say how far it reaches.
    if (stream.line_count === stream.stored_through) {
      let through = stream.stored_through;
      for (const row of rows) if (row[0].sequence === through + 1) through = row.at(-1)!.sequence;
      return through;
    }
    return this.chunks.contiguousFrom(tx, executionId, stream.stored_through);
  }

  findStream(executionId: string): Promise<LogStream | null> {
    return this.streams.find(executionId);
  }

  /**
   * Stored lines after `afterSequence`, in order, by sequence: the read stops at the first
   * missing sequence (unless `throughHoles`), at `limit` lines or at about `maxBytes`.
   * Reads a few rows at a time, never more than it needs.
   */
  async read(executionId: string, afterSequence: number, options: ReadOptions = {}): Promise<LogRead> {
    const { limit = Number.MAX_SAFE_INTEGER, maxBytes = Number.MAX_SAFE_INTEGER, throughHoles = false, streams } = options;
    const lines: OutputLine[] = [];
    let after = afterSequence;
    let bytes = 0;
    for (;;) {
      const rows = await this.chunks.rowsAfter(executionId, after, ROWS_PER_READ);
      for (const row of rows) {
        if (!throughHoles && row.firstSequence > after + 1) return { lines, through: after };
        for (const line of JSON.parse(row.lines) as OutputLine[]) {
          if (line.sequence <= after) continue;
          if (streams && !streams.has(line.stream)) {
            after = line.sequence;
            continue;
          }
          bytes += lineBytes(line);
          if (lines.length && bytes > maxBytes) return { lines, through: after };
          lines.push(line);
          after = line.sequence;
          if (lines.length >= limit) return { lines, through: after };
        }
      }
      if (rows.length < ROWS_PER_READ) return { lines, through: after };
    }
  }
}
