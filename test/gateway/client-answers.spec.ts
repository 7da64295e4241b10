/**
 * Small fixes of issue 9, each as a user meets it, on one real all-in-one process over a
 * throw-away PostgreSQL. The process's private gRPC unix sockets are reached by giving it its
 * own TMPDIR (the launcher puts them under os.tmpdir()), as the authorization suite does.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { Api } from '../harness/api.js';
import { waitFor } from '../harness/net.js';
import { startPostgres, type TestPostgres } from '../harness/postgres.js';
import { login, startAllInOneProcess, startDistributed, type RunningStack } from '../harness/stack.js';

const ROOT = resolve(import.meta.dirname, '../../..');
const PROTO_ROOT = join(ROOT, 'proto');
const FIXTURES = join(ROOT, 'test/fixtures/script_groups');

/** Not UUIDs, though the last one passes a "36 characters of hex and dashes" check. */
const BAD_IDS = ['not-a-uuid', "1' OR '1'='1", '------------------------------------'];

describe('what clients are told, in distributed mode', { concurrency: false, timeout: 180_000 }, () => {
  let stack: RunningStack;
  let api: Api;

  before(async () => {
    // The test client is the proxy here: X-Forwarded-For from loopback is believed.
    stack = await startDistributed({ SCRIPT_GROUPS_DIR: FIXTURES, TRUSTED_PROXIES: 'loopback' });
    api = new Api(stack.url, await login(stack.url));
  });
  after(async () => {
    await stack?.stop();
  });

  test("behind a trusted proxy, wrong passwords from address A lock the account for A only, not for its owner at B", async () => {
    assert.equal((await api.post('/api/v1/users', { username: 'shared-desk', password: 'shared desk password 1', level: 'operator' })).status, 201);
    const from = (address: string, password: string) =>
      api.request('POST', '/api/v1/auth/login', { username: 'shared-desk', password }, { 'x-forwarded-for': address, authorization: '' });
    for (let i = 0; i < 4; i++) assert.equal((await from('198.51.100.7', 'wrong password!!')).status, 401);
    const locked = await from('198.51.100.7', 'wrong password!!');
    assert.equal(locked.status, 429, JSON.stringify(locked.body));
    assert.match(locked.body.message, /locked for 15 more minutes at your address/);
    assert.equal((await from('198.51.100.7', 'shared desk password 1')).status, 429);
    assert.equal((await from('198.51.100.8', 'shared desk password 1')).status, 200, 'the owner elsewhere signs in');
    const audit = (await api.get('/api/v1/audit?action=auth.login&search=shared-desk')).body.items;
    assert.deepEqual([...new Set(audit.map((e: { ip: string }) => e.ip))].sort(), ['198.51.100.7', '198.51.100.8'], 'the addresses the proxy named');
  });

  test('with a service down, /readyz and a live stream say which one, without its address', async () => {
    const run = await api.run('testing/sleeper.py', { seconds: 0.2 });
    await stack.kill('execution');
    const ready = await fetch(`${stack.url}/readyz`);
    const text = await ready.text();
    assert.equal(ready.status, 503, text);
    assert.equal(JSON.parse(text).message, 'execution service unavailable');
    const { done } = api.stream(run.id);
    const streamed = await done;
    assert.equal(streamed.closeCode, 1011);
    const errors = streamed.executions.filter((e) => e.error).map((e) => e.error);
    assert.deepEqual(errors, [{ type: 'error', status: 503, message: 'execution service unavailable' }]);
    for (const leak of ['127.0.0.1', 'ECONNREFUSED', 'No connection']) {
      assert.ok(!text.includes(leak) && !JSON.stringify(errors).includes(leak), `${leak} leaked: ${text} ${JSON.stringify(errors)}`);
    }
  });
});

