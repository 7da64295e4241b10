import { Inject, Injectable } from '@nestjs/common';
import { once } from 'node:events';
import { createGzip } from 'node:zlib';
import type { Writable } from 'node:stream';
import tar from 'tar-stream';
import type { Caller } from '#common/auth.js';
import { notFound } from '#common/errors.js';
import type { ExportChunk, ExportLogRequest, ExportLogsRequest, RunContext } from '#contracts/generated/scriptorium/logging/v1/logging.js';
import { mayRead, ownerScope, streamFilter } from '../logs/log-access.js';
import { LogAccess } from '../logs/log-access.service.js';
import { LogStore } from '../logs/log-store.service.js';
import { LogRunsRepository } from '../runs/log-runs.repository.js';
import { runContextOf } from '../runs/run-context.js';
import { runFilterOf } from '../search/search-query.js';
import type { LoggingConfig } from '../logging.config.js';
import { CONTENT_TYPES, EXTENSIONS, exportFormatOf, writerFor, type ExportFormat } from './log-formats.js';

/** Bytes of lines per store read (about two stored rows). */
const BYTES_PER_READ = 1024 * 1024;
/** Bytes per message sent: well under gRPC's 4 MiB. */
const CHUNK_BYTES = 64 * 1024;
/** Characters per rendered piece. */
const PIECE_CHARS = 16 * 1024;

/** Sends one message, resolving when the receiver can take more (so nothing piles up in memory). */
export type Send = (chunk: ExportChunk) => Promise<void>;

/**
 * Exports logs with their run's context, streamed: lines are read a page at a time and sent
 * in pieces as the receiver takes them, so memory does not grow with a log's size.
 */
@Injectable()
export class ExportService {
  constructor(
    private readonly access: LogAccess,
    private readonly store: LogStore,
    private readonly runs: LogRunsRepository,
    @Inject('SERVICE_CONFIG') private readonly config: LoggingConfig,
  ) {}

  async exportLog(caller: Caller, request: ExportLogRequest, send: Send): Promise<void> {
    const format = exportFormatOf(request.format);
    const streams = streamFilter(request.streams);
    const stream = await this.access.readableStream(caller, request.executionId);
    const run = await this.context(request.executionId, stream.userId, stream.createdAt);
    await send({ data: Buffer.alloc(0), contentType: CONTENT_TYPES[format], fileName: `execution-${request.executionId}.${EXTENSIONS[format]}` });
    const out = new Pieces(send);
    for await (const piece of this.render(run, format, streams, Number.MAX_SAFE_INTEGER)) await out.write(piece);
    await out.flush();
  }

  /** The logs of the runs a filter selects (newest first, at most LOG_EXPORT_MAX_RUNS), as one tar.gz. */
  async exportLogs(caller: Caller, request: ExportLogsRequest, send: Send): Promise<void> {
    const format = exportFormatOf(request.format);
    const scope = ownerScope(caller, request.filter);
    const filter = runFilterOf(request.filter);
    const max = request.maxRuns > 0 ? Math.min(request.maxRuns, this.config.LOG_EXPORT_MAX_RUNS) : this.config.LOG_EXPORT_MAX_RUNS;
    const rows = await this.runs.list(scope, filter, max);
    await send({ data: Buffer.alloc(0), contentType: 'application/gzip', fileName: `logs-${new Date().toISOString().slice(0, 19).replace(/:/g, '')}.tar.gz` });
    const pack = tar.pack();
    const gzip = createGzip();
    pack.pipe(gzip);
    const out = new Pieces(send);
    const sending = (async () => {
      for await (const piece of gzip) await out.write(piece as Buffer);
      await out.flush();
    })();
    try {
      for (const row of rows) {
        if (!mayRead(caller, row.user_id)) continue;
        const run = runContextOf(row);
        // A tar entry states its size first: measured by rendering once, then written exactly that long.
        let size = 0;
        let through = 0;
        for await (const piece of this.render(run, format, undefined, Number.MAX_SAFE_INTEGER, (t) => (through = t))) size += piece.length;
        const entry = pack.entry({ name: `${safeName(run.scriptId || 'run')}/${run.executionId}.${EXTENSIONS[format]}`, size, mtime: new Date(run.finishedAt || run.createdAt) });
        await writeExactly(entry as unknown as Writable, this.render(run, format, undefined, through), size);
      }
      pack.finalize();
    } catch (error) {
      pack.destroy(error as Error);
      throw error;
    }
    await sending;
  }

  private async context(executionId: string, userId: string, createdAt: Date): Promise<RunContext> {
    const row = await this.runs.find(executionId);
    if (row) return runContextOf(row);
    if (!userId) throw notFound(`No log for execution ${executionId}`);
    // A log older than run contexts: its owner and time are all that is known.
    return runContextOf({ execution_id: executionId, user_id: userId, username: '', user_level: '', script_id: '', script_name: '', group_id: '', project_id: '', project_name: '', parameters: {}, state: '', exit_code: null, created_at: createdAt, started_at: null, finished_at: null, duration_ms: null });
  }

  /** The log in `format`, up to sequence `upTo`, as pieces of text; tells `reached` the last sequence read. */
  private async *render(run: RunContext, format: ExportFormat, streams: ReadonlySet<string> | undefined, upTo: number, reached?: (through: number) => void): AsyncGenerator<Buffer> {
    const writer = writerFor(format, run);
    yield Buffer.from(writer.head());
    const stream = await this.access.streamOf(run.executionId);
    if (!stream || stream.deletedAt) {
      reached?.(0);
      return;
    }
    let after = 0;
    for (;;) {
      const { lines, through } = await this.store.read(run.executionId, after, { maxBytes: BYTES_PER_READ, throughHoles: stream.complete, streams });
      // Small pieces: large strings and buffers live in V8's old space until a full collection.
      let piece = '';
      for (const line of lines) {
        if (line.sequence > upTo) break;
        piece += writer.line(line);
        if (piece.length >= PIECE_CHARS) {
          yield Buffer.from(piece);
          piece = '';
        }
      }
      if (piece) yield Buffer.from(piece);
      const next = Math.min(through, upTo);
      if (next <= after || next >= upTo) {
        reached?.(next);
        return;
      }
      after = next;
    }
  }
}

/** Gathers bytes into messages of CHUNK_BYTES. */
class Pieces {
  private parts: Buffer[] = [];
  private size = 0;

  constructor(private readonly send: Send) {}

  async write(data: Buffer) {
    this.parts.push(data);
    this.size += data.length;
    if (this.size >= CHUNK_BYTES) await this.flush();
  }

  async flush() {
    if (this.size) await this.send({ data: Buffer.concat(this.parts), contentType: '', fileName: '' });
    this.parts = [];
    this.size = 0;
  }
}

/** Writes `pieces` into a tar entry of `size` bytes: cut or padded with newlines if the log changed between the two renderings. */
async function writeExactly(entry: Writable, pieces: AsyncIterable<Buffer>, size: number) {
  let left = size;
  const put = async (data: Buffer) => {
    if (!entry.write(data)) await once(entry, 'drain');
  };
  for await (const piece of pieces) {
    if (left <= 0) break;
    const part = piece.length > left ? piece.subarray(0, left) : piece;
    left -= part.length;
    await put(part);
  }
  if (left > 0) await put(Buffer.alloc(left, '\n'));
  entry.end();
  await once(entry, 'finish');
}

const safeName = (id: string) => id.replace(/[^A-Za-z0-9._-]+/g, '_');
