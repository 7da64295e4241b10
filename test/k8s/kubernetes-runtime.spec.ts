// KubernetesRuntime against the in-test Kubernetes API emulation (test/k8s/emulator.ts):
// real HTTP, real @kubernetes/client-node, real script processes behind the pods.
//
// Run: npm run build && node scripts/run-tests.mjs integration k8s
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubernetesRuntime, KubernetesRuntimeOptions } from '../../apps/execution/src/runtime/kubernetes/kubernetes.runtime.js';
import { buildRunObjects, dataSubPath, podNameFor, MANAGED_SELECTOR } from '../../apps/execution/src/runtime/kubernetes/pod-manifest.js';
import { sinceTimeFor, timestampNanos } from '../../apps/execution/src/runtime/kubernetes/log-follower.js';
import { schemaErrors, strictFieldErrors } from '../harness/kubernetes-schema.js';
import { KubeEmulator } from './emulator.js';
import { publicImage } from './images.js';
import { collector, launchSpec, NAMESPACE, RESOURCES, startRun, testRuntime, within, type RunResult } from './helpers.js';

let emulator: KubeEmulator;
const runtimes: KubernetesRuntime[] = [];

function runtime(overrides: Partial<KubernetesRuntimeOptions> = {}): KubernetesRuntime {
  const r = testRuntime(emulator, 'python:3.12-slim', overrides);
  runtimes.push(r);
  return r;
}

const lines = (text: string) => text.split('\n').filter(Boolean);
const sequence = (n: number, prefix = 'line') => Array.from({ length: n }, (_, i) => `${prefix} ${i}`);

beforeEach(async () => {
  // A group's own image (environment.image), as a registry would serve it.
  emulator = new KubeEmulator({ images: { 'registry.example/tools:2': publicImage('python:3.12-slim')! } });
  await emulator.start();
});

afterEach(async () => {
  for (const r of runtimes.splice(0)) await r.close();
  await emulator.stop();
});

