import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Api } from '../harness/api.js';
import { waitFor } from '../harness/net.js';
import { login, startDistributed, type RunningStack } from '../harness/stack.js';

/** Pids of live processes started for an execution (the runtime tags them in their environment). */
function processesOf(executionId: string): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`SCRIPTORIUM_EXECUTION_ID=${executionId}`);
      } catch {
        return false;
      }
    })
    .map(Number);
}

const FIXTURES = resolve(import.meta.dirname, '../../../test/fixtures/script_groups');

/** Queue, limits, cancel, timeout, rerun, idempotency and restart safety, over real processes. */
describe('execution service', { concurrency: false }, () => {
  let stack: RunningStack;
  let api: Api;

  before(async () => {
    stack = await startDistributed({
      SCRIPT_GROUPS_DIR: FIXTURES,
      MAX_RUNS_PER_USER: '1',
      CANCEL_GRACE_SECONDS: '1',
      RUN_SUBMISSIONS_PER_MINUTE: '10000',
    });
    api = new Api(stack.url, await login(stack.url));
  });
  after(async () => {
    await stack?.stop();
  });

  const finished = (id: string) =>
    waitFor(async () => {
      const run = (await api.get(`/api/v1/executions/${id}`)).body;
      return ['succeeded', 'failed', 'timed_out', 'cancelled', 'lost'].includes(run.state) ? run : undefined;
    }, 20_000, `run ${id} to end; output:\n${stack.output().slice(-3000)}`);

  test('runs over the per-user limit wait queued with their position, then start in submission order', async () => {
    const first = await api.run('testing/sleeper.py', { seconds: 1 });
    const second = await api.run('testing/sleeper.py', { seconds: 0.2 });
    const third = await api.run('testing/sleeper.py', { seconds: 0.2 });
    assert.equal(first.state, 'starting', 'a run with a free slot and an empty queue is stored already claimed');
    assert.equal(second.state, 'queued');
    assert.equal(third.state, 'queued');
    const queued = await waitFor(async () => {
      const run = (await api.get(`/api/v1/executions/${second.id}`)).body;
      return run.state === 'queued' && run.queuePosition >= 1 ? run : undefined;
    }, 5000, `the second run to wait in the queue (${JSON.stringify((await api.get(`/api/v1/executions/${second.id}`)).body)})`);
    assert.ok(queued.queuePosition >= 1);
    const [a, b] = [await finished(first.id), await finished(second.id)];
    assert.equal(a.state, 'succeeded');
    assert.equal(b.state, 'succeeded');
    assert.ok(Date.parse(b.startedAt) >= Date.parse(a.finishedAt), 'the second started after the first ended');
    const c = await finished(third.id);
    assert.ok(Date.parse(c.startedAt) >= Date.parse(b.finishedAt), 'the third started after the second, in submission order');
    assert.deepEqual(a.result, { ticks: 5 });
    assert.deepEqual(
      b.transitions.map((t: any) => t.toState),
      ['starting', 'running', 'succeeded'],
    );
  });

  test('the same idempotency key twice, even at once, starts one run', async () => {
    const key = `key-${Date.now()}`;
    const body = { scriptId: 'testing/sleeper.py', parameters: { seconds: 0.2 } };
    const [x, y] = await Promise.all([api.post('/api/v1/executions', body, { 'idempotency-key': key }), api.post('/api/v1/executions', body, { 'idempotency-key': key })]);
    assert.equal(x.status, 202);
    assert.equal(y.status, 202);
    assert.equal(x.body.id, y.body.id);
    const later = await api.post('/api/v1/executions', body, { 'idempotency-key': key });
    assert.equal(later.body.id, x.body.id);
    await finished(x.body.id);
  });

  test('cancel stops a running script gracefully; a queued one never starts', async () => {
    const running = await api.run('testing/sleeper.py', { seconds: 30 });
    const queued = await api.run('testing/sleeper.py', { seconds: 30 });
    // Cancel once the script has installed its SIGTERM handler (it prints its first tick after that).
    await waitFor(async () => /tick 1/.test((await api.get(`/api/v1/executions/${running.id}/log?format=text`)).body), 10_000, 'the run to print');
    const cancelledQueued = await api.post(`/api/v1/executions/${queued.id}/cancel`);
    assert.equal(cancelledQueued.body.state, 'cancelled');
    assert.equal((await api.post(`/api/v1/executions/${running.id}/cancel`)).status, 202);
    const final = await finished(running.id);
    assert.equal(final.state, 'cancelled');
    const log = (await api.get(`/api/v1/executions/${running.id}/log?format=text`)).body as string;
    assert.match(log, /got SIGTERM, cleaning up/);
    assert.match(log, /Run cancelled/);
    const again = await api.post(`/api/v1/executions/${running.id}/cancel`);
    assert.equal(again.status, 409);
    assert.equal((await api.get(`/api/v1/executions/${queued.id}`)).body.startedAt, null);
  });

  test('a run past its timeout is stopped as timed_out', async () => {
    const run = await api.run('testing/sleeper.py', { seconds: 60 });
    const final = await finished(run.id);
    assert.equal(final.state, 'timed_out');
    assert.match(final.stateReason, /3 s timeout/);
  });

  test('re-run repeats the parameters, asks for secrets again, and links to the original', async () => {
    const original = await api.run('testing/sleeper.py', { seconds: 0.2, token: 's3cret' });
    const done = await finished(original.id);
    assert.equal(done.parameters.token, '••••••', 'secrets are masked in history');
    const log = (await api.get(`/api/v1/executions/${original.id}/log?format=text`)).body as string;
    assert.match(log, /secret length 6/);
    assert.doesNotMatch(log, /s3cret/);
    const rerun = await api.post(`/api/v1/executions/${original.id}/rerun`, { parameters: { token: 'abc' } });
    assert.equal(rerun.status, 202);
    assert.equal(rerun.body.rerunOf, original.id);
    assert.deepEqual(rerun.body.parameters, { seconds: 0.2, token: '••••••' });
    const rerunLog = await finished(rerun.body.id).then(() => api.get(`/api/v1/executions/${rerun.body.id}/log?format=text`));
    assert.match(rerunLog.body, /secret length 3/);
  });

  test('killing the execution service mid-run marks the run lost and stops its process', async () => {
    const run = await api.run('testing/sleeper.py', { seconds: 60 });
    const text = async () => (await api.get(`/api/v1/executions/${run.id}/log?format=text`)).body as string;
    await waitFor(async () => /tick 2\n/.test(await text()), 5000, 'the first ticks to be stored');
    await stack.kill('execution', 'SIGKILL');
    await stack.restart('execution');
    const final = await finished(run.id);
    assert.equal(final.state, 'lost');
    assert.match(final.stateReason, /restarted while the run was active/);
    assert.equal(processesOf(run.id).length, 0, 'no process of the lost run is left running');
    // Its log is completed with what was stored, not left waiting for lines that cannot come.
    const log = await waitFor(async () => {
      const res = await api.get(`/api/v1/executions/${run.id}/log`);
      return res.body.complete ? (res.body.lines as { text: string }[]) : undefined;
    }, 10_000, 'the lost run\'s log to be complete');
    const ticks = log.map((l) => /^tick (\d+)$/.exec(l.text)?.[1]).filter(Boolean).map(Number);
    assert.ok(ticks.length >= 2, `ticks stored: ${ticks.join(',')}`);
    assert.deepEqual(ticks, ticks.map((_, i) => i + 1), 'the stored ticks, once, in order');
    const next = await api.run('testing/sleeper.py', { seconds: 0.2 });
    assert.equal((await finished(next.id)).state, 'succeeded', 'the restarted service runs new work');
  });

  test('output printed while logging is down is stored once it is back: no line lost or doubled', async () => {
    const run = await api.run('testing/sleeper.py', { seconds: 2.4 });
    const log = async () => (await api.get(`/api/v1/executions/${run.id}/log?format=text`)).body as string;
    await waitFor(async () => /tick 2\n/.test(await log()), 5000, 'the first ticks to be stored');
    await stack.kill('logging', 'SIGKILL');
    await new Promise((r) => setTimeout(r, 1000)); // ticks printed now reach no logging replica
    await stack.restart('logging');
    assert.equal((await finished(run.id)).state, 'succeeded');
    const stored = await waitFor(async () => {
      const text = await log();
      return /tick 1[0-9]\n/.test(text) && (await api.get(`/api/v1/executions/${run.id}/log`)).body.complete ? text : undefined;
    }, 20_000, 'the whole log, complete');
    const ticks = [...stored.matchAll(/^tick (\d+)$/gm)].map((m) => Number(m[1]));
    assert.ok(ticks.length >= 10, `ticks stored: ${ticks.join(',')}`);
    assert.deepEqual(ticks, ticks.map((_, i) => i + 1), 'every tick once, in order');
  });

  test('too many submissions get 429 with Retry-After, and so does a full queue', async () => {
    await stack.kill('execution', 'SIGTERM');
    await stack.restart('execution', { RUN_SUBMISSIONS_PER_MINUTE: '3' });
    await waitFor(async () => (await fetch(`${stack.url}/readyz`)).ok, 20_000, 'execution to be back');
    const refused = await waitFor(async () => {
      const res = await api.post('/api/v1/executions', { scriptId: 'testing/sleeper.py', parameters: { seconds: 0.1 } });
      return res.status === 429 ? res : undefined;
    }, 20_000, 'a 429');
    assert.match(refused.body.message, /At most 3 runs a minute/);
    const retryAfter = Number(refused.headers.get('retry-after'));
    assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);

    await stack.kill('execution', 'SIGTERM');
    await stack.restart('execution', { RUN_SUBMISSIONS_PER_MINUTE: '10000', MAX_QUEUED_RUNS: '1' });
    await waitFor(async () => (await fetch(`${stack.url}/readyz`)).ok, 20_000, 'execution to be back');
    const running = await api.run('testing/sleeper.py', { seconds: 2 });
    await waitFor(async () => (await api.get(`/api/v1/executions/${running.id}`)).body.state === 'running', 5000, 'the run to start');
    const queued = await api.run('testing/sleeper.py', { seconds: 0.1 });
    const full = await api.post('/api/v1/executions', { scriptId: 'testing/sleeper.py', parameters: { seconds: 0.1 } });
    assert.equal(full.status, 429);
    assert.match(full.body.message, /queue is full/);
    assert.ok(full.headers.get('retry-after'));
    await finished(queued.id);
  });
});
