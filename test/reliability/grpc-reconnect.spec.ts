import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Api } from '../harness/api.js';
import { waitFor } from '../harness/net.js';
import { login, startDistributed, type RunningStack } from '../harness/stack.js';

const DOWN_MS = 40_000;

/**
 * A peer down for a long while is reached again within seconds of its return: grpc-js's
 * default reconnect backoff grows to 120 s (after a 40 s outage the next attempt could be
 * ~25 s away); capped at 4 s, the gateway reaches execution again within a few seconds.
 * Meanwhile the gateway answers 503 naming the service, not its address.
 */
describe('gRPC peer down for 40 s', { concurrency: false }, () => {
  let stack: RunningStack;
  let api: Api;

  before(async () => {
    stack = await startDistributed();
    api = new Api(stack.url, await login(stack.url));
  });
  after(async () => {
    await stack?.stop();
  });

  test('execution killed for 40 s: 503 naming it meanwhile, reached again within 8 s of serving', async () => {
    assert.equal((await api.get('/api/v1/executions?pageSize=1')).status, 200);
    await stack.kill('execution');
    const answers: { status: number; retryAfter: string | null; message: string }[] = [];
    const downUntil = Date.now() + DOWN_MS;
    while (Date.now() < downUntil) {
      const res = await api.get('/api/v1/executions?pageSize=1');
      answers.push({ status: res.status, retryAfter: res.headers.get('retry-after'), message: String(res.body?.message) });
      await new Promise((r) => setTimeout(r, 1000));
    }
    assert.ok(answers.length > 10);
    for (const answer of answers) {
      assert.deepEqual(answer, { status: 503, retryAfter: answer.retryAfter, message: 'the execution service is unavailable; retry shortly' });
      assert.match(answer.retryAfter ?? '', /^\d+$/);
    }

    // Its own log says when it serves gRPC again ("service started", at info level).
    const mark = stack.output().length;
    await stack.restart('execution', { LOG_LEVEL: 'info' });
    await waitFor(() => /\[execution\][^\n]*"service started"/.test(stack.output().slice(mark)), 60_000, `execution to start again:\n${stack.output().slice(-3000)}`);
    const serving = Date.now();
    await waitFor(async () => (await api.get('/api/v1/executions?pageSize=1')).status === 200, 8000, 'the gateway to reach execution again (reconnect backoff capped at 4 s, ±20 % jitter)');
    const reachedMs = Date.now() - serving;
    console.log(`# gateway reached execution ${reachedMs} ms after it served again (down ${DOWN_MS / 1000} s)`);
  });
});
