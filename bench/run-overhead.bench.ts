import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { Api } from '../test/harness/api.js';
import { login, startAllInOneProcess } from '../test/harness/stack.js';

export const PYTHON = '/usr/bin/python3';
export const BENCH_GROUPS = resolve(import.meta.dirname, '../../bench/scripts');

export function percentile(values: number[], p: number) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Time from spawning the script directly to its first stdout line. */
function direct(script: string): Promise<number> {
  return new Promise((resolveTime, reject) => {
    const start = performance.now();
    const child = spawn(PYTHON, [script], { stdio: ['ignore', 'pipe', 'ignore'] });
    child.stdout.once('data', () => resolveTime(performance.now() - start));
    child.once('error', reject);
  });
}

/** REST call → first output line on a WebSocket client, in all-in-one mode. */
export async function runOverheadBench(runs = 50) {
  const stack = await startAllInOneProcess({ SCRIPT_GROUPS_DIR: BENCH_GROUPS, LOG_LEVEL: 'warn' });
  try {
    const api = new Api(stack.url, await login(stack.url));
    const platform: number[] = [];
    const baseline: number[] = [];
    for (let i = 0; i < runs + 3; i++) {
      const start = performance.now();
      const execution = await api.run('bench/hello.py');
      const firstLine = await new Promise<number>((resolveTime, reject) => {
        const { ws, done } = api.stream(execution.id, { onLine: () => resolveTime(performance.now() - start) });
        done.then(() => reject(new Error('stream ended without a line')), reject);
        setTimeout(() => ws.close(), 10_000);
      });
      const directTime = await direct(join(BENCH_GROUPS, 'bench/hello.py'));
      if (i >= 3) {
        // The first runs warm caches and JIT; they are not counted.
        platform.push(firstLine);
        baseline.push(directTime);
      }
    }
    const overhead = platform.map((t, i) => t - baseline[i]);
    console.log(`\nRun overhead (all-in-one, interpreter ${PYTHON}, ${runs} runs)`);
    console.log(`  REST call → first line on WebSocket: median ${percentile(platform, 50).toFixed(1)} ms, p99 ${percentile(platform, 99).toFixed(1)} ms`);
    console.log(`  same script run directly:            median ${percentile(baseline, 50).toFixed(1)} ms, p99 ${percentile(baseline, 99).toFixed(1)} ms`);
    console.log(`  overhead:                            median ${percentile(overhead, 50).toFixed(1)} ms, p99 ${percentile(overhead, 99).toFixed(1)} ms (target: median < 30 ms)`);
    return { medianOverheadMs: percentile(overhead, 50), p99OverheadMs: percentile(overhead, 99) };
  } finally {
    await stack.stop();
  }
}
