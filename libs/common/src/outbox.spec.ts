import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { loadConfig, ServiceConfig } from './config.js';
import { Outbox, OutboxLockedError } from './outbox.js';

const record = (n: number) => ({ eventId: `e-${n}`, subject: 'scriptorium.execution.output.produced', payload: JSON.stringify({ eventId: `e-${n}`, text: `line\t${n}\n` }) });
const segments = (dir: string) => readdirSync(dir).filter((f) => f.startsWith('segment-'));

describe('Outbox', () => {
  const dirs: string[] = [];
  const fresh = () => {
    const dir = mkdtempSync(join(tmpdir(), 'outbox-spec-'));
    dirs.push(dir);
    return dir;
  };
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  test('what is not acknowledged is recovered in order by the next owner; acknowledged segments are deleted', () => {
    const dir = fresh();
    const first = Outbox.open(dir, { maxBytes: 1024 ** 2, segmentBytes: 200 });
    for (let n = 1; n <= 20; n++) first.append(record(n));
    assert.ok(segments(dir).length > 3, 'records spread over several segments');
    for (let n = 1; n <= 10; n++) first.acknowledge(`e-${n}`);
    assert.equal(first.pending, 10);
    first.close();

    const second = Outbox.open(dir, { maxBytes: 1024 ** 2 });
    // A segment holding e-10 and e-11 is kept whole; e-10 comes again (the broker drops it by id).
    const ids = second.recovered.map((r) => r.eventId);
    assert.deepEqual(ids.slice(-10), Array.from({ length: 10 }, (_, i) => `e-${i + 11}`));
    assert.ok(ids.length <= 12, `at most the unacknowledged segments come back (got ${ids.length})`);
    assert.deepEqual(JSON.parse(second.recovered.at(-1)!.payload), JSON.parse(record(20).payload));
    for (const r of second.recovered) second.acknowledge(r.eventId);
    assert.equal(second.bytes, 0);
    assert.deepEqual(segments(dir), []);
    second.close();
  });

  test('a torn last record (killed mid-write) is skipped; the records before it are recovered', () => {
    const dir = fresh();
    const outbox = Outbox.open(dir, { maxBytes: 1024 ** 2 });
    outbox.append(record(1));
    outbox.append(record(2));
    outbox.close();
    const [segment] = segments(dir);
    appendFileSync(join(dir, segment!), 'e-3\tscriptorium.execution.output.produced\t{"eventId":"e-3","te');
    const next = Outbox.open(dir, { maxBytes: 1024 ** 2 });
    assert.deepEqual(next.recovered.map((r) => r.eventId), ['e-1', 'e-2']);
    assert.equal(next.skipped, 1);
    next.append(record(4)); // goes to a new segment, never after the torn bytes
    next.close();
    assert.deepEqual(Outbox.open(dir, { maxBytes: 1024 ** 2 }).recovered.map((r) => r.eventId), ['e-1', 'e-2', 'e-4']);
  });

  test('a directory owned by a live process is refused with its pid; a dead owner\'s is taken over', async () => {
    const dir = fresh();
    const owner = spawn('/bin/sleep', ['30']);
    try {
      writeFileSync(join(dir, 'owner.pid'), String(owner.pid));
      assert.throws(() => Outbox.open(dir, { maxBytes: 1024 ** 2 }), (error: Error) => error instanceof OutboxLockedError && error.message.includes(`process ${owner.pid}`));
      // The default directories are numbered: the next free one is used instead.
      const base = join(fresh(), 'svc');
      const a = Outbox.openFirstFree(base, { maxBytes: 1024 ** 2 });
      const b = Outbox.openFirstFree(base, { maxBytes: 1024 ** 2 });
      assert.deepEqual([a.dir, b.dir], [`${base}-0`, `${base}-1`]);
      a.close();
      b.close();
    } finally {
      const exited = new Promise((resolve) => owner.once('exit', resolve));
      owner.kill('SIGKILL');
      await exited;
    }
    const taken = Outbox.open(dir, { maxBytes: 1024 ** 2 });
    taken.close();
  });

  test('full above its bound in bytes on disk', () => {
    const dir = fresh();
    const outbox = Outbox.open(dir, { maxBytes: 2000, segmentBytes: 500 });
    let n = 0;
    while (!outbox.full) outbox.append(record(++n));
    assert.ok(outbox.bytes > 2000);
    for (let i = 1; i <= n; i++) outbox.acknowledge(`e-${i}`);
    assert.equal(outbox.full, false);
    assert.ok(outbox.bytes < 500);
    outbox.close();
  });

  test('bad input gets a clear error', () => {
    assert.throws(() => Outbox.open(fresh(), { maxBytes: 0 }), /positive number of bytes/);
    const outbox = Outbox.open(fresh(), { maxBytes: 1024 });
    assert.throws(() => outbox.append({ eventId: 'a\tb', subject: 's', payload: '{}' }), /cannot hold a newline/);
    outbox.close();
  });

  test('the outbox settings are validated: an absolute directory, a bound of at least 1 MiB (default 128 MiB)', () => {
    const base = { DATABASE_URL: 'postgres://x/y', NATS_URL: 'nats://127.0.0.1:4222', GRPC_LISTEN: '127.0.0.1:1', HTTP_PORT: '0' };
    assert.equal(loadConfig(ServiceConfig, base).OUTBOX_MAX_BYTES, 128 * 1024 ** 2);
    assert.throws(
      () => loadConfig(ServiceConfig, { ...base, OUTBOX_DIR: 'outbox', OUTBOX_MAX_BYTES: '12' }),
      (error: Error) => /OUTBOX_DIR must be an absolute path/.test(error.message) && /OUTBOX_MAX_BYTES must be at least 1048576/.test(error.message),
    );
  });
});
