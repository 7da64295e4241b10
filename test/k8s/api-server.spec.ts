// What the Kubernetes API emulation enforces as a real API server would, set up from the
// chart's own manifests, and what the kubernetes runtime (with the pod spec of
// pod-manifest.ts) does under it: RBAC from the chart's Role, Pod Security "restricted",
// LimitRange and ResourceQuota, image contents read from docker/, PID 1 signal semantics,
// asynchronous garbage collection, BOOKMARK events, 429/5xx answers.
//
// Run: npm run build && node scripts/run-tests.mjs integration k8s/api-server
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import type { KubernetesRuntime, KubernetesRuntimeOptions } from '../../apps/execution/src/runtime/kubernetes/kubernetes.runtime.js';
import { buildRunObjects, podNameFor } from '../../apps/execution/src/runtime/kubernetes/pod-manifest.js';
import { KubeEmulator, type EmulatorOptions } from './emulator.js';
import { kubeConfigFor, launchSpec, NAMESPACE, RESOURCES, startRun, testRuntime, within } from './helpers.js';
import { waitFor } from '../harness/net.js';

let emulator: KubeEmulator | undefined;
const runtimes: KubernetesRuntime[] = [];

async function cluster(options: EmulatorOptions = {}) {
  emulator = new KubeEmulator(options);
  await emulator.start();
  return emulator;
}

function runtime(e: KubeEmulator, overrides: Partial<KubernetesRuntimeOptions> = {}) {
  const r = testRuntime(e, e.scriptImage, overrides);
  runtimes.push(r);
  return r;
}

