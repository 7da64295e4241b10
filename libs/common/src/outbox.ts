import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** One durable event waiting for the broker's acknowledgement. */
export interface OutboxRecord {
  eventId: string;
  subject: string;
  /** The event, JSON-encoded. */
  payload: string;
}

export interface OutboxOptions {
  /** Above this many bytes on disk the outbox is `full` (back-pressure); appends are never refused. */
  maxBytes: number;
  /** A new segment file is started past this size; default an eighth of maxBytes, 64 KiB to 8 MiB. */
  segmentBytes?: number;
}

/** The directory is owned by a live process. */
export class OutboxLockedError extends Error {
  constructor(
    readonly dir: string,
    readonly pid: number,
  ) {
    super(`the outbox directory ${dir} is in use by process ${pid}`);
    this.name = 'OutboxLockedError';
  }
}

const LOCK = 'owner.pid';
const SEGMENT = /^segment-(\d{12})\.log$/;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the directory's pid lock, or throws OutboxLockedError naming the live owner. */
function lock(dir: string) {
  const path = join(dir, LOCK);
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(path, String(process.pid), { flag: 'wx' });
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    let owner = NaN;
    try {
      owner = Number(readFileSync(path, 'utf8').trim());
    } catch {
      // Removed meanwhile: try again.
    }
    if (Number.isInteger(owner) && owner > 0 && alive(owner)) throw new OutboxLockedError(dir, owner);
    if (attempt >= 2) throw new Error(`cannot take the lock of the outbox directory ${dir} (another process is taking it too)`);
    rmSync(path, { force: true }); // its owner died: the directory, and what it left, are ours now
  }
}

interface Segment {
  index: number;
  path: string;
  fd: number;
  bytes: number;
  unacknowledged: number;
}

/**
 * An on-disk journal of durable events not yet acknowledged by the broker, owned by one
 * process (a pid lock). Records are appended, one line each (`eventId \t subject \t payload`:
 * JSON never holds a raw tab or newline), to segment files before they are sent; a segment
 * is deleted once every record in it is acknowledged. On open, the records a dead predecessor
 * left are `recovered` (to be sent again; the broker deduplicates by event id), and a torn
 * last record (the process was killed mid-write) is skipped.
 *
 * Writes are not fsynced: the journal survives the process being killed, not the machine
 * losing power, which would cost a disk flush per output batch.
 */
export class Outbox {
  readonly recovered: OutboxRecord[] = [];
  /** Records that could not be read back (torn or corrupt), skipped at open. */
  readonly skipped: number = 0;
  private readonly segments: Segment[] = [];
  private readonly segmentOf = new Map<string, Segment>();
  private readonly segmentBytes: number;
  private current: Segment | undefined;
  private nextIndex = 1;
  private closed = false;

  private constructor(
    readonly dir: string,
    readonly maxBytes: number,
    segmentBytes: number | undefined,
  ) {
    this.segmentBytes = segmentBytes ?? Math.min(8 * 1024 ** 2, Math.max(64 * 1024, Math.floor(maxBytes / 8)));
  }

  /** Opens (creating) the directory, takes its lock, and reads what a predecessor left. */
  static open(dir: string, options: OutboxOptions): Outbox {
    if (!(options.maxBytes > 0)) throw new Error(`the outbox bound must be a positive number of bytes (got ${options.maxBytes})`);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    lock(dir);
    const outbox = new Outbox(dir, options.maxBytes, options.segmentBytes);
    try {
      outbox.recover();
    } catch (error) {
      outbox.close();
      throw error;
    }
    return outbox;
  }

  /**
   * Opens the first of `dir-0`, `dir-1`, … not owned by a live process: a restarted process
   * takes over its predecessor's journal, while concurrent replicas never share one.
   */
  static openFirstFree(base: string, options: OutboxOptions, slots = 64): Outbox {
    for (let slot = 0; slot < slots; slot++) {
      try {
        return Outbox.open(`${base}-${slot}`, options);
      } catch (error) {
        if (!(error instanceof OutboxLockedError)) throw error;
      }
    }
    throw new Error(`all ${slots} outbox directories ${base}-N are in use by live processes`);
  }

