import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { Readable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as grpc from '@grpc/grpc-js';
import tar from 'tar-stream';
import type { OutputLine } from '#contracts/events.js';
import type { ExportChunk, RunLog } from '#contracts/generated/scriptorium/logging/v1/logging.js';
import { lines, startLoggingUnderTest, until, type LoggingUnderTest } from '../../../../test/harness/logging-under-test.js';

/** Exports over gRPC: one log in each format with its run's context, a filtered set as one archive, streamed. */

const line = (sequence: number, text: string, stream: OutputLine['stream'] = 'stdout'): OutputLine => ({ sequence, stream, text, timestamp: '2026-03-01T10:00:01.000Z' });
const bytesOf = (chunks: ExportChunk[]) => Buffer.concat(chunks.map((c) => Buffer.from(c.data)));

async function untar(archive: Buffer): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const extract = tar.extract();
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      const parts: Buffer[] = [];
      stream.on('data', (d: unknown) => {
        parts.push(d as Buffer);
      });
      stream.on('end', () => {
        files.set(header.name, Buffer.concat(parts).toString());
        next();
      });
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  Readable.from([gunzipSync(archive)]).pipe(extract);
  await done;
  return files;
}

describe('log export', { timeout: 300_000 }, () => {
  let logging: LoggingUnderTest;
  const other = { userId: randomUUID(), level: 'operator' };
  const admin = { userId: randomUUID(), level: 'admin' };
  const a = randomUUID();
  const b = randomUUID();
  const theirs = randomUUID();

  before(async () => {
    logging = await startLoggingUnderTest();
    logging.run('created', { executionId: a, scriptId: 'getting_started/greet.py', username: 'runner', projectName: 'Lab', parameters: { name: 'Ada', password: 'pw' }, createdAt: '2026-03-01T10:00:00.000Z' });
    logging.run('updated', { executionId: a, scriptId: 'getting_started/greet.py', state: 'failed', exitCode: 2, version: 3, startedAt: '2026-03-01T10:00:00.000Z', finishedAt: '2026-03-01T10:00:02.000Z' });
    logging.run('created', { executionId: b, scriptId: 'backup/dump.sh', createdAt: '2026-03-02T10:00:00.000Z' });
    logging.run('created', { executionId: theirs, userId: other.userId, scriptId: 'getting_started/greet.py', createdAt: '2026-03-01T11:00:00.000Z' });
    logging.output(a, [line(1, 'Hello, "Ada"'), line(2, 'oops, failed', 'stderr')], { finalSequence: 2 });
    logging.output(b, [line(1, 'dumped')], { finalSequence: 1 });
    logging.output(theirs, [line(1, 'their secret line')], { finalSequence: 1 });
    for (const id of [a, b, theirs]) await until(async () => (await logging.stream(id))?.complete === true, 10_000, `${id} complete`);
    await until(async () => (await logging.call<RunLog>('getRunLog', { executionId: a })).run?.state === 'failed', 10_000, 'a failed');
  });

  after(async () => {
    await logging?.close();
  });

  it('exports one log as text, JSON lines or CSV, each carrying the run’s context with secrets masked', async () => {
    const text = await logging.collect<ExportChunk>('exportLog', { executionId: a, format: 'text' });
    assert.equal(text[0].contentType, 'text/plain; charset=utf-8');
    assert.equal(text[0].fileName, `execution-${a}.log`);
    assert.equal(
      bytesOf(text).toString(),
      [`# execution: ${a}`, '# script: getting_started/greet.py', '# group: getting_started', '# user: runner', '# project: Lab', '# parameters: {"name":"Ada","password":"********"}',
        '# started: 2026-03-01T10:00:00.000Z', '# duration_ms: 2000', '# exit_code: 2', '# state: failed', '', 'Hello, "Ada"', 'oops, failed', ''].join('\n'),
    );
    const jsonl = bytesOf(await logging.collect<ExportChunk>('exportLog', { executionId: a, format: 'jsonl' })).toString().trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(jsonl[0], { type: 'run', execution: a, script: 'getting_started/greet.py', group: 'getting_started', user: 'runner', project: 'Lab', started: '2026-03-01T10:00:00.000Z', duration_ms: '2000', exit_code: '2', state: 'failed', parameters: { name: 'Ada', password: '********' } });
    assert.deepEqual(jsonl.slice(1), [
      { type: 'line', sequence: 1, timestamp: '2026-03-01T10:00:01.000Z', stream: 'stdout', text: 'Hello, "Ada"' },
      { type: 'line', sequence: 2, timestamp: '2026-03-01T10:00:01.000Z', stream: 'stderr', text: 'oops, failed' },
    ]);
    const csv = bytesOf(await logging.collect<ExportChunk>('exportLog', { executionId: a, format: 'csv', streams: ['stderr'] })).toString().split('\r\n');
    assert.equal(csv[0], 'execution,script,group,user,project,parameters,started,duration_ms,exit_code,state,sequence,timestamp,stream,text');
    assert.equal(csv[1], `${a},getting_started/greet.py,getting_started,runner,Lab,"{""name"":""Ada"",""password"":""********""}",2026-03-01T10:00:00.000Z,2000,2,failed,2,2026-03-01T10:00:01.000Z,stderr,"oops, failed"`);
    assert.equal(csv.length, 3);
  });

  it('refuses an unknown format with how to ask, and someone else’s log as missing', async () => {
    const error = await logging.collect('exportLog', { executionId: a, format: 'pdf' }).then(() => undefined, (e: grpc.ServiceError) => e);
    assert.equal(error?.code, grpc.status.INVALID_ARGUMENT);
    assert.match(error!.details, /unknown export format "pdf".*text.*jsonl.*csv/);
    const hidden = await logging.collect('exportLog', { executionId: a, format: 'text' }, other).then(() => undefined, (e: grpc.ServiceError) => e);
    assert.equal(hidden?.code, grpc.status.NOT_FOUND);
  });

  it('exports a filtered set of the caller’s logs as one tar.gz, never another user’s', async () => {
    const chunks = await logging.collect<ExportChunk>('exportLogs', { format: 'jsonl', filter: {} });
    assert.equal(chunks[0].contentType, 'application/gzip');
    const files = await untar(bytesOf(chunks));
    assert.deepEqual([...files.keys()].sort(), [`backup_dump.sh/${b}.jsonl`, `getting_started_greet.py/${a}.jsonl`].sort());
    assert.match(files.get(`getting_started_greet.py/${a}.jsonl`)!, /"text":"oops, failed"/);
    const filtered = await untar(bytesOf(await logging.collect<ExportChunk>('exportLogs', { format: 'text', filter: { groupId: 'backup' } })));
    assert.deepEqual([...filtered.keys()], [`backup_dump.sh/${b}.log`]);
    const everyone = await untar(bytesOf(await logging.collect<ExportChunk>('exportLogs', { format: 'csv', filter: { allUsers: true } }, admin)));
    assert.equal(everyone.size, 3);
    assert.ok([...everyone.values()].some((f) => f.includes('their secret line')));
    const refused = await logging.collect('exportLogs', { format: 'csv', filter: { allUsers: true } }).then(() => undefined, (e: grpc.ServiceError) => e);
    assert.equal(refused?.code, grpc.status.PERMISSION_DENIED);
    const inverted = await logging.collect('exportLogs', { format: 'csv', filter: { from: '2026-03-02', to: '2026-03-01' } }).then(() => undefined, (e: grpc.ServiceError) => e);
    assert.equal(inverted?.code, grpc.status.INVALID_ARGUMENT);
  });

  it('streams a 1,000,000-line log: memory grows by less than 50 MB while it is exported', async (t) => {
    const id = randomUUID();
    logging.run('created', { executionId: id, scriptId: 'getting_started/flood.py' });
    const total = 1_000_000;
    const started = Date.now();
    for (let from = 1; from <= total; from += 10_000) {
      logging.output(id, lines(from, from + 9_999, (n) => `flood line ${n} ${'x'.repeat(40)}`));
      if (from % 100_000 === 1) await until(async () => ((await logging.stream(id))?.stored_through ?? 0) >= from - 1, 60_000, `stored ${from}`);
    }
    logging.output(id, [], { finalSequence: total });
    await until(async () => (await logging.stream(id))?.complete === true, 120_000, 'flood stored');
    t.diagnostic(`stored ${total} lines in ${Date.now() - started} ms`);
    // Live memory (heap and buffers, measured right after a full collection) before and during the
    // export: what the export holds, not the garbage of the rows it read and let go (which V8
    // collects when it sees fit). A log built in memory would show here whole (~60 MB of text).
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const inUse = () => {
      const m = process.memoryUsage();
      return m.heapUsed + m.arrayBuffers;
    };
    gc();
    const before = inUse();
    let peak = before;
    let bytes = 0;
    let lastLine = '';
    const timer = setInterval(() => {
      gc();
      peak = Math.max(peak, inUse());
    }, 500);
    const exportStarted = Date.now();
    await new Promise<void>((resolve, reject) => {
      // Not collect(): it would keep every message. Counted as they come instead.
      const stream = logging.open('exportLog', { executionId: id, format: 'text' });
      stream.on('data', (m: ExportChunk) => {
        bytes += m.data.length;
        if (m.data.length) lastLine = Buffer.from(m.data).toString().split('\n').at(-2) ?? lastLine;
      });
      stream.on('error', reject);
      stream.on('end', () => resolve());
    });
    clearInterval(timer);
    t.diagnostic(`exported ${bytes} bytes in ${Date.now() - exportStarted} ms; memory in use ${Math.round(before / 1e6)} MB → peak ${Math.round(peak / 1e6)} MB (rss ${Math.round(process.memoryUsage().rss / 1e6)} MB)`);
    assert.equal(lastLine, `flood line ${total} ${'x'.repeat(40)}`);
    assert.ok(bytes > total * 50, `${bytes} bytes`);
    assert.ok(peak - before < 50 * 1024 * 1024, `memory grew by ${Math.round((peak - before) / 1e6)} MB`);
  });
});
