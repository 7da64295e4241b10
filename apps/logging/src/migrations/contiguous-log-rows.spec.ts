import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { openDatabase } from '#common/database.js';
import type { OutputLine } from '#contracts/events.js';
import { startPostgres, type TestPostgres } from '../../../../test/harness/postgres.js';
import { lines, startLoggingUnderTest, until, type LoggingUnderTest } from '../../../../test/harness/logging-under-test.js';
import { CreateLogs1764000000000 } from './1764000000000-create-logs.js';
import { LogChunksAsText1764400000000 } from './1764400000000-log-chunks-as-text.js';

/** Logs written by the previous release (rows spanning gaps, overlapping, several MiB) are readable after the upgrade. */

const sequences = (ls: { sequence: number }[]) => ls.map((l) => l.sequence);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('migration to gap-free log rows', { timeout: 60_000 }, () => {
  let pg: TestPostgres;
  let logging: LoggingUnderTest | undefined;
  const userId = randomUUID();
  const merged = randomUUID();
  const holed = randomUUID();
  const heavy = randomUUID();
  const big = (n: number) => `${n}:`.padEnd(256 * 1024, 'x');

  before(async () => {
    pg = await startPostgres();
    // The schema as the previous release left it, with rows as it wrote them.
    const old = await openDatabase(pg.url, 1, [{ schema: 'logging', entities: [], migrations: [CreateLogs1764000000000, LogChunksAsText1764400000000] }]);
    const row = (id: string, ls: OutputLine[], first = ls[0].sequence, last = ls.at(-1)!.sequence) =>
      old.query('INSERT INTO logging.log_chunks (execution_id, first_sequence, last_sequence, lines) VALUES ($1, $2, $3, $4)', [id, first, last, JSON.stringify(ls)]);
    const stream = (id: string, lineCount: number, complete: boolean) =>
      old.query('INSERT INTO logging.log_streams (execution_id, user_id, line_count, complete) VALUES ($1, $2, $3, $4)', [id, userId, lineCount, complete]);
    // A redelivered batch merged with fresh lines: 101..300 spans the gap that 151..250 (and a duplicate) fill.
    await row(merged, lines(1, 100));
    await row(merged, [...lines(101, 150), ...lines(251, 300)]);
    await row(merged, lines(151, 250));
    await row(merged, lines(140, 160), 140, 160);
    await stream(merged, 300, true);
    // A real hole (lines still to come): readable up to it, not complete.
    await row(holed, lines(1, 10));
    await row(holed, lines(21, 30));
    await stream(holed, 30, false);
    // 20 lines of 256 KiB in one 5 MiB row: more than a GetLog answer may carry.
    await row(heavy, lines(1, 20, big));
    await stream(heavy, 20, true);
    await old.destroy();
    logging = await startLoggingUnderTest({ pg, userId });
  });

  after(async () => {
    await logging?.close();
    await pg?.stop();
  });

  it('rewrites rows that spanned a gap: every stored line readable once, in order', async () => {
    const chunk = await logging!.getLog(merged, 0, 10_000);
    assert.deepEqual(sequences(chunk.lines), range(1, 300));
    assert.equal(chunk.complete, true);
    assert.deepEqual(await logging!.stream(merged), { stored_through: 300, final_sequence: 300, complete: true });
  });

  it('keeps a log with a real hole readable up to it and incomplete', async () => {
    const chunk = await logging!.getLog(holed);
    assert.deepEqual(sequences(chunk.lines), range(1, 10));
    assert.equal(chunk.complete, false);
    logging!.output(holed, lines(11, 20), { finalSequence: 30 });
    await until(async () => (await logging!.stream(holed))?.complete === true, 5000, 'completion');
    const filled = await logging!.getLog(holed);
    assert.deepEqual(sequences(filled.lines), range(1, 30));
    assert.equal(filled.complete, true);
  });

  it('splits a row heavier than the bound', async () => {
    const rows: { bytes: number }[] = await logging!.db.query('SELECT octet_length(lines) AS bytes FROM logging.log_chunks WHERE execution_id = $1', [heavy]);
    assert.ok(rows.length >= 10, `${rows.length} rows`);
    assert.ok(rows.every((r) => r.bytes < 1024 * 1024));
    const all = [];
    for (let after = 0; ; ) {
      const chunk = await logging!.getLog(heavy, after);
      all.push(...chunk.lines);
      if (chunk.complete || !chunk.lines.length) break;
      after = chunk.lines.at(-1)!.sequence;
    }
    assert.deepEqual(sequences(all), range(1, 20));
    assert.ok(all.every((l) => l.text === big(l.sequence)));
  });
});