  /** Bytes on disk in segments still holding unacknowledged records. */
  get bytes(): number {
    return this.segments.reduce((sum, s) => sum + s.bytes, 0);
  }

  /** Records not acknowledged yet. */
  get pending(): number {
    return this.segmentOf.size;
  }

  get full(): boolean {
    return this.bytes > this.maxBytes;
  }

  /** Journals a record; it stays until `acknowledge(record.eventId)`. */
  append(record: OutboxRecord): void {
    if (this.closed) throw new Error('the outbox is closed');
    if (/[\t\n]/.test(record.eventId + record.subject) || /\n/.test(record.payload)) throw new Error('an outbox record cannot hold a newline, nor a tab in its id or subject');
    if (!this.current || this.current.bytes >= this.segmentBytes) this.current = this.openSegment(this.nextIndex++);
    const line = Buffer.from(`${record.eventId}\t${record.subject}\t${record.payload}\n`);
    writeSync(this.current.fd, line);
    this.current.bytes += line.length;
    this.current.unacknowledged++;
    this.segmentOf.set(record.eventId, this.current);
  }

  /** The broker stored the event: forget it (its segment goes once all its records did). */
  acknowledge(eventId: string): void {
    const segment = this.segmentOf.get(eventId);
    if (!segment) return;
    this.segmentOf.delete(eventId);
    segment.unacknowledged--;
    if (segment.unacknowledged === 0 && (segment !== this.current || segment.bytes >= this.segmentBytes)) this.drop(segment);
  }

  /** Releases the lock; unacknowledged records stay on disk for the next owner. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const segment of [...this.segments]) {
      if (segment.unacknowledged === 0) this.drop(segment);
      else closeSync(segment.fd);
    }
    rmSync(join(this.dir, LOCK), { force: true });
  }

  private openSegment(index: number): Segment {
    const path = join(this.dir, `segment-${String(index).padStart(12, '0')}.log`);
    const segment: Segment = { index, path, fd: openSync(path, 'a', 0o600), bytes: 0, unacknowledged: 0 };
    this.segments.push(segment);
    return segment;
  }

  private drop(segment: Segment) {
    closeSync(segment.fd);
    rmSync(segment.path, { force: true });
    this.segments.splice(this.segments.indexOf(segment), 1);
    if (this.current === segment) this.current = undefined;
  }

  /** Reads the predecessor's segments in order; they are kept (and deleted as their records are acknowledged). */
  private recover() {
    const files = readdirSync(this.dir)
      .map((name) => SEGMENT.exec(name))
      .filter((m): m is RegExpExecArray => !!m)
      .map((m) => ({ name: m[0], index: Number(m[1]) }))
      .sort((a, b) => a.index - b.index);
    let skipped = 0;
    for (const file of files) {
      const path = join(this.dir, file.name);
      const text = readFileSync(path, 'utf8');
      const lines = text.split('\n');
      const torn = lines.pop(); // after the last newline: empty, or a record cut short
      if (torn) skipped++;
      const segment: Segment = { index: file.index, path, fd: openSync(path, 'r'), bytes: Buffer.byteLength(text), unacknowledged: 0 };
      for (const line of lines) {
        const record = parseRecord(line);
        if (!record || this.segmentOf.has(record.eventId)) {
          if (!record) skipped++;
          continue;
        }
        this.recovered.push(record);
        this.segmentOf.set(record.eventId, segment);
        segment.unacknowledged++;
      }
      this.segments.push(segment);
      if (segment.unacknowledged === 0) this.drop(segment);
      this.nextIndex = file.index + 1;
    }
    (this as { skipped: number }).skipped = skipped;
  }
}

function parseRecord(line: string): OutboxRecord | undefined {
  const first = line.indexOf('\t');
  const second = line.indexOf('\t', first + 1);
  if (first <= 0 || second <= first + 1) return undefined;
  const payload = line.slice(second + 1);
  try {
    JSON.parse(payload);
  } catch {
    return undefined;
  }
  return { eventId: line.slice(0, first), subject: line.slice(first + 1, second), payload };
}