/** A raw request as the execution service's ServiceAccount (or with another token). */
async function request(e: KubeEmulator, method: string, path: string, body?: unknown, token = e.executionToken) {
  const res = await fetch(`${e.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

const objectsFor = (e: KubeEmulator, source = 'print(1)') =>
  buildRunObjects(launchSpec(source), {
    namespace: NAMESPACE,
    defaultImage: e.scriptImage,
    dataRoot: '/srv/data',
    resources: RESOURCES,
    terminationGraceSeconds: 1,
    instanceId: 'a',
  });

const lines = (text: string) => text.split('\n').filter(Boolean);

afterEach(async () => {
  for (const r of runtimes.splice(0)) await r.close();
  await emulator?.stop();
  emulator = undefined;
});

describe('the API emulation enforces what an API server does, from the chart', () => {
  test('RBAC: the chart Role allows what the runtime calls; anything else answers 403, an unknown token 401', async () => {
    const e = await cluster();
    const ns = `/api/v1/namespaces/${NAMESPACE}`;
    assert.equal((await request(e, 'GET', `${ns}/pods`)).status, 200);
    const unknown = await request(e, 'GET', `${ns}/pods`, undefined, 'not-a-token');
    assert.equal(unknown.status, 401);
    // Verbs nothing in the runtime calls are not granted.
    for (const [method, path] of [
      ['GET', `${ns}/secrets`],
      ['GET', `${ns}/secrets/x`],
      ['GET', `${ns}/configmaps`],
      ['DELETE', `${ns}/configmaps/x`],
      ['GET', `${ns}/services`],
      ['GET', `${ns}/pods/x`],
      ['GET', '/api/v1/namespaces/scriptorium/pods'],
    ]) {
      const r = await request(e, method!, path!);
      assert.equal(r.status, 403, `${method} ${path}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.reason, 'Forbidden');
      assert.match(r.body.message, /User "system:serviceaccount:scriptorium:scr-scriptorium-execution" cannot/);
    }
  });

  test('a run with a secret parameter: the Secret it needs is granted by the chart Role (403 before)', async () => {
    const e = await cluster();
    const rt = runtime(e);
    const run = startRun(rt, launchSpec('import os\nprint("token", os.environ["API_TOKEN"])', { env: { API_TOKEN: 's3cr3t' } }));
    const r = await within(run.done, 15_000, 'run');
    assert.equal(r.failed, undefined, r.failed);
    assert.deepEqual(lines(r.output), ['token s3cr3t']);
    assert.equal(e.count(/^POST .*\/secrets$/), 1);
  });

  test('Pod Security "restricted" admission of the script namespace refuses a pod that breaks it', async () => {
    const e = await cluster();
    const { pod } = objectsFor(e);
    const loose: V1Pod = structuredClone(pod);
    loose.spec!.containers[0]!.securityContext = { runAsNonRoot: true, runAsUser: 10001 };
    const r = await request(e, 'POST', `/api/v1/namespaces/${NAMESPACE}/pods`, loose);
    assert.equal(r.status, 403);
    assert.match(r.body.message, /violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false/);
    assert.match(r.body.message, /unrestricted capabilities/);
    // The runtime's own pod passes.
    assert.equal((await request(e, 'POST', `/api/v1/namespaces/${NAMESPACE}/pods`, pod)).status, 201);
  });

  test('LimitRange: a container without limits gets the defaults; one over the maximum is refused', async () => {
    const e = await cluster();
    const { pod } = objectsFor(e);
    const bare: V1Pod = structuredClone(pod);
    delete bare.spec!.containers[0]!.resources;
    const created = await request(e, 'POST', `/api/v1/namespaces/${NAMESPACE}/pods`, bare);
    assert.equal(created.status, 201);
    assert.equal(created.body.spec.containers[0].resources.limits.memory, '512Mi');
    const big: V1Pod = structuredClone(pod);
    big.metadata!.name = 'big';
    big.spec!.containers[0]!.resources!.limits!.memory = '64Gi';
    const refused = await request(e, 'POST', `/api/v1/namespaces/${NAMESPACE}/pods`, big);
    assert.equal(refused.status, 403);
    assert.match(refused.body.message, /maximum memory usage per Container is 4Gi, but limit is 64Gi/);
  });

  test('ResourceQuota: a pod over the pods quota is refused with "exceeded quota" and waits; finished pods do not count; a cancel ends the wait', async () => {
    const e = await cluster({ chartArgs: ['--set', 'execution.resourceQuota.hard.pods=1'] });
    const rt = runtime(e, { finishedPodRetentionSeconds: 60 });
    const first = startRun(rt, launchSpec('import time\nprint("one", flush=True)\ntime.sleep(1.5)'));
    await first.waitFor('one');
    const second = startRun(rt, launchSpec('print("two")'));
    const cancelled = startRun(rt, launchSpec('print("never")'));
    await waitFor(() => e.calls.filter((c) => c.method === 'POST' && c.path.endsWith('/pods')).length >= 3, 5000, 'both waiting runs refused once');
    cancelled.handle.stop('cancelled', 1);
    const c = await within(cancelled.done, 5000, 'cancel while waiting for the quota');
    assert.deepEqual(c.exit, { exitCode: null, signal: null, stoppedFor: 'cancelled' });
    assert.equal(c.output, '');
    await within(first.done, 10_000, 'first run');
    // The first pod is kept (retention) but finished: it no longer counts, and the waiting run starts.
    const r = await within(second.done, 15_000, 'second run');
    assert.equal(r.failed, undefined, r.failed);
    assert.deepEqual(lines(r.output), ['two']);
    const refusals = e.calls.filter((c) => c.method === 'POST' && c.path.endsWith('/pods')).length;
    assert.ok(refusals >= 4, `${refusals} pod creates`);
  });

  test('image contents: a .js script runs with the script runner\'s node (the host path of the interpreter is not used)', async () => {
    const e = await cluster();
    const rt = runtime(e);
    const spec = launchSpec('console.log("node", typeof process.version)', { interpreter: '/opt/catalog-host/node/bin/node', scriptPath: 'hello.js' });
    const r = await within(startRun(rt, spec).done, 15_000, 'run');
    assert.deepEqual(r.exit, { exitCode: 0, signal: null }, r.output);
    assert.deepEqual(lines(r.output), ['node string']);
  });

  test('image contents: the catalog\'s /usr/bin/python3 runs in python:3.12-slim, which has python3 in /usr/local/bin only', async () => {
    const e = await cluster();
    const rt = runtime(e, { defaultImage: 'python:3.12-slim' });
    const r = await within(startRun(rt, launchSpec('print("ran")', { interpreter: '/usr/bin/python3' })).done, 15_000, 'run');
    assert.deepEqual(r.exit, { exitCode: 0, signal: null }, r.output);
    assert.deepEqual(lines(r.output), ['ran']);
  });

  test('image contents: an interpreter the image does not have ends the container as a real runtime does', async () => {
    const e = await cluster();
    const rt = runtime(e);
    // Under the script runner, tini cannot exec it.
    const viaTini = await within(startRun(rt, launchSpec('puts 1', { interpreter: 'ruby', scriptPath: 'x.rb' })).done, 15_000, 'run');
    assert.equal(viaTini.exit?.exitCode, 1);
    assert.match(viaTini.output, /\[FATAL tini \(7\)\] exec ruby failed/);
    // With no init, the container runtime cannot start the process: exit 128.
    const bare = await within(
      startRun(rt, launchSpec('puts 1', { interpreter: 'ruby', scriptPath: 'x.rb', image: 'python:3.12-slim' })).done,
      15_000,
      'run',
    );
    assert.equal(bare.exit?.exitCode, 128);
  });

  test('image contents: the group\'s image runs the script, not the default (`python` is in python:3.12-slim, not in the script runner)', async () => {
    const e = await cluster();
    const rt = runtime(e);
    const images: string[] = [];
    const stopSpy = rt.watch.onEveryPod((_e, pod) => images.push(pod.spec!.containers[0]!.image!));
    const python = { interpreter: 'python', scriptPath: 'hello.py' };
    const inGroupImage = await within(startRun(rt, launchSpec('print("ran")', { ...python, image: 'python:3.12-slim' })).done, 15_000, 'run');
    stopSpy();
    assert.deepEqual(inGroupImage.exit, { exitCode: 0, signal: null }, inGroupImage.output);
    assert.deepEqual(lines(inGroupImage.output), ['ran']);
    assert.ok(images.length && images.every((image) => image === 'python:3.12-slim'), JSON.stringify(images));
    const inDefault = await within(startRun(rt, launchSpec('print("ran")', python)).done, 15_000, 'run');
    assert.notEqual(inDefault.exit?.exitCode, 0, 'the script runner has no `python`');
  });

  test('PID 1: cancel reaches a script with no SIGTERM handler at once, through tini (the pod keeps the image entrypoint)', async () => {
    const e = await cluster();
    const rt = runtime(e);
    const run = startRun(rt, launchSpec('import time\nprint("working", flush=True)\ntime.sleep(60)'));
    await run.waitFor('working');
    const t0 = Date.now();
    run.handle.stop('cancelled', 5);
    const r = await within(run.done, 15_000, 'cancel');
    assert.equal(r.exit?.exitCode, 143, 'ended by SIGTERM, not SIGKILL after the grace period');
    assert.ok(Date.now() - t0 < 4000, `took ${Date.now() - t0} ms`);
    const pod = e.calls.find((c) => c.method === 'POST' && c.path.endsWith('/pods'));
    assert.ok(pod);
  });

  test('PID 1: in an image without an init, a script without a handler ignores SIGTERM and is killed after the grace period', async () => {
    const e = await cluster();
    const rt = runtime(e, { defaultImage: 'python:3.12-slim' });
    const run = startRun(rt, launchSpec('import time\nprint("working", flush=True)\ntime.sleep(60)'));
    await run.waitFor('working');
    const t0 = Date.now();
    run.handle.stop('cancelled', 1);
    const r = await within(run.done, 15_000, 'cancel');
    assert.equal(r.exit?.exitCode, 137, 'SIGKILL');
    assert.ok(Date.now() - t0 >= 900, `took ${Date.now() - t0} ms`);
  });

  test('an image no node can pull leaves the pod Pending (ErrImagePull)', async () => {
    const e = await cluster();
    const rt = runtime(e, { defaultImage: 'registry.example/nothing:1' });
    const run = startRun(rt, launchSpec('print(1)', { timeoutSeconds: 60 }));
    const until = Date.now() + 5000;
    let reason: string | undefined;
    while (Date.now() < until && !reason) {
      reason = e.list('pods')[0]?.status?.containerStatuses?.[0]?.state?.waiting?.reason;
      if (reason !== 'ErrImagePull') reason = undefined;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(reason, 'ErrImagePull');
    assert.deepEqual(run.result.events, [], 'not started');
    run.handle.stop('cancelled', 0);
    await within(run.done, 10_000, 'cancel');
  });

  test('garbage collection of owned objects is asynchronous, as the collector is', async () => {
    const e = await cluster({ gcDelayMs: 300 });
    const rt = runtime(e);
    const spec = launchSpec('print("x")');
    await within(startRun(rt, spec).done, 15_000, 'run');
    const name = podNameFor(spec.executionId);
    const until = Date.now() + 5000;
    while (e.get('pods', NAMESPACE, name) && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    assert.equal(e.get('pods', NAMESPACE, name), undefined);
    assert.ok(e.get('configmaps', NAMESPACE, name), 'the ConfigMap outlives its pod for a moment');
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(e.get('configmaps', NAMESPACE, name), undefined);
  });

  test('BOOKMARK events move the watch on: a watch re-opened after a bookmark starts from its resourceVersion', async () => {
    const e = await cluster();
    const rt = runtime(e);
    await within(startRun(rt, launchSpec('print("x")')).done, 15_000, 'run');
    e.sendBookmarks();
    await new Promise((r) => setTimeout(r, 50));
    e.closeWatches();
    await new Promise((r) => setTimeout(r, 200));
    const watches = e.calls.filter((c) => c.watch);
    assert.ok(watches.length >= 2);
    assert.equal(watches[0]!.query.allowWatchBookmarks, 'true');
    assert.ok(Number(watches.at(-1)!.query.resourceVersion) > Number(watches[0]!.query.resourceVersion));
  });

  test('429 and 5xx answers with Retry-After, as an overloaded API server sends them', async () => {
    const e = await cluster();
    e.failNext(/^POST .*\/pods$/, 429, 1, 2);
    const core = kubeConfigFor(e).makeApiClient(CoreV1Api);
    const { pod } = objectsFor(e);
    await assert.rejects(core.createNamespacedPod({ namespace: NAMESPACE, body: pod }), (error: any) => error.code === 429 && error.headers?.['retry-after'] === '2');
    const created = await core.createNamespacedPod({ namespace: NAMESPACE, body: pod });
    assert.equal(created.metadata?.name, pod.metadata?.name);
  });

  test(
    'a pod create answered 429 waits (Retry-After) and is retried until the run can start',
    async () => {
      const e = await cluster();
      e.failNext(/^POST .*\/pods$/, 429, 1, 1);
      const rt = runtime(e);
      const r = await within(startRun(rt, launchSpec('print("eventually")')).done, 15_000, 'run');
      assert.equal(r.failed, undefined, r.failed);
      assert.deepEqual(lines(r.output), ['eventually']);
    },
  );
});
