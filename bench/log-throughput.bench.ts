import { readFileSync } from 'node:fs';
import { Api } from '../test/harness/api.js';
import { login, startAllInOneProcess } from '../test/harness/stack.js';
import { BENCH_GROUPS, figure, percentile, PYTHON, verdict } from './run-overhead.bench.js';

function peakRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

/** print → live client latency (the script prints its clock; the client reads its own), and a flood of `lines` lines stored and delivered live, none lost. */
export async function runLogThroughputBench(lines = 100_000) {
  const stack = await startAllInOneProcess({ SCRIPT_GROUPS_DIR: BENCH_GROUPS, LOG_LEVEL: 'warn' });
  try {
    const api = new Api(stack.url, await login(stack.url));
    const pid = stack.processes.get('all-in-one')!.pid!;
    // Latency: 100 lines 20 ms apart, each the script's wall clock when printed.
    const ticks = await api.run('bench/ticks.py', { lines: 100 });
    const latencies: number[] = [];
    await api.stream(ticks.id, { onLine: (line) => latencies.push(performance.timeOrigin + performance.now() - Number(line.text)) }).done;
    const latencyMet = percentile(latencies, 50) <= 5 && percentile(latencies, 99) <= 10;
    const rssBefore = rssMb(pid);
    const start = performance.now();
    const execution = await api.run('bench/flood.py', { lines });
    let received = 0;
    let lastSequence = 0;
    let ordered = true;
    const result = await api.stream(execution.id, {
      onLine: (line) => {
        received++;
        if (line.sequence !== lastSequence + 1) ordered = false;
        lastSequence = line.sequence;
      },
    }).done;
    const elapsed = (performance.now() - start) / 1000;
    const final = result.executions.at(-1);
    const stored = await api.get(`/api/v1/executions/${execution.id}/log?format=text`);
    const storedLines = String(stored.body).split('\n').filter(Boolean).length;
    console.log(`\nPrint → live client (all-in-one, WebSocket, ${latencies.length} lines 20 ms apart): ${figure(latencies)} (no regression of 5 / 10 ms) ${verdict(latencyMet)}`);
    console.log(`Log throughput (all-in-one, interpreter ${PYTHON}, ${lines.toLocaleString()} lines)`);
    console.log(`  run state ${final?.state}; delivered live ${received.toLocaleString()} lines in order: ${ordered}; stored ${storedLines.toLocaleString()}`);
    console.log(`  end to end: ${elapsed.toFixed(2)} s → ${Math.round(received / elapsed).toLocaleString()} lines/s (no regression of 181,000) ${verdict(received / elapsed >= 181_000)}`);
    console.log(`  process memory: RSS ${rssBefore.toFixed(0)} MB before, ${rssMb(pid).toFixed(0)} MB after, peak ${peakRssMb(pid).toFixed(0)} MB`);
    if (latencies.length !== 100 || received !== lines || storedLines !== lines || !ordered) throw new Error('lines were lost, duplicated or reordered');
    return { linesPerSecond: received / elapsed, latencyMedianMs: percentile(latencies, 50), latencyP99Ms: percentile(latencies, 99) };
  } finally {
    await stack.stop();
  }
  // Note: the live client itself runs in this process; its cost is part of the figure.
}
