import { closeSync, existsSync, openSync, readFileSync, readdirSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { OutputChunk } from './script-runtime.js';

/**
 * A run's raw output as the process launcher read it from the script's pipes, kept on disk
 * until the run's end is handed to the bus: if the execution service is killed, the
 * launcher (which outlives it) still has every chunk written here, and the next start
 * replays it. Records: stream tag (1 byte: 1 = stdout, 2 = stderr), length (4 bytes,
 * big-endian), then the chunk's UTF-8 bytes. At most the run's output in size.
 */
export type SpooledChunk = OutputChunk;

const TAGS = { stdout: 1, stderr: 2 } as const;
const HEADER = 5;

export const spoolFile = (dir: string, executionId: string) => join(dir, `${executionId}.spool`);

/** Appends to one run's spool; each chunk is on disk before `append` returns. */
export class SpoolWriter {
  private fd: number | undefined;

  constructor(readonly path: string) {
    this.fd = openSync(path, 'a', 0o600);
  }

  append(stream: 'stdout' | 'stderr', data: string) {
    if (this.fd === undefined) return;
    const bytes = Buffer.from(data, 'utf8');
    const record = Buffer.allocUnsafe(HEADER + bytes.length);
    record.writeUInt8(TAGS[stream], 0);
    record.writeUInt32BE(bytes.length, 1);
    bytes.copy(record, HEADER);
    // One write per record: a partial one can only be the last (the launcher died mid-write).
    for (let offset = 0; offset < record.length; ) offset += writeSync(this.fd, record, offset);
  }

  close() {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }
}

/** The chunks of a spool in the order they were read; undefined when there is none. A cut last record is left out. */
export function readSpool(path: string): SpooledChunk[] | undefined {
  if (!existsSync(path)) return undefined;
  const bytes = readFileSync(path);
  const chunks: SpooledChunk[] = [];
  for (let offset = 0; offset + HEADER <= bytes.length; ) {
    const tag = bytes.readUInt8(offset);
    const length = bytes.readUInt32BE(offset + 1);
    const end = offset + HEADER + length;
    if (end > bytes.length) break;
    if (tag !== TAGS.stdout && tag !== TAGS.stderr) throw new Error(`${path} is not an output spool (record tag ${tag} at byte ${offset})`);
    chunks.push({ stream: tag === TAGS.stdout ? 'stdout' : 'stderr', data: bytes.toString('utf8', offset + HEADER, end) });
    offset = end;
  }
  return chunks;
}

export function removeSpool(path: string) {
  rmSync(path, { force: true });
}

/** Execution ids of the spools in `dir`. */
export function spooledRuns(dir: string): string[] {
  try {
    return readdirSync(dir).filter((name) => name.endsWith('.spool')).map((name) => name.slice(0, -'.spool'.length));
  } catch {
    return [];
  }
}
