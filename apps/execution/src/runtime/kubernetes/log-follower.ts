import { Writable } from 'node:stream';
import type { Log } from '@kubernetes/client-node';
import type { LogCursor } from '../script-runtime.js';

/**
 * Where a log follow got to: the kubelet timestamp of the last line delivered and how many
 * delivered lines carry exactly that timestamp. Enough to resume with `sinceTime` and drop the
 * overlap, also after a restart of the execution service (defined with the runtime port, since
 * the dispatcher stores it).
 */
export type { LogCursor };

export interface LogSink {
  /** Log text, whole lines (each ending with "\n"), except possibly a last partial line at the very end. */
  data(text: string): void;
  /** The cursor after the text just delivered (persist it to resume after a restart). */
  cursor?(cursor: LogCursor): void;
  /** The follow is over: the container ended and its log was read to the end, or the pod is gone. */
  ended(reason: 'complete' | 'pod-gone' | 'stopped' | 'error', detail?: string): void;
}

export interface LogFollowerOptions {
  log: Log;
  namespace: string;
  pod: string;
  container: string;
  /** After a clean end of stream while the container is not known to have ended, wait this long for the watch to say so before resuming. */
  settleMs?: number;
  /** Error retries (not counting resumes after a clean early close) before giving up. */
  maxErrors?: number;
}

const TS = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

/** Nanoseconds since the epoch of an RFC 3339 timestamp (kubelet's are RFC3339Nano, trailing zeros trimmed). */
export function timestampNanos(ts: string): bigint | undefined {
  const m = TS.exec(ts);
  if (!m) return undefined;
  const seconds = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(seconds)) return undefined;
  return BigInt(seconds) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}

