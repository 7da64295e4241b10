import { Api } from '../test/harness/api.js';
import { login, startAllInOneProcess } from '../test/harness/stack.js';
import { BENCH_GROUPS, percentile, PYTHON } from './run-overhead.bench.js';

const TERMINAL = new Set(['succeeded', 'failed', 'timed_out', 'cancelled', 'lost']);

/** 1,000 trivial runs submitted at once through the REST API: all finish, none lost or doubled. */
export async function runRunsThroughputBench(runs = 1000) {
  const stack = await startAllInOneProcess({
    SCRIPT_GROUPS_DIR: BENCH_GROUPS,
    LOG_LEVEL: 'warn',
    RUN_SUBMISSIONS_PER_MINUTE: '0',
    MAX_RUNS_PER_USER: '0',
    MAX_QUEUED_RUNS: String(runs * 2),
  });
  try {
    const api = new Api(stack.url, await login(stack.url));
    const start = performance.now();
    // Every submission in flight at once, each with its own idempotency key.
    const accepted = await Promise.all(
      Array.from({ length: runs }, (_, i) =>
        api.post('/api/v1/executions', { scriptId: 'bench/hello.py', parameters: {} }, { 'idempotency-key': `bench-${i}` }).then((res) => {
          if (res.status !== 202) throw new Error(`submission ${i} answered ${res.status}: ${JSON.stringify(res.body)}`);
          return res.body.id as string;
        }),
      ),
    );
    const submitted = performance.now();
    const ids = new Set(accepted);
    // Wait for all to end, reading history pages.
    let ended: any[] = [];
    for (;;) {
      const all: any[] = [];
      let token = '';
      do {
        const page = await api.get(`/api/v1/executions?pageSize=200${token ? `&pageToken=${token}` : ''}`);
        all.push(...page.body.items);
        token = page.body.nextPageToken ?? '';
      } while (token);
      ended = all.filter((e) => ids.has(e.id) && TERMINAL.has(e.state));
      if (ended.length === ids.size) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const finished = performance.now();
    const elapsed = (finished - start) / 1000;
    const waits: number[] = [];
    for (const e of ended.slice(0, runs)) waits.push(Date.parse(e.startedAt) - Date.parse(e.createdAt));
    const states = ended.reduce<Record<string, number>>((acc, e) => ({ ...acc, [e.state]: (acc[e.state] ?? 0) + 1 }), {});
    // Each run prints one line: its stored log must hold it exactly once.
    const sample = ended.slice(0, 50);
    const logs = await Promise.all(sample.map((e) => api.get(`/api/v1/executions/${e.id}/log?format=text`)));
    const doubled = logs.filter((l) => l.body !== 'hello\n').length;
    console.log(`\nRun throughput (all-in-one, local runtime, interpreter ${PYTHON}, ${runs} runs submitted at once)`);
    console.log(`  accepted ${ids.size} distinct runs in ${((submitted - start) / 1000).toFixed(1)} s; all ended after ${elapsed.toFixed(1)} s → ${(runs / elapsed).toFixed(1)} runs/s (target ≥ 30)`);
    console.log(`  final states: ${JSON.stringify(states)}; logs checked: ${sample.length}, wrong: ${doubled}`);
    console.log(`  queue wait (created → started): p50 ${percentile(waits, 50).toFixed(0)} ms, p99 ${percentile(waits, 99).toFixed(0)} ms`);
    if (ids.size !== runs || states.succeeded !== runs || doubled) throw new Error('runs were lost, doubled or failed');
    return { runsPerSecond: runs / elapsed };
  } finally {
    await stack.stop();
  }
}
