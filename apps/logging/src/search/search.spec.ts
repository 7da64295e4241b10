import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type { OutputLine } from '#contracts/events.js';
import type { LogChunk, RunLog, SearchLogResponse, SearchLogsResponse } from '#contracts/generated/scriptorium/logging/v1/logging.js';
import { startLoggingUnderTest, until, type LoggingUnderTest } from '../../../../test/harness/logging-under-test.js';

/** Run context, stream classes and full-text search, over gRPC on a real PostgreSQL. */

const line = (sequence: number, text: string, stream: OutputLine['stream'] = 'stdout'): OutputLine => ({ sequence, stream, text, timestamp: new Date().toISOString() });
const code = async (promise: Promise<unknown>) => {
  try {
    await promise;
    return grpc.status.OK;
  } catch (error) {
    return (error as grpc.ServiceError).code;
  }
};
const message = async (promise: Promise<unknown>) => promise.then(() => '', (error: grpc.ServiceError) => error.details);

describe('run context, stream classes and search', { timeout: 120_000 }, () => {
  let logging: LoggingUnderTest;
  const other = { userId: randomUUID(), level: 'operator' };
  const admin = { userId: randomUUID(), level: 'admin' };
  const mine = { a: randomUUID(), b: randomUUID(), c: randomUUID() };
  const theirs = randomUUID();
  const t0 = Date.parse('2026-03-01T10:00:00Z');
  const at = (ms: number) => new Date(t0 + ms).toISOString();

  before(async () => {
    logging = await startLoggingUnderTest();
    // a: greet.py in getting_started, succeeded after 1.5 s; b: backup/dump.sh, failed; c: greet again, a day later.
    logging.run('created', { executionId: mine.a, scriptId: 'getting_started/greet.py', projectId: 'p1', projectName: 'Lab notes', parameters: { name: 'Ada', apiToken: 'hunter2' }, createdAt: at(0) });
    logging.run('updated', { executionId: mine.a, scriptId: 'getting_started/greet.py', state: 'running', version: 2 }, at(500));
    logging.run('updated', { executionId: mine.a, scriptId: 'getting_started/greet.py', state: 'succeeded', exitCode: 0, version: 3 }, at(2000));
    logging.run('created', { executionId: mine.b, scriptId: 'backup/dump.sh', createdAt: at(60_000) });
    logging.run('updated', { executionId: mine.b, scriptId: 'backup/dump.sh', state: 'failed', exitCode: 3, version: 3, startedAt: at(60_000), finishedAt: at(90_000) }, at(90_000));
    logging.run('created', { executionId: mine.c, scriptId: 'getting_started/greet.py', createdAt: at(86_400_000) });
    logging.run('created', { executionId: theirs, userId: other.userId, scriptId: 'getting_started/greet.py', createdAt: at(1000) });
    logging.output(mine.a, [line(1, 'Hello Ada'), line(2, 'warning: disk almost full', 'stderr'), line(3, 'queued on local runtime', 'system'), line(4, 'Bye Ada')], { finalSequence: 4 });
    logging.output(mine.b, [line(1, 'dumping database'), line(2, 'connection refused by server', 'stderr'), line(3, 'retrying connection')], { finalSequence: 3 });
    logging.output(mine.c, [line(1, 'Hello Grace')], { finalSequence: 1 });
    logging.output(theirs, [line(1, 'secret plans: connection refused Ada')], { finalSequence: 1 });
    for (const id of [...Object.values(mine), theirs]) await until(async () => (await logging.stream(id))?.complete === true, 10_000, `${id} complete`);
    await until(async () => (await logging.call<RunLog>('getRunLog', { executionId: mine.a })).run?.state === 'succeeded', 10_000, 'run a succeeded');
  });

  after(async () => {
    await logging?.close();
  });

  it('keeps each run’s context from execution’s events: group from the script id, secrets masked, start, duration, exit code, state', async () => {
    const { run, lineCount, complete } = await logging.call<RunLog>('getRunLog', { executionId: mine.a });
    assert.equal(run!.groupId, 'getting_started');
    assert.equal(run!.projectName, 'Lab notes');
    assert.deepEqual(JSON.parse(run!.parametersJson), { name: 'Ada', apiToken: '********' });
    assert.equal(run!.startedAt, at(500));
    assert.equal(run!.durationMs, 1500);
    assert.equal(run!.exitCode, 0);
    assert.equal(run!.state, 'succeeded');
    assert.equal(lineCount, 4);
    assert.equal(complete, true);
    assert.equal((await logging.call<RunLog>('getRunLog', { executionId: mine.b })).run!.durationMs, 30_000);
    assert.equal(await code(logging.call('getRunLog', { executionId: mine.a }, other)), grpc.status.NOT_FOUND);
  });

  it('keeps stdout, stderr and system lines apart: ReadLog gives one class, GetLog all', async () => {
    const errors = await logging.call<LogChunk>('readLog', { executionId: mine.a, streams: ['stderr'] });
    assert.deepEqual(errors.lines.map((l) => [l.sequence, l.stream]), [[2, 'stderr']]);
    assert.equal(errors.throughSequence, 4);
    assert.equal(errors.complete, true);
    const debug = await logging.call<LogChunk>('readLog', { executionId: mine.a, streams: ['system', 'stdout'], limit: 2 });
    assert.deepEqual(debug.lines.map((l) => l.sequence), [1, 3]);
    assert.equal(debug.complete, false);
    assert.deepEqual((await logging.getLog(mine.a)).lines.map((l) => l.stream), ['stdout', 'stderr', 'system', 'stdout']);
    assert.match(await message(logging.call('readLog', { executionId: mine.a, streams: ['debug'] })), /unknown stream "debug".*stdout, stderr, system/);
  });

  it('finds the caller’s own runs by their lines, with highlighted snippets and matching line numbers, never another user’s', async () => {
    const result = await logging.call<SearchLogsResponse>('searchLogs', { query: 'connection refused' });
    assert.deepEqual(result.hits.map((h) => h.run!.executionId), [mine.b]);
    const [hit] = result.hits;
    assert.deepEqual(hit.matchingLines, [2]);
    assert.equal(hit.snippets[0].text, 'connection refused by server');
    assert.deepEqual(hit.snippets[0].highlights.map((h) => hit.snippets[0].text.slice(h.start, h.end)), ['connection', 'refused']);
    assert.equal(result.partial, false);
    assert.equal(result.nextPageToken, '');
    // "Ada" is in a's lines, and in the other user's: only a is found.
    assert.deepEqual((await logging.call<SearchLogsResponse>('searchLogs', { query: 'ada' })).hits.map((h) => h.run!.executionId), [mine.a]);
  });

  it('matches parameters and metadata, and filters by script, group, state, dates, duration and stream', async () => {
    const search = async (query: string, filter: object = {}, streams: string[] = []) =>
      (await logging.call<SearchLogsResponse>('searchLogs', { query, filter, streams })).hits.map((h) => h.run!.executionId);
    const byParameter = (await logging.call<SearchLogsResponse>('searchLogs', { query: 'hunter2 OR lab' })).hits;
    assert.deepEqual(byParameter.map((h) => [h.run!.executionId, h.metadataMatched]), [[mine.a, true]], 'a secret is masked, never searchable; the project name is');
    assert.deepEqual(await search('hello', { groupId: 'getting_started' }), [mine.c, mine.a]);
    assert.deepEqual(await search('hello', { states: ['succeeded'] }), [mine.a]);
    assert.deepEqual(await search('hello', { from: at(3_600_000) }), [mine.c]);
    assert.deepEqual(await search('hello', { to: at(3_600_000) }), [mine.a]);
    assert.deepEqual(await search('connection', { minDurationMs: 10_000 }), [mine.b]);
    assert.deepEqual(await search('connection', { maxDurationMs: 10_000 }), []);
    assert.deepEqual(await search('warning', {}, ['stdout']), []);
    assert.deepEqual(await search('warning', {}, ['stderr']), [mine.a]);
    assert.deepEqual(await search('hello -grace'), [mine.a]);
  });

  it('lets admins search everyone’s logs or one user’s; others asking for that are refused', async () => {
    const everyone = await logging.call<SearchLogsResponse>('searchLogs', { query: 'refused', filter: { allUsers: true } }, admin);
    assert.deepEqual(new Set(everyone.hits.map((h) => h.run!.executionId)), new Set([mine.b, theirs]));
    const one = await logging.call<SearchLogsResponse>('searchLogs', { query: 'refused', filter: { userId: other.userId } }, admin);
    assert.deepEqual(one.hits.map((h) => h.run!.executionId), [theirs]);
    assert.equal(await code(logging.call('searchLogs', { query: 'refused', filter: { userId: other.userId } })), grpc.status.PERMISSION_DENIED);
    assert.equal(await code(logging.call('searchLogs', { query: 'refused', filter: { allUsers: true } })), grpc.status.PERMISSION_DENIED);
  });

  it('answers a malformed query or an inverted range with INVALID_ARGUMENT saying how to write it', async () => {
    for (const [query, filter, says] of [
      ['"connection refused', {}, /quote is not closed/],
      ['', {}, /empty/],
      ['timeout OR', {}, /OR must stand between two words/],
      ['-retry', {}, /at least one word/],
      ['!!!', {}, /no word to find/],
      ['hello', { from: at(10_000), to: at(0) }, /inverted.*swap/],
      ['hello', { from: 'yesterday' }, /ISO 8601/],
      ['hello', { minDurationMs: 5, maxDurationMs: 1 }, /duration range is inverted/],
    ] as const) {
      const error = await logging.call('searchLogs', { query, filter }).then(() => undefined, (e: grpc.ServiceError) => e);
      assert.equal(error?.code, grpc.status.INVALID_ARGUMENT, `${query} ${JSON.stringify(filter)}`);
      assert.match(error!.details, says);
    }
  });

  it('answers what it found when its time limit is reached, marked partial, with where to continue', async () => {
    // 450 runs without a match between the caller and run a: the first batch cannot reach it in 1 ms.
    for (let i = 0; i < 450; i++) logging.run('created', { executionId: randomUUID(), scriptId: 'filler/noise.py', createdAt: at(7_200_000 + i) });
    await until(async () => (await logging.call<SearchLogsResponse>('searchLogs', { query: 'noise', pageSize: 100 })).hits.length === 100, 20_000, 'filler runs recorded');
    const first = await logging.call<SearchLogsResponse>('searchLogs', { query: 'warning', timeLimitMs: 1 });
    assert.equal(first.partial, true);
    assert.deepEqual(first.hits, []);
    assert.notEqual(first.nextPageToken, '');
    let token = first.nextPageToken;
    const found: string[] = [];
    while (token) {
      const page = await logging.call<SearchLogsResponse>('searchLogs', { query: 'warning', timeLimitMs: 1, pageToken: token });
      found.push(...page.hits.map((h) => h.run!.executionId));
      token = page.nextPageToken;
    }
    assert.deepEqual(found, [mine.a]);
    assert.match(await message(logging.call('searchLogs', { query: 'warning', pageToken: 'bogus' })), /pageToken/);
  });

  it('searches inside one log, in order, page by page', async () => {
    const id = randomUUID();
    logging.run('created', { executionId: id, scriptId: 'getting_started/flood.py' });
    logging.output(id, Array.from({ length: 30_000 }, (_, i) => line(i + 1, i % 1000 === 999 ? `needle ${i + 1}` : `hay ${i + 1}`)), { finalSequence: 30_000 });
    await until(async () => (await logging.stream(id))?.complete === true, 20_000, 'flood stored');
    const first = await logging.call<SearchLogResponse>('searchLog', { executionId: id, query: 'needle', limit: 20 });
    assert.deepEqual(first.matches.map((m) => m.sequence), Array.from({ length: 20 }, (_, i) => (i + 1) * 1000));
    assert.equal(first.nextAfterSequence, 20_000);
    const rest = await logging.call<SearchLogResponse>('searchLog', { executionId: id, query: 'needle', afterSequence: first.nextAfterSequence, limit: 20 });
    assert.deepEqual(rest.matches.map((m) => m.sequence), Array.from({ length: 10 }, (_, i) => (i + 21) * 1000));
    assert.equal(rest.nextAfterSequence, 0);
    assert.equal(await code(logging.call('searchLog', { executionId: id, query: 'needle' }, other)), grpc.status.NOT_FOUND);
    // Rows are indexed in the background; search gives the same answer before and after.
    await until(async () => Number((await logging.db.query(`SELECT count(*) AS n FROM logging.log_chunks WHERE search_vector IS NULL`))[0].n) === 0, 20_000, 'rows indexed');
    assert.deepEqual((await logging.call<SearchLogResponse>('searchLog', { executionId: id, query: 'needle', limit: 5 })).matches.map((m) => m.sequence), [1000, 2000, 3000, 4000, 5000]);
  });
});