describe('KubernetesRuntime against the API emulation', () => {
  test('a run: output (stdout and stderr, merged by the log API) and exit code 0; pod and ConfigMap cleaned up', async () => {
    const rt = runtime();
    const spec = launchSpec(
      ['import sys, os', 'print("hello from", os.getcwd().endswith("/data"))', 'print("to stderr", file=sys.stderr)', 'print("args", sys.argv[1:3])', 'print("bye")'].join('\n'),
    );
    const run = startRun(rt, spec);
    const r = await within(run.done, 10_000, 'run');
    assert.equal(r.failed, undefined);
    assert.deepEqual(r.events, ['started', 'exited']);
    assert.equal(r.runtimeRef, podNameFor(spec.executionId), 'started() names the pod');
    assert.deepEqual(r.exit, { exitCode: 0, signal: null });
    // stdout and stderr are two pipes: their relative order is not kept (nor is it by a kubelet).
    const out = lines(r.output);
    assert.deepEqual(out.filter((l) => l !== 'to stderr'), ['hello from True', "args ['--data-dir', '/data']", 'bye']);
    assert.ok(out.includes('to stderr'));
    assert.equal(r.stderr, '', 'the log API merges the streams: everything arrives as stdout');
    // The script's ConfigMap was owned by the pod, and both are gone.
    const cmCreate = emulator.calls.find((c) => c.method === 'POST' && c.path.endsWith('/configmaps'));
    assert.ok(cmCreate);
    await waitUntil(() => !emulator.get('pods', NAMESPACE, podNameFor(spec.executionId)));
    await waitUntil(() => emulator.list('configmaps').length === 0); // garbage-collected with its pod
  });

  test('failure exit code', async () => {
    const rt = runtime();
    const r = await within(startRun(rt, launchSpec('echo failing\nexit 3', { interpreter: '/bin/bash', scriptPath: 'fail.sh' })).done, 10_000, 'run');
    assert.deepEqual(r.exit, { exitCode: 3, signal: null });
    assert.deepEqual(lines(r.output), ['failing']);
  });

  test('secret environment goes in a Secret owned by the pod, referenced per variable, never in args', async () => {
    const rt = runtime();
    const spec = launchSpec('import os\nprint("token", os.environ["API_TOKEN"])', { env: { API_TOKEN: 's3cr3t' }, image: 'registry.example/tools:2' });
    let seenPod: any;
    let seenSecret: any;
    const stopSpy = rt.watch.onEveryPod((_e, pod) => (seenPod ??= structuredClone(pod)));
    const run = startRun(rt, spec);
    await run.started;
    seenSecret = structuredClone(emulator.get('secrets', NAMESPACE, podNameFor(spec.executionId)));
    const r = await within(run.done, 10_000, 'run');
    stopSpy();
    assert.deepEqual(lines(r.output), ['token s3cr3t']);
    assert.equal(seenPod.spec.containers[0].image, 'registry.example/tools:2');
    assert.ok(!JSON.stringify(seenPod).includes('s3cr3t'), 'the secret value is not in the pod');
    assert.equal(seenSecret.metadata.ownerReferences[0].uid, seenPod.metadata.uid);
    assert.equal(emulator.calls.filter((c) => c.path.endsWith('/configmaps')).length, 0);
    await waitUntil(() => emulator.list('secrets').length === 0);
  });

  test('cancel deletes the pod with the grace period: SIGTERM reaches the script, its last output is kept', async () => {
    const rt = runtime();
    const source = [
      'import signal, sys, time',
      'def term(*_):',
      '    print("got SIGTERM", flush=True); sys.exit(143)',
      'signal.signal(signal.SIGTERM, term)',
      'print("working", flush=True)',
      'time.sleep(30)',
    ].join('\n');
    const run = startRun(rt, launchSpec(source));
    await run.waitFor('working');
    const t0 = Date.now();
    run.handle.stop('cancelled', 2);
    const r = await within(run.done, 10_000, 'cancel');
    assert.equal(r.exit?.stoppedFor, 'cancelled');
    assert.equal(r.exit?.exitCode, 143);
    assert.deepEqual(lines(r.output), ['working', 'got SIGTERM']);
    assert.ok(Date.now() - t0 < 3000);
    const del = emulator.calls.find((c) => c.method === 'DELETE');
    assert.equal(del?.query.gracePeriodSeconds, '2');
    assert.equal(emulator.list('pods').length, 0);
    await waitUntil(() => emulator.list('configmaps').length === 0);
  });

  test('cancel before the pod runs', async () => {
    const rt = runtime();
    const run = startRun(rt, launchSpec('print("never")'));
    run.handle.stop('cancelled', 1);
    const r = await within(run.done, 10_000, 'cancel');
    assert.equal(r.exit?.stoppedFor, 'cancelled');
    assert.ok(!r.output.includes('never'));
  });

  test('timeout is activeDeadlineSeconds: DeadlineExceeded ends the run as stoppedFor timeout', async () => {
    const rt = runtime();
    const spec = launchSpec('import time\nprint("start", flush=True)\ntime.sleep(30)', { timeoutSeconds: 1 });
    const t0 = Date.now();
    const r = await within(startRun(rt, spec).done, 10_000, 'timeout');
    assert.equal(r.exit?.stoppedFor, 'timeout');
    assert.notEqual(r.exit?.exitCode, 0);
    assert.deepEqual(lines(r.output), ['start']);
    assert.ok(Date.now() - t0 < 4000, `took ${Date.now() - t0} ms`);
    const created = emulator.calls.find((c) => c.method === 'POST' && c.path.endsWith('/pods'));
    assert.ok(created);
  });

  for (const how of ['end', 'destroy'] as const) {
    test(`log stream closed early (${how === 'end' ? 'cleanly' : 'connection broken'}) resumes with sinceTime: no line lost or doubled`, async () => {
      const rt = runtime();
      const n = 3000;
      // Fast bursts (many lines share a second, so the sinceTime resume overlaps), then a pause.
      const source = `import time\nfor i in range(${n}):\n    print("line", i)\n    if i % 1000 == 999: time.sleep(0.2)\n`;
      emulator.closeNextLogStreamEarly(700, how);
      const r = await within(startRun(rt, launchSpec(source)).done, 15_000, 'run');
      assert.deepEqual(r.exit, { exitCode: 0, signal: null });
      const got = lines(r.output);
      assert.equal(got.length, n, 'line count');
      assert.deepEqual(got, sequence(n));
      const logCalls = emulator.calls.filter((c) => c.path.endsWith('/log'));
      assert.equal(logCalls.length, 2, 'one resume');
      assert.equal(logCalls[0]!.query.sinceTime, undefined);
      assert.match(logCalls[1]!.query.sinceTime ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      assert.equal(logCalls[1]!.query.timestamps, 'true');
      assert.equal(logCalls[1]!.query.follow, 'true');
      assert.ok(emulator.logLinesSent > n, `the resume overlapped (${emulator.logLinesSent - n} lines sent twice) and the overlap was dropped`);
    });
  }

  for (const asHttpStatus of [false, true]) {
    test(`watch "410 Gone" (${asHttpStatus ? 'HTTP status' : 'ERROR event'}) re-lists and the run still ends correctly`, async () => {
      const rt = runtime();
      const run = startRun(rt, launchSpec('import sys, time\nprint("before", flush=True)\ntime.sleep(0.6)\nprint("after")\nsys.exit(4)'));
      await run.waitFor('before');
      emulator.compact({ asHttpStatus });
      const r = await within(run.done, 10_000, 'run');
      assert.deepEqual(r.exit, { exitCode: 4, signal: null });
      assert.deepEqual(lines(r.output), ['before', 'after']);
      assert.equal(rt.watch.stats.expired, 1);
      assert.equal(emulator.count(/^GET \/api\/v1\/namespaces\/[^/]+\/pods$/), 2, 'initial list + re-list after 410');
    });
  }

  test('a watch closed by the server is re-opened from the last resourceVersion (no re-list)', async () => {
    const rt = runtime();
    const run = startRun(rt, launchSpec('import time\nprint("a", flush=True)\ntime.sleep(0.5)\nprint("b")'));
    await run.waitFor('a');
    emulator.closeWatches();
    const r = await within(run.done, 10_000, 'run');
    assert.deepEqual(lines(r.output), ['a', 'b']);
    const watches = emulator.calls.filter((c) => c.watch);
    assert.equal(watches.length, 2);
    assert.ok(Number(watches[1]!.query.resourceVersion) > Number(watches[0]!.query.resourceVersion));
    assert.equal(watches[1]!.query.labelSelector, MANAGED_SELECTOR);
    assert.equal(emulator.count(/^GET \/api\/v1\/namespaces\/[^/]+\/pods$/), 1);
  });

  test('API calls per run: create pod, create ConfigMap, one log follow, delete pod; one shared list+watch; no polling', async () => {
    const rt = runtime();
    const runs = 3;
    for (let i = 0; i < runs; i++) {
      const r = await within(startRun(rt, launchSpec(`import time\nprint("run ${i}")\ntime.sleep(0.3)\nprint("done")`)).done, 10_000, 'run');
      assert.deepEqual(lines(r.output), [`run ${i}`, 'done']);
    }
    // Parallel runs share the same watch too.
    const parallel = await Promise.all([1, 2, 3].map((i) => startRun(rt, launchSpec(`print("p${i}")`)).done));
    assert.deepEqual(parallel.map((r) => r.output.trim()), ['p1', 'p2', 'p3']);
    await waitUntil(() => emulator.list('pods').length === 0);
    const total = runs + 3;
    const summary = emulator.calls.map((c) => `${c.method} ${c.path.replace(/scr-[^/]+/, '{pod}')}${c.watch ? '?watch' : ''}`);
    const counts = Object.fromEntries([...new Set(summary)].map((k) => [k, summary.filter((s) => s === k).length]));
    console.log(`# API calls for ${total} runs:`, counts);
    assert.deepEqual(counts, {
      [`GET /api/v1/namespaces/${NAMESPACE}/pods`]: 1,
      [`GET /api/v1/namespaces/${NAMESPACE}/pods?watch`]: 1,
      [`POST /api/v1/namespaces/${NAMESPACE}/pods`]: total,
      [`POST /api/v1/namespaces/${NAMESPACE}/configmaps`]: total,
      [`GET /api/v1/namespaces/${NAMESPACE}/pods/{pod}/log`]: total,
      [`DELETE /api/v1/namespaces/${NAMESPACE}/pods/{pod}`]: total,
    });
    assert.equal(emulator.calls.length, 2 + 4 * total);
  });

  test('reattach after a restart: listActive finds the pod by label; output resumes from the cursor without gaps or duplicates', async () => {
    const first = runtime();
    const source = 'import time\nfor i in range(6):\n    print("step", i, flush=True)\n    time.sleep(0.15)\nraise SystemExit(2)';
    const spec = launchSpec(source);
    const run = startRun(first, spec);
    await run.waitFor('step 2');
    const cursor = run.result.cursor;
    const before = run.result.output;
    await first.close(); // the service "restarts": its watch and log follow end, the pod keeps running
    assert.ok(cursor);

    const second = runtime({ instanceId: 'replica-b' });
    const active = await second.listActive();
    assert.equal(active.length, 1);
    assert.equal(active[0]!.executionId, spec.executionId);
    assert.equal(active[0]!.instanceId, 'replica-a');
    assert.equal(active[0]!.finished, false);
    const result: RunResult = { output: '', stderr: '', events: [] };
    const done = new Promise<RunResult>((resolve) => void second.reattach(spec.executionId, collector(result, resolve), cursor));
    const r = await within(done, 10_000, 'reattached run');
    assert.deepEqual(r.exit, { exitCode: 2, signal: null });
    assert.deepEqual(lines(before + r.output), sequence(6, 'step'));
    assert.equal(await second.reattach('no-such-run', collector(result, () => {})), null);
  });

  test('orphan collector: finished pods nobody follows are deleted after the retention, from the watch events', async () => {
    const keeper = runtime({ finishedPodRetentionSeconds: 3600 });
    const spec = launchSpec('print("done")');
    await within(startRun(keeper, spec).done, 10_000, 'run');
    assert.ok(emulator.get('pods', NAMESPACE, podNameFor(spec.executionId)), 'kept for the retention');
    assert.equal(await keeper.collectOrphans(), 0, 'not yet old enough');
    await keeper.close();
    const collectorRuntime = runtime({ finishedPodRetentionSeconds: 0 });
    await collectorRuntime.listActive();
    await waitUntil(() => !emulator.get('pods', NAMESPACE, podNameFor(spec.executionId)));
    await waitUntil(() => emulator.list('configmaps').length === 0);
  });

  test('a run that cannot be started is reported as failedToStart, with no pod left behind', async () => {
    const rt = runtime();
    const r = await within(startRun(rt, launchSpec('print(1)', { env: { 'BAD NAME': 'x' } })).done, 10_000, 'run');
    assert.match(r.failed ?? '', /cannot start the pod: environment variable name "BAD NAME" is not valid/);
    assert.equal(emulator.list('pods').length, 0);
  });
});

describe('Pod manifest', () => {
  const spec = launchSpec('print(1)', { env: { TOKEN: 'x' }, timeoutSeconds: 90 });
  const options = {
    namespace: NAMESPACE,
    defaultImage: 'python:3.12-slim',
    dataRoot: '/srv/data',
    dataPvc: 'scriptorium-data',
    resources: RESOURCES,
    terminationGraceSeconds: 5,
    instanceId: 'replica-a',
  };

  test('validates against the official Kubernetes schema (kubernetes-models), with no unknown fields', async () => {
    for (const env of [{}, { TOKEN: 'x' }] as Record<string, string>[]) {
      const objects = buildRunObjects({ ...spec, env }, options);
      const manifests = [objects.pod, objects.payload.body] as Record<string, any>[];
      for (const m of manifests) assert.equal(await schemaErrors(m), undefined, `${m.kind} schema`);
      assert.deepEqual(strictFieldErrors(manifests).map((e) => e.message), []);
    }
  });

  test('the hardening and the product rules are in the pod', () => {
    const { pod, payload } = buildRunObjects(spec, options);
    const p = pod.spec!;
    const c = p.containers[0]!;
    assert.equal(p.restartPolicy, 'Never');
    assert.equal(p.activeDeadlineSeconds, 90);
    assert.equal(p.automountServiceAccountToken, false);
    assert.equal(p.enableServiceLinks, false);
    assert.deepEqual(p.securityContext?.seccompProfile, { type: 'RuntimeDefault' });
    assert.equal(p.securityContext?.runAsNonRoot, true);
    assert.equal(c.securityContext?.runAsUser, 10001);
    assert.equal(c.securityContext?.readOnlyRootFilesystem, true);
    assert.equal(c.securityContext?.allowPrivilegeEscalation, false);
    assert.deepEqual(c.securityContext?.capabilities, { drop: ['ALL'] });
    assert.ok(c.resources?.limits?.memory && c.resources.requests?.cpu);
    assert.ok(p.volumes!.some((v) => v.name === 'tmp' && v.emptyDir));
    assert.ok(c.volumeMounts!.some((m) => m.mountPath === '/tmp'));
    const data = c.volumeMounts!.find((m) => m.name === 'data')!;
    assert.equal(data.subPath, 'projects/u1/demo/default');
    assert.deepEqual(pod.metadata!.labels, {
      'app.kubernetes.io/name': 'scriptorium-script',
      'app.kubernetes.io/managed-by': 'scriptorium',
      'app.kubernetes.io/part-of': 'scriptorium',
      'scriptorium.io/execution-id': spec.executionId,
    });
    assert.equal(payload.kind, 'Secret');
    // No `command`: the image's entrypoint (tini in the script runner) stays PID 1; the interpreter leads the args.
    assert.equal(c.command, undefined);
    assert.equal(c.args![0], 'python3', 'the command name, resolved by the image (not a path on the catalog\'s host)');
    assert.ok(!JSON.stringify(c.args).includes('x') || !c.args!.includes('x'));
    assert.deepEqual(c.env!.find((e) => e.name === 'TOKEN')?.valueFrom?.secretKeyRef, { name: pod.metadata!.name, key: 'env.TOKEN' });
    assert.throws(() => dataSubPath('/srv/data', '/etc'), /outside the data root/);
    assert.match(podNameFor('A Weird/ID'), /^scr-[a-z0-9-]+$/);
  });

  test('log timestamps: RFC3339Nano with trimmed zeros compare correctly; sinceTime is the whole second', () => {
    assert.ok(timestampNanos('2026-01-01T00:00:00.1Z')! > timestampNanos('2026-01-01T00:00:00.09Z')!);
    assert.equal(timestampNanos('2026-01-01T01:00:00+01:00'), timestampNanos('2026-01-01T00:00:00Z'));
    assert.equal(sinceTimeFor('2026-01-01T00:00:07.123456789Z'), '2026-01-01T00:00:07Z');
  });
});

async function waitUntil(check: () => boolean, timeoutMs = 5000) {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 10));
  }
}

