// The Kubernetes side of an interactive session, against the in-test API emulation
// (test/k8s/emulator.ts): the pod is told to listen on every interface on the fixed port,
// and a ClusterIP Service selects it, labelled with the session, owned by the pod.
//
// Run: npm run build && node scripts/run-tests.mjs integration test/sessions
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { KubernetesRuntime } from '../../apps/execution/src/runtime/kubernetes/kubernetes.runtime.js';
import { buildRunObjects, buildSessionService, podNameFor, sessionServiceAddress } from '../../apps/execution/src/runtime/kubernetes/pod-manifest.js';
import { KubeEmulator } from '../k8s/emulator.js';
import { kubeConfigFor, launchSpec, NAMESPACE, RESOURCES, startRun, within } from '../k8s/helpers.js';
import { freePort, waitFor } from '../harness/net.js';

const ECHO = readFileSync(resolve(import.meta.dirname, '../../../test/sessions/fixtures/script_groups/sessions/echo_page.py'), 'utf8');
const OPTIONS = {
  namespace: NAMESPACE,
  defaultImage: 'python:3.12-slim',
  dataRoot: '/srv/data',
  resources: RESOURCES,
  terminationGraceSeconds: 1,
  instanceId: 'replica-a',
};

let emulator: KubeEmulator;
let runtime: KubernetesRuntime;

beforeEach(async () => {
  emulator = new KubeEmulator();
  await emulator.start();
  runtime = new KubernetesRuntime(kubeConfigFor(emulator), { ...OPTIONS, finishedPodRetentionSeconds: 0, watchRestartSeconds: 60, logSettleMs: 300 });
});

afterEach(async () => {
  await runtime.close();
  await emulator.stop();
});

describe('interactive sessions on the kubernetes runtime', () => {
  test('the pod of an interactive run listens on all interfaces on the session port; other runs are unchanged', () => {
    const session = { sessionId: '0b5c3d2e-1111-4222-8333-944445555666', port: 8000, bindAllInterfaces: true };
    const spec = launchSpec('print(1)', { args: ['--port', '8000'], session });
    const { pod } = buildRunObjects(spec, OPTIONS);
    const container = pod.spec!.containers[0];
    assert.deepEqual(container.ports, [{ name: 'session', containerPort: 8000, protocol: 'TCP' }]);
    assert.ok(container.env!.some((e) => e.name === 'SCRIPTORIUM_BIND_HOST' && e.value === '0.0.0.0'));
    assert.deepEqual(container.args!.slice(2), ['--port', '8000']);
    assert.equal(sessionServiceAddress(spec.executionId, NAMESPACE, 8000), `${podNameFor(spec.executionId)}.${NAMESPACE}.svc:8000`);

    const plain = launchSpec('print(1)');
    const plainContainer = buildRunObjects(plain, OPTIONS).pod.spec!.containers[0];
    assert.equal(plainContainer.ports, undefined);
    assert.ok(!plainContainer.env!.some((e) => e.name === 'SCRIPTORIUM_BIND_HOST'));
    assert.equal(buildSessionService(plain, OPTIONS), undefined, 'no Service for a run that is not interactive');
  });

  test('a ClusterIP Service selects the pod, carries the session label and an ownerReference, and goes with the pod', async () => {
    // The emulator runs the "pod" as a local process: a free port stands in for the fixed one.
    const port = await freePort();
    const session = { sessionId: '7d0c1e2f-aaaa-4bbb-8ccc-ddddeeeeffff', port, bindAllInterfaces: true };
    const spec = launchSpec(ECHO, { args: ['--port', String(port)], session, scriptPath: 'echo_page.py' });
    const run = startRun(runtime, spec);
    await within(run.started, 10_000, 'pod start');
    const podName = podNameFor(spec.executionId);
    const pod = emulator.get('pods', NAMESPACE, podName)!;
    const service = await waitFor(() => emulator.get('services', NAMESPACE, podName), 5000, 'the session Service');

    assert.equal(service.spec.type, 'ClusterIP');
    assert.deepEqual(service.spec.selector, { 'scriptorium.io/execution-id': pod.metadata.labels['scriptorium.io/execution-id'] });
    assert.deepEqual(service.spec.ports, [{ name: 'session', protocol: 'TCP', port, targetPort: port }]);
    assert.equal(service.metadata.labels['scriptorium.io/session-id'], session.sessionId);
    assert.equal(service.metadata.labels['app.kubernetes.io/managed-by'], 'scriptorium');
    assert.deepEqual(service.metadata.ownerReferences, [{ apiVersion: 'v1', kind: 'Pod', name: podName, uid: pod.metadata.uid }]);
    assert.equal(pod.spec.containers[0].env.find((e: { name: string }) => e.name === 'SCRIPTORIUM_BIND_HOST')?.value, '0.0.0.0');

    // The script serves on the port it was given (what the Service's targetPort reaches).
    const page = await waitFor(async () => {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/`);
        return res.ok ? await res.text() : undefined;
      } catch {
        return undefined;
      }
    }, 10_000, 'the script to serve its page');
    assert.match(page, /Echo session page/);

    // Closing the session cancels the run: the pod is deleted, and its Service with it.
    run.handle.stop('cancelled', 1);
    const result = await within(run.done, 15_000, 'run end');
    assert.equal(result.exit?.stoppedFor, 'cancelled');
    await waitFor(() => !emulator.get('pods', NAMESPACE, podName), 10_000, 'pod deletion');
    await waitFor(() => !emulator.get('services', NAMESPACE, podName), 5000, 'Service garbage collection with its pod');
  });
});
