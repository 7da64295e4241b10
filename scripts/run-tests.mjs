// Runs the compiled *.spec.js files with Node's test runner, and the web UI's component tests
// (apps/web/src/**/*.test.ts) with vitest.
// Usage: node scripts/run-tests.mjs [unit|integration|web|image|all] [filter]
// `image` (the app image built from the Docker context, ~2 min) is not in `all`: .ci/run runs it
// after `npm test`, which keeps `npm test` within its time budget.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const [kind = 'all', filter = ''] = process.argv.slice(2);
const roots = { unit: ['dist/apps', 'dist/libs'], integration: ['dist/test'], web: [], image: ['dist/test/image'], all: ['dist/apps', 'dist/libs', 'dist/test'] }[kind];
if (!roots) throw new Error(`unknown test kind "${kind}": use unit, integration, web, image or all`);

/** vitest in jsdom-like happy-dom, from the web app's own Vite config. */
function runWebTests() {
  const vitest = join('node_modules', 'vitest', 'vitest.mjs');
  return spawnSync(process.execPath, [vitest, 'run', '--config', 'apps/web/vite.config.ts', ...(filter ? [filter] : [])], { stdio: 'inherit' }).status ?? 1;
}
if (kind === 'web') process.exit(runWebTests());

function find(dir) {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  return entries.flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return find(path);
    const inKind = kind === 'image' || !path.startsWith(join('dist', 'test', 'image'));
    return path.endsWith('.spec.js') && path.includes(filter) && inKind ? [path] : [];
  });
}

const files = roots.flatMap(find).sort();
if (files.length === 0) {
  console.error(`no test files found under ${roots.join(', ')}${filter ? ` matching "${filter}"` : ''}`);
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--enable-source-maps', '--test', '--test-concurrency=1', ...files], { stdio: 'inherit' });
const webStatus = kind === 'all' && !filter ? runWebTests() : 0;
process.exit((result.status ?? 1) || webStatus);
