import { Api } from '../test/harness/api.js';
import { waitFor } from '../test/harness/net.js';
import { login, startAllInOneProcess } from '../test/harness/stack.js';
import { KubeEmulator } from '../test/k8s/emulator.js';
import { NAMESPACE } from '../test/k8s/helpers.js';
import { BENCH_GROUPS } from './run-overhead.bench.js';

const TERMINAL = new Set(['succeeded', 'failed', 'timed_out', 'cancelled', 'lost']);

/**
 * Kubernetes API calls per run: the product (all-in-one, EXECUTION_RUNTIME=kubernetes) against
 * the API emulation (test/k8s/emulator.ts), N runs submitted at once. The target per run is
 * create pod + create ConfigMap + one log follow + delete pod, plus one list and one watch
 * shared by all runs: nothing that grows with time (no polling loop).
 */
export async function runKubernetesBench(runs = 50) {
  const emulator = new KubeEmulator();
  await emulator.start();
  const kubeconfig = emulator.writeKubeconfig(NAMESPACE);
  const stack = await startAllInOneProcess({
    SCRIPT_GROUPS_DIR: BENCH_GROUPS,
    LOG_LEVEL: 'warn',
    EXECUTION_RUNTIME: 'kubernetes',
    KUBECONFIG: kubeconfig,
    SCRIPT_NAMESPACE: NAMESPACE,
    DATA_PVC: 'scriptorium-data',
    FINISHED_POD_RETENTION_SECONDS: '0',
    RUN_SUBMISSIONS_PER_MINUTE: '0',
    MAX_RUNS_PER_USER: '0',
    MAX_CONCURRENT_RUNS: String(Math.min(runs, 64)),
  });
  try {
    const api = new Api(stack.url, await login(stack.url));
    const before = emulator.calls.length;
    const start = performance.now();
    const ids = await Promise.all(
      Array.from({ length: runs }, async () => {
        const res = await api.post('/api/v1/executions', { scriptId: 'bench/hello.py', parameters: {} });
        if (res.status !== 202) throw new Error(`submission answered ${res.status}: ${JSON.stringify(res.body)}`);
        return res.body.id as string;
      }),
    );
    const ended = await Promise.all(
      ids.map((id) =>
        waitFor(async () => {
          const run = (await api.get(`/api/v1/executions/${id}`)).body;
          return TERMINAL.has(run.state) ? run : undefined;
        }, 120_000, `run ${id} to end`),
      ),
    );
    const elapsed = performance.now() - start;
    // Pods are deleted once their log has been read (retention 0): wait for the last deletes.
    await waitFor(() => emulator.list('pods').length === 0, 10_000, 'every pod to be deleted');
    const calls = emulator.calls.slice(before);
    const shared = emulator.calls.slice(0, before);
    const key = (c: (typeof calls)[number]) => `${c.method} ${c.path.replace(/scr-[^/]+/, '{pod}')}${c.watch ? '?watch' : ''}`;
    const counts = new Map<string, number>();
    for (const c of [...shared, ...calls]) counts.set(key(c), (counts.get(key(c)) ?? 0) + 1);
    const states = new Map<string, number>();
    for (const run of ended) states.set(run.state, (states.get(run.state) ?? 0) + 1);
    console.log(`\nkubernetes runtime (API emulation): ${runs} runs submitted at once, ended in ${(elapsed / 1000).toFixed(1)} s`, Object.fromEntries(states));
    console.log('  API call                                                      total   per run');
    for (const [k, n] of [...counts].sort((a, b) => b[1] - a[1])) {
      console.log(`  ${k.padEnd(60)} ${String(n).padStart(6)}   ${(n / runs).toFixed(2)}`);
    }
    console.log(`  all calls: ${emulator.calls.length} = ${(emulator.calls.length / runs).toFixed(2)} per run (target 4 per run + 1 list + 1 watch shared)`);
    const polls = [...counts].filter(([k]) => /^GET .*\/pods\/\{pod\}$/.test(k));
    if (polls.length) console.log('  polling of single pods found:', Object.fromEntries(polls));
    return { runs, calls: emulator.calls.length, perRun: emulator.calls.length / runs, counts: Object.fromEntries(counts) };
  } finally {
    await stack.stop();
    await emulator.stop();
  }
}
