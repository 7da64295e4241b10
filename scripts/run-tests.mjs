// Runs the compiled *.spec.js files with Node's test runner.
// Usage: node scripts/run-tests.mjs [unit|integration|all] [filter]
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const [kind = 'all', filter = ''] = process.argv.slice(2);
const roots = { unit: ['dist/apps', 'dist/libs'], integration: ['dist/test'], all: ['dist/apps', 'dist/libs', 'dist/test'] }[kind];
if (!roots) throw new Error(`unknown test kind "${kind}": use unit, integration or all`);

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
    return path.endsWith('.spec.js') && path.includes(filter) ? [path] : [];
  });
}

const files = roots.flatMap(find).sort();
if (files.length === 0) {
  console.error(`no test files found under ${roots.join(', ')}${filter ? ` matching "${filter}"` : ''}`);
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--enable-source-maps', '--test', '--test-concurrency=1', ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
