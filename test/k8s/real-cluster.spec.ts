// The same scenario as kubernetes-runtime.spec.ts, against a real cluster; runs only when
// KUBECONFIG is set (skipped otherwise, with the reason printed).
//
//   KUBECONFIG=~/.kube/config [KUBE_CONTEXT=kind-dev] [SCRIPT_NAMESPACE=scriptorium-scripts] \
//   [SCRIPT_IMAGE=python:3.12-slim] npm run build && node scripts/run-tests.mjs integration real-cluster
//
// The namespace must exist and the credentials must allow pods (create/get/list/watch/delete),
// pods/log (get) and configmaps/secrets (create) in it; the image must run as uid 10001.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { KubeConfig } from '@kubernetes/client-node';
import { KubernetesRuntime } from '../../apps/execution/src/runtime/kubernetes/kubernetes.runtime.js';
import { launchSpec, RESOURCES, startRun, within } from './helpers.js';

const skip = process.env.KUBECONFIG ? false : 'KUBECONFIG is not set: no real cluster to run against';
if (skip) console.log(`# real-cluster.spec: skipped: ${skip}`);

describe('KubernetesRuntime against a real cluster', () => {
  const namespace = process.env.SCRIPT_NAMESPACE ?? 'scriptorium-scripts';
  const image = process.env.SCRIPT_IMAGE ?? 'python:3.12-slim';

  function runtime() {
    const kc = new KubeConfig();
    kc.loadFromDefault();
    if (process.env.KUBE_CONTEXT) kc.setCurrentContext(process.env.KUBE_CONTEXT);
    return new KubernetesRuntime(kc, {
      namespace,
      defaultImage: image,
      dataRoot: '/srv/data',
      resources: RESOURCES,
      terminationGraceSeconds: 2,
      instanceId: 'real-cluster-test',
      finishedPodRetentionSeconds: 0,
      watchRestartSeconds: 60,
    });
  }

  test('output, exit code, failure, secret env, cancel and timeout', { skip, timeout: 300_000 }, async () => {
    const rt = runtime();
    try {
      const ok = await within(
        startRun(rt, launchSpec('import os\nprint("hello", os.environ["TOKEN"])\nprint("bye")', { env: { TOKEN: 't0k' } })).done,
        180_000,
        'run',
      );
      assert.equal(ok.failed, undefined, ok.failed);
      assert.deepEqual(ok.exit, { exitCode: 0, signal: null });
      assert.deepEqual(ok.output.split('\n').filter(Boolean), ['hello t0k', 'bye']);

      const failing = await within(startRun(rt, launchSpec('raise SystemExit(3)')).done, 120_000, 'failing run');
      assert.equal(failing.exit?.exitCode, 3);

      const long = startRun(rt, launchSpec('import time\nprint("working", flush=True)\ntime.sleep(300)'));
      await long.waitFor('working').catch(() => undefined);
      long.handle.stop('cancelled', 2);
      const cancelled = await within(long.done, 60_000, 'cancel');
      assert.equal(cancelled.exit?.stoppedFor, 'cancelled');

      const slow = await within(startRun(rt, launchSpec('import time\ntime.sleep(300)', { timeoutSeconds: 5 })).done, 120_000, 'timeout');
      assert.equal(slow.exit?.stoppedFor, 'timeout');
    } finally {
      await rt.close();
    }
  });
});
