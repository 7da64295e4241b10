import { runCatalogBench } from './catalog.bench.js';
import { runLogThroughputBench } from './log-throughput.bench.js';
import { runOutboxBench } from './outbox.bench.js';
import { runOverheadBench } from './run-overhead.bench.js';
import { runRunsThroughputBench } from './runs-throughput.bench.js';

// `npm run bench`: every benchmark in one run, so ratios compare like with like on a noisy machine.
const only = process.argv[2];
if (!only || only === 'overhead') await runOverheadBench();
if (!only || only === 'throughput') await runLogThroughputBench();
if (!only || only === 'runs') await runRunsThroughputBench();
if (!only || only === 'kubernetes') await (await import('./kubernetes.bench.js')).runKubernetesBench();
if (!only || only === 'catalog') await runCatalogBench();
if (!only || only === 'outbox') await runOutboxBench();
// The web UI's log viewer in Chromium: only when asked for (`npm run bench ui`).
if (only === 'ui') await (await import('./ui.bench.js')).runUiBench();
// The fault suite's long variants take many minutes and break the stack on purpose: only when asked for.
if (only === 'faults') await (await import('./faults.bench.js')).runFaultsBench();
