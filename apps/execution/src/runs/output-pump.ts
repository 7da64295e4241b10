import type { OutputLine } from '#contracts/events.js';

export interface OutputSink {
  lines(lines: OutputLine[]): void;
  progress(percent: number, message: string): void;
  result(value: unknown): void;
}

/** Bytes (UTF-8) of a line that are kept; the rest is counted and named by one marker. */
export const MAX_LINE_BYTES = 256 * 1024;
const MAX_BATCH = 2000;
/** A published batch stays about this size (a longer line goes alone), well under the bus's message limit. */
export const MAX_BATCH_BYTES = 256 * 1024;

/** What ends a line longer than MAX_LINE_BYTES. */
export const droppedMarker = (bytes: number) => `… [${bytes} bytes dropped]`;

/** The line being read on one stream: its kept text (at most MAX_LINE_BYTES) and how much of it was dropped. */
interface OpenLine {
  text: string;
  bytes: number;
  dropped: number;
  /** The last byte seen was a CR, dropped with the rest: a CRLF ending is no part of the line. */
  droppedCr: boolean;
}

const openLine = (): OpenLine => ({ text: '', bytes: 0, dropped: 0, droppedCr: false });

/** The longest prefix of `text` of at most `room` UTF-8 bytes that does not cut a character. */
function prefixWithin(text: string, room: number): string {
  const bytes = Buffer.from(text, 'utf8');
  let end = Math.min(room, bytes.length);
  while (end > 0 && end < bytes.length && (bytes[end] & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString('utf8');
}
const PROGRESS = /^::progress\s+(\d{1,3}(?:\.\d+)?)\s*(.*)$/;
const RESULT = /^::result\s+(.*)$/;

/**
 * Turns a run's stdout/stderr bytes into numbered lines, batched per event-loop
 * turn (a burst becomes one batch; a lone line leaves at once). Protocol lines on
 * stdout (`::progress <0-100> [message]`, `::result <json>`) are reported, not logged.
 */
export class OutputPump {
  private sequence = 0;
  private readonly open = { stdout: openLine(), stderr: openLine() };
  private batch: OutputLine[] = [];
  private batchBytes = 0;
  private flushScheduled = false;
  private now = new Date().toISOString();

  constructor(
    private readonly sink: OutputSink,
    startAfter = 0,
  ) {
    this.sequence = startAfter;
  }

  /** The sequence of the last line numbered so far (the run's final sequence once `end` was called). */
  get lastSequence(): number {
    return this.sequence;
  }

  write(stream: 'stdout' | 'stderr', chunk: string) {
    // Every line of one read arrived at the same moment: one timestamp serves them all.
    this.now = new Date().toISOString();
    const parts = chunk.split('\n');
    const last = parts.pop()!;
    for (const part of parts) {
      this.append(stream, part);
      this.endLine(stream);
    }
    this.append(stream, last);
  }

  /**
   * Adds text to the open line, up to MAX_LINE_BYTES; the rest is only counted. What is kept
   * never depends on how the output was cut into reads.
   */
  private append(stream: 'stdout' | 'stderr', piece: string) {
    if (!piece) return;
    const line = this.open[stream];
    const size = Buffer.byteLength(piece, 'utf8');
    if (line.dropped === 0 && line.bytes + size <= MAX_LINE_BYTES) {
      line.text += piece;
      line.bytes += size;
      return;
    }
    const kept = line.dropped === 0 ? prefixWithin(piece, MAX_LINE_BYTES - line.bytes) : '';
    const keptBytes = Buffer.byteLength(kept, 'utf8');
    line.text += kept;
    line.bytes += keptBytes;
    line.dropped += size - keptBytes;
    line.droppedCr = piece.endsWith('\r') && size > keptBytes;
  }

  private endLine(stream: 'stdout' | 'stderr') {
    const line = this.open[stream];
    this.open[stream] = openLine();
    if (line.dropped) {
      const dropped = line.dropped - (line.droppedCr ? 1 : 0);
      return this.line(stream, dropped ? line.text + droppedMarker(dropped) : line.text);
    }
    this.line(stream, line.text.endsWith('\r') ? line.text.slice(0, -1) : line.text);
  }

  /** A line the platform itself adds to the log (e.g. why a run was stopped). */
  system(text: string) {
    this.now = new Date().toISOString();
    this.push('system', text);
  }

  /** Flushes partial lines and the pending batch: call once the process has exited. */
  end() {
    this.now = new Date().toISOString();
    for (const stream of ['stdout', 'stderr'] as const) {
      if (this.open[stream].bytes || this.open[stream].dropped) this.endLine(stream);
    }
    this.flush();
  }

  private line(stream: 'stdout' | 'stderr', text: string) {
    if (stream === 'stdout' && text.startsWith('::')) {
      const progress = PROGRESS.exec(text);
      if (progress) return this.sink.progress(Math.min(100, Math.round(Number(progress[1]))), progress[2].trim());
      const result = RESULT.exec(text);
      if (result) {
        try {
          return this.sink.result(JSON.parse(result[1]));
        } catch {
          return this.system(`::result ignored: not valid JSON: ${result[1].slice(0, 200)}`);
        }
      }
    }
    this.push(stream, text);
  }

  private push(stream: OutputLine['stream'], text: string) {
    const bytes = Buffer.byteLength(text, 'utf8');
    if (this.batch.length && this.batchBytes + bytes > MAX_BATCH_BYTES) this.flush();
    this.batch.push({ sequence: ++this.sequence, stream, text, timestamp: this.now });
    this.batchBytes += bytes;
    if (this.batch.length >= MAX_BATCH || this.batchBytes >= MAX_BATCH_BYTES) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush() {
    this.flushScheduled = false;
    if (!this.batch.length) return;
    const lines = this.batch;
    this.batch = [];
    this.batchBytes = 0;
    this.sink.lines(lines);
  }
}
