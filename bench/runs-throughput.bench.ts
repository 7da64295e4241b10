import { Api } from '../test/harness/api.js';
import { login, startAllInOneProcess } from '../test/harness/stack.js';
import { BENCH_GROUPS, figure, percentile, PYTHON, traceEnv, verdict } from './run-overhead.bench.js';

const TERMINAL = new Set(['succeeded', 'failed', 'timed_out', 'cancelled', 'lost']);

/** 200 and 1,000 trivial runs submitted at once through the REST API: all finish, none lost or doubled, every log complete. */
export async function runRunsThroughputBench(sizes = [200, 1000]) {
  const results: Record<number, number> = {};
  for (const runs of sizes) results[runs] = await throughput(runs);
  return results;
}

async function throughput(runs: number) {
  const stack = await startAllInOneProcess({
    SCRIPT_GROUPS_DIR: BENCH_GROUPS,
    LOG_LEVEL: 'warn',
    RUN_SUBMISSIONS_PER_MINUTE: '0',
    MAX_RUNS_PER_USER: '0',
    MAX_QUEUED_RUNS: String(runs * 2),
    ...traceEnv(),
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
    // Each run prints one line: every stored log must hold it exactly once, and be complete.
    const logs: { text: unknown; complete: boolean }[] = [];
    for (let i = 0; i < ended.length; i += 50) {
      logs.push(
        ...(await Promise.all(
          ended.slice(i, i + 50).map(async (e) => ({
            text: (await api.get(`/api/v1/executions/${e.id}/log?format=text`)).body,
            complete: (await api.get(`/api/v1/executions/${e.id}/log`)).body?.complete === true,
          })),
        )),
      );
    }
    const doubled = logs.filter((l) => l.text !== 'hello\n').length;
    const incomplete = logs.filter((l) => !l.complete).length;
    const ends = ended.map((e) => Date.parse(e.finishedAt) - Date.parse(e.createdAt));
    const rate = runs / elapsed;
    console.log(`\nRun throughput (all-in-one, local runtime, sandbox on where bwrap is installed, interpreter ${PYTHON}, ${runs} runs submitted at once)`);
    console.log(`  accepted ${ids.size} distinct runs in ${((submitted - start) / 1000).toFixed(1)} s; all ended after ${elapsed.toFixed(1)} s → ${rate.toFixed(1)} runs/s (target ≥ 120) ${verdict(rate >= 120)}`);
    console.log(`  final states: ${JSON.stringify(states)}; logs checked: ${logs.length}, wrong: ${doubled}, incomplete: ${incomplete}`);
    console.log(`  queue wait (created → started): ${figure(waits, 'ms', 0)}; created → finished: ${figure(ends, 'ms', 0)}`);
    if (ids.size !== runs || states.succeeded !== runs || doubled || incomplete) throw new Error('runs were lost, doubled or failed, or a log is incomplete');
    return rate;
  } finally {
    await stack.stop();
  }
}
