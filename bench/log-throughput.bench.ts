import { readFileSync } from 'node:fs';
import { Api } from '../test/harness/api.js';
import { login, startAllInOneProcess } from '../test/harness/stack.js';
import { BENCH_GROUPS, PYTHON } from './run-overhead.bench.js';

function peakRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

/** A script printing `lines` lines: stored and delivered to a live client, none lost. */
export async function runLogThroughputBench(lines = 200_000) {
  const stack = await startAllInOneProcess({ SCRIPT_GROUPS_DIR: BENCH_GROUPS, LOG_LEVEL: 'warn' });
  try {
    const api = new Api(stack.url, await login(stack.url));
    const pid = stack.processes.get('all-in-one')!.pid!;
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
    console.log(`\nLog throughput (all-in-one, interpreter ${PYTHON}, ${lines.toLocaleString()} lines)`);
    console.log(`  run state ${final?.state}; delivered live ${received.toLocaleString()} lines in order: ${ordered}; stored ${storedLines.toLocaleString()}`);
    console.log(`  end to end: ${elapsed.toFixed(2)} s → ${Math.round(received / elapsed).toLocaleString()} lines/s (target ≥ 100,000)`);
    console.log(`  process memory: RSS ${rssBefore.toFixed(0)} MB before, ${rssMb(pid).toFixed(0)} MB after, peak ${peakRssMb(pid).toFixed(0)} MB`);
    if (received !== lines || storedLines !== lines || !ordered) throw new Error('lines were lost, duplicated or reordered');
    return { linesPerSecond: received / elapsed };
  } finally {
    await stack.stop();
  }
  // Note: the live client itself runs in this process; its cost is part of the figure.
}
