import { runLogThroughputBench } from './log-throughput.bench.js';
import { runOverheadBench } from './run-overhead.bench.js';

// `npm run bench`: every benchmark in one run, so ratios compare like with like on a noisy machine.
const only = process.argv[2];
if (!only || only === 'overhead') await runOverheadBench();
if (!only || only === 'throughput') await runLogThroughputBench();
if (!only || only === 'catalog') {
  const catalog = await import('./catalog.bench.js').catch(() => undefined);
  if (catalog && typeof catalog.runCatalogBench === 'function') await catalog.runCatalogBench();
}
