// Restart safety of the kubernetes runtime, end to end: the distributed product (each app its
// own process, PostgreSQL, NATS) with EXECUTION_RUNTIME=kubernetes against the Kubernetes API
// emulation (test/k8s/emulator.ts, whose "pods" are processes of this test, so they outlive
// the execution service). The execution service is SIGKILLed mid-run and started again.
//
// Run: npm run build && node scripts/run-tests.mjs integration k8s/reattach
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DataSource } from 'typeorm';
import { podNameFor } from '../../apps/execution/src/runtime/kubernetes/pod-manifest.js';
import { Api } from '../harness/api.js';
import { waitFor } from '../harness/net.js';
import { login, startDistributed, type RunningStack } from '../harness/stack.js';
import type { TestPostgres } from '../harness/postgres.js';
import { KubeEmulator } from './emulator.js';
import { NAMESPACE } from './helpers.js';

const FIXTURES = resolve(import.meta.dirname, '../../../test/k8s/fixtures/script_groups');
const TERMINAL = ['succeeded', 'failed', 'timed_out', 'cancelled', 'lost'];

describe('kubernetes runtime: re-attach after the execution service restarts', { concurrency: false }, () => {
  let emulator: KubeEmulator;
  let stack: RunningStack & { postgres: TestPostgres };
  let api: Api;
  let db: DataSource;

  before(async () => {
    emulator = new KubeEmulator();
    await emulator.start();
    const kubeconfig = emulator.writeKubeconfig(NAMESPACE);
    stack = await startDistributed({
      SCRIPT_GROUPS_DIR: FIXTURES,
      EXECUTION_RUNTIME: 'kubernetes',
      KUBECONFIG: kubeconfig,
      SCRIPT_NAMESPACE: NAMESPACE,
      DATA_PVC: 'scriptorium-data',
      INSTANCE_ID: 'replica-a',
      MAX_RUNS_PER_USER: '0',
      CANCEL_GRACE_SECONDS: '1',
    });
    api = new Api(stack.url, await login(stack.url));
    db = new DataSource({ type: 'postgres', url: stack.postgres.url, poolSize: 2 });
    await db.initialize();
  });
  after(async () => {
    await db?.destroy();
    await stack?.stop();
    await emulator?.stop();
  });

  const finished = (id: string, timeoutMs = 30_000) =>
    waitFor(async () => {
      const run = (await api.get(`/api/v1/executions/${id}`)).body;
      return TERMINAL.includes(run.state) ? run : undefined;
    }, timeoutMs, `run ${id} to end; output:\n${stack.output().slice(-3000)}`);

  const storedLog = async (id: string) => {
    const res = await api.get(`/api/v1/executions/${id}/log?format=json&limit=10000`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body as { lines: { sequence: number; stream: string; text: string }[]; complete: boolean };
  };

  /** The stored log has every line of the script exactly once, in order, numbered 1…n without gaps. */
  async function assertWholeLog(id: string, count: number) {
    const log = await waitFor(async () => {
      const l = await storedLog(id);
      return l.complete ? l : undefined;
    }, 10_000, 'the log to be complete');
    const texts = log.lines.map((l) => l.text);
    const expected = Array.from({ length: count }, (_, i) => `line ${i + 1}`);
    const missing = expected.filter((t) => !texts.includes(t));
    const doubled = texts.filter((t, i) => texts.indexOf(t) !== i);
    assert.deepEqual({ missing, doubled }, { missing: [], doubled: [] });
    assert.deepEqual(texts, expected);
    assert.deepEqual(log.lines.map((l) => l.sequence), expected.map((_, i) => i + 1), 'sequences 1…n');
  }

  async function waitForLines(id: string, n: number) {
    // A just-started run's log is registered by logging when it takes the run's creation event; until then it is 404.
    const storedLines = async () => {
      const res = await api.get(`/api/v1/executions/${id}/log?format=json&limit=10000`);
      if (res.status === 404) return 0;
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return (res.body as { lines: unknown[] }).lines.length;
    };
    await waitFor(async () => (await storedLines()) >= n, 10_000, `${n} stored lines of ${id}`).catch(async (error) => {
      const run = (await api.get(`/api/v1/executions/${id}`)).body;
      const calls = emulator.calls.map((c) => `${c.method} ${c.path}`).slice(-10);
      throw new Error(`${(error as Error).message}\nrun: ${JSON.stringify(run)}\nAPI calls: ${calls.join('; ')}\n${stack.output().slice(-3000)}`);
    });
  }

  /** Starts the execution service again and waits until it answers through the gateway. */
  async function restartExecution(env: Record<string, string> = {}) {
    await stack.restart('execution', env);
    await waitFor(async () => (await api.get('/api/v1/executions?pageSize=1')).status === 200, 20_000, 'the execution service to answer');
  }

  test('SIGKILL mid-run, restart with the same INSTANCE_ID: the run is followed again and every line is stored exactly once', async () => {
    const count = 60;
    const run = await api.run('reattach/numbered.py', { count, delay: 0.05 });
    await waitForLines(run.id, 10);
    await stack.kill('execution', 'SIGKILL');
    // The pod goes on printing while nobody follows it.
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(emulator.get('pods', NAMESPACE, podNameFor(run.id))?.status.phase, 'Running');
    await restartExecution();
    const final = await finished(run.id);
    assert.equal(final.state, 'succeeded', JSON.stringify(final));
    assert.equal(final.exitCode, 0);
    assert.equal(final.progress, 100);
    await assertWholeLog(run.id, count);
    const cursor = (await db.query('SELECT log_cursor FROM execution.executions WHERE id = $1', [run.id]))[0].log_cursor;
    assert.ok(cursor?.cursor?.time && cursor.through >= cursor.sequence, `a log cursor was stored: ${JSON.stringify(cursor)}`);
  });

  test('a burst run killed twice: still every line exactly once', async () => {
    const count = 3000;
    const run = await api.run('reattach/numbered.py', { count, delay: 0.05, burst: 50 });
    await waitForLines(run.id, 200);
    await stack.kill('execution', 'SIGKILL');
    await restartExecution();
    await waitFor(async () => (await storedLog(run.id)).lines.length >= 1200, 20_000, 'more lines after the first restart');
    await stack.kill('execution', 'SIGKILL');
    await restartExecution();
    const final = await finished(run.id);
    assert.equal(final.state, 'succeeded', JSON.stringify(final));
    await assertWholeLog(run.id, count);
  });

  test('a pod deleted while the service was down: the run ends lost, with the reason', async () => {
    const run = await api.run('reattach/numbered.py', { count: 400, delay: 0.05 });
    await waitForLines(run.id, 3);
    await stack.kill('execution', 'SIGKILL');
    const pod = podNameFor(run.id);
    const res = await fetch(`${emulator.url}/api/v1/namespaces/${NAMESPACE}/pods/${pod}?gracePeriodSeconds=0`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${emulator.adminToken}` }, // an operator's kubectl, not the execution service
    });
    assert.equal(res.status, 200);
    await waitFor(() => !emulator.get('pods', NAMESPACE, pod), 5000, 'the pod to be gone');
    await restartExecution();
    const final = await finished(run.id);
    assert.equal(final.state, 'lost');
    assert.match(final.stateReason, new RegExp(`pod ${pod} was gone`));
    const log = await waitFor(async () => {
      const l = await storedLog(run.id);
      return l.complete ? l : undefined;
    }, 10_000, 'the log of the lost run to be complete');
    assert.ok(log.lines.length >= 3);
    // New work runs on the restarted service.
    const next = await api.run('reattach/numbered.py', { count: 3, delay: 0 });
    assert.equal((await finished(next.id)).state, 'succeeded');
    await assertWholeLog(next.id, 3);
  });

  test('a dead replica (no heartbeat for 30 s) has its runs adopted by another replica', async () => {
    const count = 50;
    const run = await api.run('reattach/numbered.py', { count, delay: 0.05 });
    await waitForLines(run.id, 10);
    await stack.kill('execution', 'SIGKILL');
    // replica-a was last seen 31 s ago (instead of waiting that long).
    await db.query(`UPDATE execution.instances SET last_seen = now() - interval '31 seconds' WHERE instance_id = 'replica-a'`);
    await restartExecution({ INSTANCE_ID: 'replica-b' });
    const final = await finished(run.id);
    assert.equal(final.state, 'succeeded', JSON.stringify(final));
    await assertWholeLog(run.id, count);
    const owner = (await db.query('SELECT owner_instance FROM execution.executions WHERE id = $1', [run.id]))[0].owner_instance;
    assert.equal(owner, 'replica-b');
  });
});