describe('what clients are told', { concurrency: false, timeout: 180_000 }, () => {
  let postgres: TestPostgres;
  let stack: RunningStack;
  let api: Api;
  let tmp: string;
  let grpcDir: string;
  const grpcClients: grpc.Client[] = [];

  before(async () => {
    postgres = await startPostgres();
    tmp = mkdtempSync(join(tmpdir(), 'scriptorium-fixes-'));
    stack = await startAllInOneProcess({ DATABASE_URL: postgres.url, TMPDIR: tmp, SCRIPT_GROUPS_DIR: FIXTURES });
    const socketDir = readdirSync(tmp).find((name) => name.startsWith('scriptorium-') && existsSync(join(tmp, name, 'execution.sock')));
    assert.ok(socketDir, `no gRPC sockets under TMPDIR ${tmp}`);
    grpcDir = join(tmp, socketDir);
    api = new Api(stack.url, await login(stack.url));
  });

  after(async () => {
    for (const client of grpcClients) client.close();
    await stack?.stop();
    await postgres?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  /** A generic client of one service over the process's unix socket, e.g. ('execution', 'scriptorium.execution.v1.ExecutionService'). */
  function grpcClient(file: string, service: string): Record<string, (...args: unknown[]) => any> {
    const definition = protoLoader.loadSync(join(PROTO_ROOT, `scriptorium/${file}/v1/${file}.proto`), { longs: Number, defaults: true, includeDirs: [PROTO_ROOT] });
    const Ctor = grpc.makeGenericClientConstructor(definition[service] as grpc.ServiceDefinition, service);
    const client = new Ctor(`unix:${join(grpcDir, `${file}.sock`)}`, grpc.credentials.createInsecure());
    grpcClients.push(client);
    return client as unknown as Record<string, (...args: unknown[]) => any>;
  }
  const bearer = () => {
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${api.token}`);
    return metadata;
  };
  /** The status of a unary call, or of a stream's first error or message. */
  function grpcStatus(client: Record<string, (...args: unknown[]) => any>, method: string, request: object, stream = false): Promise<{ code: number; details: string }> {
    return new Promise((resolve) => {
      if (!stream) return client[method](request, bearer(), (error: grpc.ServiceError | null) => resolve({ code: error?.code ?? 0, details: error?.details ?? '' }));
      const call = client[method](request, bearer());
      call.on('data', () => (resolve({ code: 0, details: '' }), call.cancel()));
      call.on('error', (error: grpc.ServiceError) => resolve({ code: error.code, details: error.details }));
    });
  }

  test('a non-UUID execution id answers 404 on every REST route, closes live streams with a clear error, and NOT_FOUND over gRPC', async () => {
    for (const id of BAD_IDS) {
      const path = `/api/v1/executions/${encodeURIComponent(id)}`;
      for (const [method, route] of [['GET', ''], ['GET', '/log'], ['GET', '/log?format=text'], ['POST', '/cancel'], ['POST', '/rerun'], ['GET', '/events']]) {
        const res = await api.request(method, path + route, method === 'POST' ? {} : undefined);
        assert.equal(res.status, 404, `${method} ${path}${route}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.message, `Execution ${id} not found`);
      }
      const { done } = api.stream(encodeURIComponent(id));
      const streamed = await done;
      assert.equal(streamed.closeCode, 4404);
      assert.deepEqual(streamed.executions, [{ error: { type: 'error', status: 404, message: `Execution ${id} not found` } }]);
    }
    const execution = grpcClient('execution', 'scriptorium.execution.v1.ExecutionService');
    for (const id of BAD_IDS) {
      for (const [method, stream] of [['getExecution', false], ['cancelExecution', false], ['rerunExecution', false], ['watchExecution', true]] as const) {
        const answer = await grpcStatus(execution, method, { executionId: id }, stream);
        assert.equal(answer.code, grpc.status.NOT_FOUND, `${method}(${id}): ${answer.details}`);
      }
    }
  });

  test('X-Forwarded-For from a client that is no trusted proxy is ignored (by default none is)', async () => {
    assert.equal((await api.post('/api/v1/users', { username: 'spoofer', password: 'spoofer password 1', level: 'operator' })).status, 201);
    const spoofed = (address: string, password: string) =>
      api.request('POST', '/api/v1/auth/login', { username: 'spoofer', password }, { 'x-forwarded-for': address, authorization: '' });
    // A new made-up address for every guess does not make each guess the first from its address.
    for (let i = 1; i <= 4; i++) assert.equal((await spoofed(`203.0.113.${i}`, 'wrong password!!')).status, 401);
    assert.equal((await spoofed('203.0.113.5', 'wrong password!!')).status, 429);
    assert.equal((await spoofed('203.0.113.6', 'spoofer password 1')).status, 429);
    const audit = (await api.get('/api/v1/audit?action=auth.login&search=spoofer')).body.items;
    assert.equal(audit.length, 6);
    assert.deepEqual([...new Set(audit.map((e: { ip: string }) => e.ip))], ['127.0.0.1']);
  });

  test('PATCH …/metadata with a null field answers 400 naming the field, and changes nothing', async () => {
    const path = '/api/v1/scripts/testing/sleeper.py/metadata';
    const before = (await api.get('/api/v1/scripts/testing/sleeper.py')).body;
    for (const field of ['tags', 'description', 'parameters', 'category', 'timeoutSeconds', 'reset']) {
      const res = await api.request('PATCH', path, { [field]: null });
      assert.equal(res.status, 400, `${field}: null answered ${res.status} ${JSON.stringify(res.body)}`);
      assert.match(res.body.message, new RegExp(`^${field} must not be null`));
      assert.match(res.body.fields[field], /leave it out/);
    }
    const ok = await api.request('PATCH', path, { tags: ['nightly'] });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.deepEqual(ok.body.tags, ['nightly']);
    assert.equal(before.tags.includes('nightly'), false);
  });

  test('a validation error for a user whose language is fr, es or it answers 400 with translated field errors', async () => {
    const expected: Record<string, string> = { fr: 'doit être au plus 600', es: 'debe ser como máximo 600', it: 'deve essere al massimo 600', en: 'must be at most 600' };
    try {
      for (const [language, message] of Object.entries(expected)) {
        assert.equal((await api.request('PATCH', '/api/v1/me', { language })).status, 200);
        const user = new Api(stack.url, await login(stack.url));
        const res = await user.post('/api/v1/executions', { scriptId: 'testing/sleeper.py', parameters: { seconds: 1000 } });
        assert.equal(res.status, 400, `${language}: ${JSON.stringify(res.body)}`);
        assert.deepEqual(res.body.fields, { seconds: message });
        assert.match(res.body.message, new RegExp(message));
      }
    } finally {
      await api.request('PATCH', '/api/v1/me', { language: 'en' });
    }
  });

  test('the same Idempotency-Key with other parameters or project answers 422; with the same request, the first run', async () => {
    const key = `fixes-${Date.now()}`;
    const send = (body: object) => api.post('/api/v1/executions', { scriptId: 'testing/sleeper.py', ...body }, { 'idempotency-key': key });
    const first = await send({ parameters: { seconds: 0.2, token: 'first secret' } });
    assert.equal(first.status, 202, JSON.stringify(first.body));
    // Key order and the secret's value are no part of the request's identity (secrets are never stored, not even hashed).
    const again = await send({ parameters: { token: 'retyped secret', seconds: 0.2 } });
    assert.equal(again.status, 202);
    assert.equal(again.body.id, first.body.id);
    for (const other of [{ parameters: { seconds: 0.3 } }, { parameters: { seconds: 0.2 }, projectId: 'elsewhere' }]) {
      const refused = await send(other);
      assert.equal(refused.status, 422, `${JSON.stringify(other)}: ${JSON.stringify(refused.body)}`);
      assert.equal(refused.body.code, 'IDEMPOTENCY_KEY_REUSED');
      assert.match(refused.body.message, new RegExp(`Idempotency-Key "${key}" was already used for another request \\(run ${first.body.id}`));
    }
    const rerun = await api.post(`/api/v1/executions/${first.body.id}/rerun`, {}, { 'idempotency-key': key });
    assert.equal(rerun.status, 422, 'a rerun is another request');
    const runs = (await api.get('/api/v1/executions?pageSize=200')).body.items.filter((r: any) => r.id === first.body.id || r.rerunOf === first.body.id);
    assert.equal(runs.length, 1, 'no second run was started');
  });

  test('a 1 MiB output line is stored as its first 256 KiB and one marker with the exact bytes dropped, the same every run', async () => {
    const stored: string[][] = [];
    for (let i = 0; i < 3; i++) {
      const run = await api.run('testing/long_line.py', { bytes: 1024 * 1024 });
      const final = await api.finished(run.id);
      assert.equal(final.state, 'succeeded', JSON.stringify(final));
      const log = await waitFor(async () => {
        const body = (await api.get(`/api/v1/executions/${run.id}/log`)).body;
        return body.complete ? body : undefined;
      }, 10_000, `the log of ${run.id} to be complete`);
      stored.push(log.lines.map((l: { text: string }) => l.text));
    }
    const kept = Array.from({ length: 256 * 1024 }, (_, i) => String(i % 10)).join('');
    const dropped = 1024 * 1024 - 256 * 1024;
    assert.deepEqual(stored[0].map((t) => t.length), ['before'.length, kept.length + `… [${dropped} bytes dropped]`.length, 'after'.length]);
    assert.equal(stored[0][1], `${kept}… [${dropped} bytes dropped]`);
    assert.deepEqual(stored[0], ['before', `${kept}… [786432 bytes dropped]`, 'after']);
    assert.deepEqual(stored[1], stored[0]);
    assert.deepEqual(stored[2], stored[0]);
  });
});
