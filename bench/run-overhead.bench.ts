import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { Api, FINAL_STATES } from '../test/harness/api.js';
import { login, startAllInOneProcess, startDistributed, type RunningStack } from '../test/harness/stack.js';

/** Named explicitly: the `python3` on PATH may be a slow shim (pyenv). */
export const PYTHON = '/usr/bin/python3';
export const BENCH_GROUPS = resolve(import.meta.dirname, '../../bench/scripts');

export function percentile(values: number[], p: number) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** `median X ms, p99 Y ms` of a list of times. */
export function figure(values: number[], unit = 'ms', digits = 1) {
  return `median ${percentile(values, 50).toFixed(digits)} ${unit}, p99 ${percentile(values, 99).toFixed(digits)} ${unit}`;
}

export const verdict = (met: boolean) => (met ? 'MET' : 'NOT MET');

/** Time from spawning the script directly to its first stdout line, and to its exit. */
function direct(script: string): Promise<{ firstLine: number; exit: number }> {
  return new Promise((resolveTime, reject) => {
    const start = performance.now();
    let firstLine = 0;
    const child = spawn(PYTHON, [script], { stdio: ['ignore', 'pipe', 'ignore'] });
    child.stdout.once('data', () => (firstLine = performance.now() - start));
    child.once('close', () => resolveTime({ firstLine, exit: performance.now() - start }));
    child.once('error', reject);
  });
}

/**
 * Settings passed from the bench's own environment to the stack, to compare within one machine's state:
 * SCRIPTORIUM_TRACE (a file for the step trace of a build with trace points), LOCAL_WARM_SANDBOXES, MAX_CONCURRENT_RUNS.
 */
export const traceEnv = (): Record<string, string> =>
  Object.fromEntries(['SCRIPTORIUM_TRACE', 'LOCAL_WARM_SANDBOXES', 'MAX_CONCURRENT_RUNS'].filter((name) => process.env[name]).map((name) => [name, process.env[name]!]));

const ended = (execution: any) => FINAL_STATES.includes(execution?.state);

/** Submit → final state seen by GET (polled back to back: each GET takes about a millisecond). */
async function untilFinalOverGet(api: Api, scriptId: string) {
  const start = performance.now();
  const execution = await api.run(scriptId);
  for (;;) {
    const run = (await api.get(`/api/v1/executions/${execution.id}`)).body;
    if (ended(run)) return { ms: performance.now() - start, run };
    if (performance.now() - start > 10_000) throw new Error(`run ${execution.id} did not end`);
  }
}

/** Submit → first line and final state seen on the run's live stream (WebSocket). */
async function overStream(api: Api, scriptId: string) {
  const start = performance.now();
  const execution = await api.run(scriptId);
  let firstLine = 0;
  let final = 0;
  await new Promise<void>((resolveDone, reject) => {
    const { ws, done } = api.stream(execution.id, {
      onLine: () => {
        firstLine ||= performance.now() - start;
        if (final) ws.close();
      },
      onExecution: (run) => {
        if (!ended(run) || final) return;
        final = performance.now() - start;
        if (firstLine) ws.close();
      },
    });
    done.then(() => (final && firstLine ? resolveDone() : reject(new Error('stream ended without a line or the final state'))), reject);
    setTimeout(() => ws.close(), 10_000);
  });
  return { firstLine, final };
}

interface OverheadFigures {
  mode: string;
  bareExit: number[];
  bareFirstLine: number[];
  getFinal: number[];
  streamFirstLine: number[];
  streamFinal: number[];
  /** Server-side steps of the GET-polled runs, from the run's own timestamps: submit → created, created → started, started → finished. */
  steps: { created: number[]; started: number[]; finished: number[] };
}

async function measure(stack: RunningStack, mode: string, runs: number): Promise<OverheadFigures> {
  const api = new Api(stack.url, await login(stack.url));
  const script = join(BENCH_GROUPS, 'bench/hello.py');
  const f: OverheadFigures = { mode, bareExit: [], bareFirstLine: [], getFinal: [], streamFirstLine: [], streamFinal: [], steps: { created: [], started: [], finished: [] } };
  for (let i = 0; i < runs + 5; i++) {
    // Interleaved, so a busy moment of the machine costs every figure alike.
    const bare = await direct(script);
    const submitAt = Date.now();
    const get = await untilFinalOverGet(api, 'bench/hello.py');
    const stream = await overStream(api, 'bench/hello.py');
    if (i < 5) continue; // the first runs warm caches and JIT
    f.bareExit.push(bare.exit);
    f.bareFirstLine.push(bare.firstLine);
    f.getFinal.push(get.ms);
    f.streamFirstLine.push(stream.firstLine);
    f.streamFinal.push(stream.final);
    const created = Date.parse(get.run.createdAt);
    const started = Date.parse(get.run.startedAt);
    const finished = Date.parse(get.run.finishedAt);
    f.steps.created.push(created - submitAt);
    f.steps.started.push(started - created);
    f.steps.finished.push(finished - started);
  }
  return f;
}

function report(f: OverheadFigures, runs: number, targetOverGetMs: number) {
  const over = (values: number[]) => values.map((t, i) => t - f.bareExit[i]);
  const getOver = over(f.getFinal);
  const met = percentile(getOver, 50) <= targetOverGetMs;
  console.log(`\nRun overhead (${f.mode}, sandbox on where bwrap is installed, interpreter ${PYTHON}, ${runs} runs of each)`);
  console.log(`  bare interpreter, spawn → exit:         ${figure(f.bareExit)}  (→ first line ${figure(f.bareFirstLine)})`);
  console.log(`  submit → final state over GET:          ${figure(f.getFinal)}`);
  console.log(`    over the bare interpreter:            ${figure(getOver)}  (target: median ≤ ${targetOverGetMs} ms) ${verdict(met)}`);
  console.log(`  submit → first line on the WebSocket:   ${figure(f.streamFirstLine)}  (over bare first line: ${figure(f.streamFirstLine.map((t, i) => t - f.bareFirstLine[i]))})`);
  console.log(`  submit → final state on the WebSocket:  ${figure(f.streamFinal)}  (over bare: ${figure(over(f.streamFinal))})`);
  console.log(`  server steps (run timestamps, 1 ms clock): submit → stored ${figure(f.steps.created, 'ms', 0)}; stored → started ${figure(f.steps.started, 'ms', 0)}; started → finished ${figure(f.steps.finished, 'ms', 0)}`);
  return { medianOverGetMs: percentile(getOver, 50), p99OverGetMs: percentile(getOver, 99), met };
}

/** A trivial run end to end: submit → first line and → final state (GET and live stream), against the bare interpreter. */
export async function runOverheadBench(runs = 50, modes: ('all-in-one' | 'distributed')[] = ['all-in-one', 'distributed']) {
  const results: Record<string, ReturnType<typeof report>> = {};
  if (modes.includes('all-in-one')) {
    const stack = await startAllInOneProcess({ SCRIPT_GROUPS_DIR: BENCH_GROUPS, LOG_LEVEL: 'warn', ...traceEnv() });
    try {
      results['all-in-one'] = report(await measure(stack, 'all-in-one', runs), runs, 10);
    } finally {
      await stack.stop();
    }
  }
  if (modes.includes('distributed')) {
    const stack = await startDistributed({ SCRIPT_GROUPS_DIR: BENCH_GROUPS, LOG_LEVEL: 'warn', ...traceEnv() });
    try {
      results.distributed = report(await measure(stack, 'distributed: PostgreSQL, NATS, six processes', runs), runs, 20);
    } finally {
      await stack.stop();
    }
  }
  return results;
}