/** `sinceTime` for a resume: the API server passes it on to the kubelet with second precision, so ask for the whole second. */
export function sinceTimeFor(ts: string): string | undefined {
  const m = TS.exec(ts);
  if (!m) return undefined;
  return new Date(Date.parse(`${m[1]}${m[3]}`)).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Follows one container's log through the pod log API (`follow=true&timestamps=true`).
 * The stream can close before the container ends (kubelet or proxy timeouts, log rotation):
 * then it resumes with `sinceTime` = the last line's second and drops every line up to and
 * including the last one delivered, so no line is lost or doubled.
 *
 * The log API merges stdout and stderr: everything is delivered as one stream.
 */
export class LogFollower {
  private controller?: AbortController;
  private terminated = false;
  private done = false;
  private errors = 0;
  private emptyResumes = 0;
  private settleTimer?: NodeJS.Timeout;
  private retryTimer?: NodeJS.Timeout;
  private onTerminated?: () => void;
  /** Requests made, for tests and diagnostics. */
  requests = 0;

  constructor(
    private readonly options: LogFollowerOptions,
    private readonly sink: LogSink,
    private cursor?: LogCursor,
  ) {}

  get position(): LogCursor | undefined {
    return this.cursor && { ...this.cursor };
  }

  get finished(): boolean {
    return this.done;
  }

  start() {
    void this.open();
  }

  /** The container has ended (from the pod watch): the next clean end of stream is the real end. */
  containerEnded() {
    this.terminated = true;
    const settle = this.onTerminated;
    this.onTerminated = undefined;
    settle?.();
  }

  /** Stops following (the pod is being deleted, or the runtime shuts down). */
  stop() {
    this.finish('stopped');
  }

  private finish(reason: Parameters<LogSink['ended']>[0], detail?: string) {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.settleTimer);
    clearTimeout(this.retryTimer);
    this.controller?.abort();
    this.sink.ended(reason, detail);
  }

  private async open() {
    if (this.done) return;
    const since = this.cursor ? sinceTimeFor(this.cursor.time) : undefined;
    const skipUpTo = this.cursor ? timestampNanos(this.cursor.time) : undefined;
    let skipSame = this.cursor?.sameTime ?? 0;
    let partial = '';
    let delivered = false;
    let ended = false;

    const deliverLines = (lines: string[], final: boolean) => {
      let text = '';
      for (const [i, line] of lines.entries()) {
        const space = line.indexOf(' ');
        const ts = space > 0 ? line.slice(0, space) : '';
        const nanos = timestampNanos(ts);
        if (nanos === undefined) {
          // Not a timestamped line (should not happen with timestamps=true): pass it through.
          text += line + (final && i === lines.length - 1 ? '' : '\n');
          continue;
        }
        if (skipUpTo !== undefined && nanos < skipUpTo) continue;
        if (skipUpTo !== undefined && nanos === skipUpTo && skipSame > 0) {
          skipSame--;
          continue;
        }
        const content = line.slice(space + 1);
        text += content + (final && i === lines.length - 1 ? '' : '\n');
        const cursorNanos = this.cursor ? timestampNanos(this.cursor.time) : undefined;
        this.cursor = cursorNanos === nanos ? { time: this.cursor!.time, sameTime: this.cursor!.sameTime + 1 } : { time: ts, sameTime: 1 };
      }
      if (text) {
        delivered = true;
        this.sink.data(text);
        if (this.cursor) this.sink.cursor?.({ ...this.cursor });
      }
    };

    const target = new Writable({
      decodeStrings: false,
      write: (chunk: Buffer | string, _encoding, callback) => {
        if (!this.done) {
          const text = partial + (typeof chunk === 'string' ? chunk : chunk.toString('utf8'));
          const lines = text.split('\n');
          partial = lines.pop() ?? '';
          deliverLines(lines, false);
        }
        callback();
      },
    });
    // The log API pipes its response into `target`; a broken connection errors the source, which nobody else listens to.
    target.on('pipe', (source) => source.on('error', (error: Error) => streamEnded(error)));
    target.on('error', (error) => streamEnded(error));
    target.on('finish', () => streamEnded());

    const streamEnded = (error?: Error) => {
      if (ended || this.done) return;
      ended = true;
      this.controller = undefined;
      if (delivered) this.emptyResumes = 0;
      else this.emptyResumes++;
      if (error) {
        // The connection broke: whatever came after the last whole line comes again on resume.
        if (++this.errors > (this.options.maxErrors ?? 10)) return this.finish('error', error.message);
        return this.resume();
      }
      const finalEnd = () => {
        if (partial) deliverLines([partial], true);
        this.finish('complete');
      };
      if (this.terminated) return finalEnd();
      // A clean end before the watch said the container ended: either the watch is a little
      // behind (normal) or the stream closed early. Give the watch a moment, then resume.
      this.onTerminated = () => {
        clearTimeout(this.settleTimer);
        finalEnd();
      };
      this.settleTimer = setTimeout(() => {
        this.onTerminated = undefined;
        this.resume();
      }, this.options.settleMs ?? 2000);
    };

    try {
      this.requests++;
      this.controller = await this.options.log.log(this.options.namespace, this.options.pod, this.options.container, target, {
        follow: true,
        timestamps: true,
        ...(since ? { sinceTime: since } : {}),
      });
      if (this.done) this.controller.abort();
    } catch (error) {
      const code = (error as { code?: number }).code;
      if (this.done) return;
      if (code === 404) return this.finish('pod-gone');
      // 400: the container is not running yet or any more in a way the log API accepts; other codes: transient.
      if (++this.errors > (this.options.maxErrors ?? 10)) return this.finish('error', (error as Error).message);
      this.emptyResumes++;
      this.resume();
    }
  }

  private resume() {
    if (this.done) return;
    // Back off only when resumes keep coming back empty (an API server closing at once).
    const delay = this.emptyResumes <= 1 ? 0 : Math.min(5000, 100 * 2 ** Math.min(this.emptyResumes, 6));
    this.retryTimer = setTimeout(() => void this.open(), delay);
  }
}
