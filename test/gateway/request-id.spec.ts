/**
 * The request id a client sends the gateway reaches the log lines of every service that
 * handles the request, in distributed mode (each service its own process, real PostgreSQL
 * and NATS): unary calls, a call one service makes to another on the way, streamed answers,
 * and a line written deep in a handler's awaited work. Lines are told apart by process id.
 */
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect } from '@nats-io/transport-node';
import WebSocket from 'ws';
import { Api } from '../harness/api.js';
import { waitFor } from '../harness/net.js';
import { login, startDistributed } from '../harness/stack.js';

const ROOT = resolve(import.meta.dirname, '../../..');
const FIXTURES = join(ROOT, 'test/fixtures/script_groups');

type LogLine = Record<string, unknown> & { pid: number; msg: string };

describe('request id, gateway to service logs (distributed)', { concurrency: false, timeout: 180_000 }, () => {
  let stack: Awaited<ReturnType<typeof startDistributed>>;
  let api: Api;
  let adminId: string;

  /** The JSON log lines `service` has written so far. */
  function linesOf(service: string): LogLine[] {
    const pid = stack.processes.get(service)!.pid;
    return stack
      .output()
      .split('\n')
      .map((line) => line.slice(line.indexOf('{')))
      .flatMap((line) => {
        try {
          const parsed = JSON.parse(line) as LogLine;
          return parsed.pid === pid ? [parsed] : [];
        } catch {
          return [];
        }
      });
  }

  /** Waits for a line of `service` carrying `requestId` that matches `where`, and returns it. */
  function lineWith(service: string, requestId: string, where: (line: LogLine) => boolean = () => true): Promise<LogLine> {
    return waitFor(
      () => linesOf(service).find((line) => line.requestId === requestId && where(line)),
      10_000,
      `a ${service} log line with requestId ${requestId}; its lines carrying one: ${JSON.stringify(linesOf(service).filter((l) => l.requestId).slice(-10))}`,
    );
  }

  before(async () => {
    stack = await startDistributed({ SCRIPT_GROUPS_DIR: FIXTURES, LOG_LEVEL: 'debug' });
    api = new Api(stack.url, await login(stack.url));
    adminId = (await api.get('/api/v1/me')).body.id;
    assert.ok(adminId, 'the admin has an id');
  });
  after(async () => {
    await stack?.stop();
  });

  test("a catalog call carries the client's x-request-id and the caller", async () => {
    const res = await api.request('GET', '/api/v1/scripts/testing/sleeper.py', undefined, { 'x-request-id': 'req-catalog-1' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.headers.get('x-request-id'), 'req-catalog-1');
    const line = await lineWith('catalog', 'req-catalog-1', (l) => l.method === 'getScript');
    assert.equal(line.userId, adminId);
  });

  test('a run submission: execution and the catalog call it makes on the way carry the id', async () => {
    const res = await api.post('/api/v1/executions', { scriptId: 'testing/sleeper.py', parameters: { seconds: 0.2 } }, { 'x-request-id': 'req-run-1' });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const submitted = await lineWith('execution', 'req-run-1', (l) => l.method === 'runScript');
    assert.equal(submitted.userId, adminId);
    await lineWith('catalog', 'req-run-1', (l) => l.method === 'getScript');
    await api.finished(res.body.id);
  });

  test('a streamed answer (SSE: WatchExecution, TailLog) carries the id to its end', async () => {
    const run = await api.run('testing/sleeper.py', { seconds: 0.2 });
    await api.finished(run.id);
    const res = await fetch(`${stack.url}/api/v1/executions/${run.id}/events`, { headers: { authorization: `Bearer ${api.token}`, 'x-request-id': 'req-sse-1' } });
    assert.equal(res.status, 200);
    await res.text(); // The stream of a finished run ends after its last line.
    // The debug line is written when the stream ends: the subscription ran in the context.
    await lineWith('execution', 'req-sse-1', (l) => l.method === 'watchExecution');
    await lineWith('logging', 'req-sse-1', (l) => l.method === 'tailLog');
  });

  test('a WebSocket stream: the upgrade is a request too, its gRPC calls carry its id', async () => {
    const run = await api.run('testing/sleeper.py', { seconds: 0.2 });
    await api.finished(run.id);
    const ws = new WebSocket(`${stack.url.replace(/^http/, 'ws')}/api/v1/executions/${run.id}/stream`, ['scriptorium.v1', `bearer.${api.token}`], {
      headers: { 'x-request-id': 'req-ws-1' },
    });
    await new Promise((resolve, reject) => ws.on('close', resolve).on('error', reject));
    const watched = await lineWith('execution', 'req-ws-1', (l) => l.method === 'watchExecution');
    assert.equal(watched.userId, adminId);
    await lineWith('logging', 'req-ws-1', (l) => l.method === 'tailLog');
  });

  test("events: a run's creation carries the submitting request's id; its output never an earlier request's", async () => {
    // Output comes from the launcher helper, which no request started: it must not inherit one (the earlier tests' runs included).
    const nats = await connect({ servers: stack.nats.url });
    const events: { subject: string; requestId?: string; executionId?: string; run?: { executionId: string } }[] = [];
    nats.subscribe('scriptorium.execution.>', { callback: (_, m) => void events.push({ subject: m.subject, ...m.json<object>() }) });
    await nats.flush();
    try {
      const res = await api.post('/api/v1/executions', { scriptId: 'testing/sleeper.py', parameters: { seconds: 0.2 } }, { 'x-request-id': 'req-events-1' });
      assert.equal(res.status, 202, JSON.stringify(res.body));
      await api.finished(res.body.id);
      await waitFor(() => events.some((e) => e.subject.endsWith('run.finished') && e.run?.executionId === res.body.id), 10_000, 'run.finished');
      const ofRun = events.filter((e) => (e.executionId ?? e.run?.executionId) === res.body.id);
      assert.equal(ofRun.find((e) => e.subject.endsWith('run.created'))?.requestId, 'req-events-1');
      const output = ofRun.filter((e) => e.subject.endsWith('output.produced'));
      assert.ok(output.length > 0, 'the run printed');
      for (const e of ofRun) assert.ok(e.requestId === undefined || e.requestId === 'req-events-1', `${e.subject} carries ${e.requestId}`);
    } finally {
      await nats.close();
    }
  });

  test("a line written deep in a handler's awaited work (auth locking an account) carries the id", async () => {
    assert.equal((await api.post('/api/v1/users', { username: 'locked-out', password: 'locked out password 1', level: 'viewer' })).status, 201);
    const attempt = (n: number) =>
      api.request('POST', '/api/v1/auth/login', { username: 'locked-out', password: 'wrong password!!' }, { 'x-request-id': `req-login-${n}`, authorization: '' });
    let n = 0;
    while ((await attempt(++n)).status !== 429) assert.ok(n < 10, 'the account locks after a few failures');
    const locked = await waitFor(() => linesOf('auth').find((l) => l.msg.startsWith('account locked')), 10_000, 'the lock line');
    assert.match(String(locked.requestId), /^req-login-\d+$/);
  });
});
