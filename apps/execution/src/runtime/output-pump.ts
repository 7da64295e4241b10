import type { OutputLine } from '#contracts/events.js';

export interface OutputSink {
  lines(lines: OutputLine[]): void;
  progress(percent: number, message: string): void;
  result(value: unknown): void;
}

const MAX_LINE = 64 * 1024;
const MAX_BATCH = 2000;
const PROGRESS = /^::progress\s+(\d{1,3}(?:\.\d+)?)\s*(.*)$/;
const RESULT = /^::result\s+(.*)$/;

/**
 * Turns a run's stdout/stderr bytes into numbered lines, batched per event-loop
 * turn (a burst becomes one batch; a lone line leaves at once). Protocol lines on
 * stdout (`::progress <0-100> [message]`, `::result <json>`) are reported, not logged.
 */
export class OutputPump {
  private sequence = 0;
  private readonly partial = { stdout: '', stderr: '' };
  private batch: OutputLine[] = [];
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
    const text = this.partial[stream] + chunk;
    const parts = text.split('\n');
    this.partial[stream] = parts.pop() ?? '';
    if (this.partial[stream].length > MAX_LINE) {
      parts.push(this.partial[stream]);
      this.partial[stream] = '';
    }
    for (const part of parts) this.line(stream, part.endsWith('\r') ? part.slice(0, -1) : part);
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
      if (this.partial[stream]) this.line(stream, this.partial[stream]);
      this.partial[stream] = '';
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
    this.push(stream, text.length > MAX_LINE ? `${text.slice(0, MAX_LINE)}… [line truncated]` : text);
  }

  private push(stream: OutputLine['stream'], text: string) {
    this.batch.push({ sequence: ++this.sequence, stream, text, timestamp: this.now });
    if (this.batch.length >= MAX_BATCH) this.flush();
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
    this.sink.lines(lines);
  }
}
