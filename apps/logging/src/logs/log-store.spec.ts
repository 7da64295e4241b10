import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type { LogChunk, LogLine } from '#contracts/generated/scriptorium/logging/v1/logging.js';
import { lines, startLoggingUnderTest, until, type LoggingUnderTest } from '../../../../test/harness/logging-under-test.js';

/** The log store over gRPC, on a real PostgreSQL, fed in the orders JetStream can deliver in. */

const sequences = (ls: { sequence: number }[]) => ls.map((l) => l.sequence);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const linesOf = (messages: LogChunk[]) => messages.flatMap((m) => m.lines);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('log store', { timeout: 120_000 }, () => {
  let logging: LoggingUnderTest;

  before(async () => {
    logging = await startLoggingUnderTest();
  });

  after(async () => {
    await logging?.close();
  });

  /** Every line GetLog returns, paging from the start until it says complete or stops moving. */
  const getAll = async (id: string, limit = 0) => {
    const all: LogLine[] = [];
    let afterSequence = 0;
    let complete = false;
    for (;;) {
      const chunk = await logging.getLog(id, afterSequence, limit);
      all.push(...chunk.lines);
      complete = chunk.complete;
      if (complete || chunk.lines.length === 0) return { lines: all, complete };
      afterSequence = chunk.lines.at(-1)!.sequence;
    }
  };
  const storedThrough = (id: string, n: number) => until(async () => ((await logging.stream(id))?.stored_through ?? 0) >= n, 10_000, `${id} stored through ${n}`);

  it('after a crash, redelivered batches interleaved with fresh ones leave every line readable, in order, once', async (t) => {
    const id = randomUUID();
    const total = 50_000; // the flood of the report, where 38,170 stored lines were unreadable
    const started = Date.now();
    const batches = Array.from({ length: total / 100 }, (_, i) => lines(i * 100 + 1, i * 100 + 100));
    // Fresh batches go out as produced; after the "crash" every unacknowledged one comes
    // again, mixed with new ones and out of order, as JetStream redelivers them.
    let resent = 0;
    const again = (batch: (typeof batches)[number]) => {
      logging.output(id, batch);
      resent++;
    };
    for (const [i, batch] of batches.entries()) {
      logging.output(id, batch);
      if (i % 7 === 3) again(batches[Math.max(0, i - 5)]);
      if (i % 11 === 5 && i + 3 < batches.length) again(batches[i + 3]);
      if (i % 13 === 0) await sleep(5); // lets writes start, so later batches merge with redeliveries
    }
    batches.slice(50, 120).forEach(again);
    logging.output(id, [], { finalSequence: total });
    await until(async () => (await logging.stream(id))?.complete === true, 30_000, 'the log to be complete');
    t.diagnostic(`${total} lines (${batches.length} batches, ${resent} sent again) stored and complete in ${Date.now() - started} ms`);

    const read = await getAll(id);
    assert.deepEqual(sequences(read.lines), range(1, total));
    assert.equal(read.complete, true);
    const replay = await logging.tail(id, { follow: false });
    assert.deepEqual(sequences(linesOf(replay)), range(1, total));
    assert.equal(replay.at(-1)!.complete, true);
    const rows: { first_sequence: number; last_sequence: number; count: number }[] = await logging.db.query(
      `SELECT first_sequence, last_sequence, json_array_length(lines::json) AS count FROM logging.log_chunks WHERE execution_id = $1 ORDER BY first_sequence`,
      [id],
    );
    for (const row of rows) assert.equal(row.last_sequence - row.first_sequence + 1, row.count, 'a row spans a gap');
    assert.equal(rows.reduce((n, r) => n + r.count, 0), total, 'a line is stored twice');
  });

  it('two replicas storing the same run at once (a redelivery went to the other) store each line once', async () => {
    const other = await startLoggingUnderTest({ pg: logging.pg, userId: logging.userId });
    try {
      const id = randomUUID();
      const batches = Array.from({ length: 100 }, (_, i) => lines(i * 50 + 1, i * 50 + 50));
      for (const [i, batch] of batches.entries()) {
        // The queue group gives each batch to one replica; the ack wait expires and the other gets it too.
        (i % 2 ? other : logging).output(id, batch);
        if (i % 3 === 0) (i % 2 ? logging : other).output(id, batch);
        if (i % 10 === 9) await sleep(2);
      }
      logging.output(id, [], { finalSequence: 5000 });
      await until(async () => (await logging.stream(id))?.complete === true, 20_000, 'the log to be complete');
      assert.deepEqual(sequences((await getAll(id)).lines), range(1, 5000));
      const [{ count }] = await logging.db.query(
        'SELECT sum(json_array_length(lines::json))::integer AS count FROM logging.log_chunks WHERE execution_id = $1',
        [id],
      );
      assert.equal(count, 5000, 'a line is stored twice');
    } finally {
      await other.close();
    }
  });

  it('a hole hides nothing before it, and the lines after it appear once it fills', async () => {
    const id = randomUUID();
    logging.output(id, lines(1, 10));
    logging.output(id, lines(21, 30));
    await storedThrough(id, 10);
    await until(async () => (await logging.getLog(id)).lines.length > 0);
    await sleep(100);
    const before = await logging.getLog(id);
    assert.deepEqual(sequences(before.lines), range(1, 10));
    assert.equal(before.complete, false);
    assert.deepEqual(sequences((await logging.getLog(id, 10)).lines), [], 'nothing past the hole');
    assert.deepEqual(sequences(linesOf(await logging.tail(id, { follow: false }))), range(1, 10));

    logging.output(id, lines(11, 20));
    await storedThrough(id, 30);
    assert.deepEqual(sequences((await logging.getLog(id)).lines), range(1, 30));
    assert.deepEqual(sequences(linesOf(await logging.tail(id, { follow: false, afterSequence: 5 }))), range(6, 30));
  });

  it('is complete only once every line up to the final sequence is stored, not when the final event arrives early', async () => {
    const id = randomUUID();
    logging.output(id, lines(1, 10));
    await storedThrough(id, 10);
    const messages: LogChunk[] = [];
    const tail = logging.tail(id, { follow: true, cancelAfterMs: 15_000, onMessage: (m) => messages.push(m) });
    await until(() => linesOf(messages).length === 10, 5000, 'the replay');
    // The final event overtakes the last lines (they are redelivered later).
    logging.output(id, [], { finalSequence: 30 });
    await until(async () => (await logging.stream(id))?.final_sequence === 30, 5000, 'the final event to be stored');
    const early = await logging.getLog(id);
    assert.equal(early.complete, false);
    assert.equal((await logging.stream(id))?.complete, false);
    await sleep(300);
    assert.ok(!messages.some((m) => m.complete), 'the tail said complete before the last line');

    logging.output(id, lines(11, 30));
    const sent = await tail;
    assert.deepEqual(sequences(linesOf(sent)), range(1, 30));
    assert.equal(sent.at(-1)!.complete, true);
    assert.equal(sent.filter((m) => m.complete).length, 1);
    const read = await logging.getLog(id);
    assert.deepEqual(sequences(read.lines), range(1, 30));
    assert.equal(read.complete, true);
  });

  it('a final event from an older publisher (no finalSequence) completes the log with what is stored, as before', async () => {
    const id = randomUUID();
    logging.output(id, lines(1, 5));
    logging.output(id, lines(8, 9));
    logging.output(id, [], {});
    await until(async () => (await logging.stream(id))?.complete === true, 5000, 'completion');
    const read = await logging.getLog(id);
    assert.deepEqual(sequences(read.lines), [...range(1, 5), 8, 9]);
    assert.equal(read.complete, true);
    // Lines redelivered later are not hidden either.
    logging.output(id, lines(6, 7));
    await until(async () => (await logging.stream(id))?.stored_through === 9, 5000, 'the late lines');
    assert.deepEqual(sequences((await logging.getLog(id)).lines), range(1, 9));
  });

  it('a lost run\'s log is completed with what was stored', async () => {
    const id = randomUUID();
    logging.output(id, lines(1, 10));
    logging.output(id, lines(21, 25)); // 11..20 died with the execution process
    await until(async () => ((await logging.stream(id))?.stored_through ?? 0) === 10);
    const live: LogChunk[] = [];
    const tail = logging.tail(id, { follow: true, cancelAfterMs: 10_000, onMessage: (m) => live.push(m) });
    await until(() => linesOf(live).length === 10, 5000, 'the replay');
    logging.output(id, [], { lost: true });
    const sent = await tail;
    assert.deepEqual(sequences(linesOf(sent)), [...range(1, 10), ...range(21, 25)]);
    assert.equal(sent.at(-1)!.complete, true, 'the tail ended with complete');
    const read = await getAll(id);
    assert.deepEqual(sequences(read.lines), [...range(1, 10), ...range(21, 25)]);
    assert.equal(read.complete, true);
  });

  it('a live tail waits for a hole to fill (beyond 5 s too) and never skips a line', async () => {
    const id = randomUUID();
    logging.output(id, lines(1, 3));
    await storedThrough(id, 3);
    const live: LogChunk[] = [];
    const tail = logging.tail(id, { follow: true, cancelAfterMs: 20_000, onMessage: (m) => live.push(m) });
    await until(() => linesOf(live).length === 3, 5000, 'the replay');
    logging.output(id, lines(4, 10));
    logging.output(id, lines(21, 30)); // 11..20 still on their way (redelivered after the ack wait)
    await until(() => linesOf(live).length === 10, 5000, 'the live lines before the hole');
    await sleep(6000);
    assert.deepEqual(sequences(linesOf(live)), range(1, 10), 'a line past the hole was sent');
    logging.output(id, lines(11, 20));
    await until(() => linesOf(live).length === 30, 5000, 'the lines after the hole');
    logging.output(id, lines(31, 32), { finalSequence: 32 });
    const sent = await tail;
    assert.deepEqual(sequences(linesOf(sent)), range(1, 32));
    assert.equal(sent.at(-1)!.complete, true);
  });

  it('256 KiB lines are stored and sent in rows and messages bounded by bytes', async () => {
    const id = randomUUID();
    const big = (n: number) => `${n}:`.padEnd(256 * 1024, String.fromCharCode(97 + (n % 26)));
    const count = 40; // 10 MiB in one batch, far over gRPC's 4 MiB per message
    logging.output(id, lines(1, count, big), { finalSequence: count });
    await until(async () => (await logging.stream(id))?.complete === true, 20_000, 'the log to be complete');
    const rows: { bytes: number; count: number }[] = await logging.db.query(
      `SELECT octet_length(lines) AS bytes, json_array_length(lines::json) AS count FROM logging.log_chunks WHERE execution_id = $1`,
      [id],
    );
    assert.ok(rows.length >= count / 2, `${rows.length} rows`);
    for (const row of rows) assert.ok(row.bytes < 1024 * 1024, `a row of ${row.bytes} bytes`);

    const first = await logging.getLog(id);
    assert.ok(first.lines.length > 0 && first.lines.length < count, `${first.lines.length} lines in one GetLog answer`);
    const read = await getAll(id);
    assert.deepEqual(sequences(read.lines), range(1, count));
    assert.ok(read.lines.every((l) => l.text === big(l.sequence)), 'a line was cut');
    assert.equal(read.complete, true);
    const replay = await logging.tail(id, { follow: false });
    assert.deepEqual(sequences(linesOf(replay)), range(1, count));
    assert.ok(replay.length > 3, `${replay.length} messages`);
    assert.ok(linesOf(replay).every((l) => l.text === big(l.sequence)));
  });

  it('a non-UUID execution id answers NOT_FOUND in every method', async () => {
    for (const bad of ['not-a-uuid', "1' OR '1'='1", '']) {
      await assert.rejects(logging.getLog(bad), (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND, `GetLog ${bad}`);
      await assert.rejects(logging.tail(bad, { follow: false }), (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND, `TailLog ${bad}`);
      await assert.rejects(logging.tail(bad, { follow: true }), (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND, `TailLog follow ${bad}`);
    }
  });
});
