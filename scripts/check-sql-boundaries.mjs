// Only repositories (*.repository.ts) and migrations run SQL. dependency-cruiser sees
// imports, not calls, so this looks for the calls in the sources of apps/ and libs/.
// Files that ran SQL before the rule are listed in KNOWN and tolerated until their SQL
// moves into a repository; a new file fails, and so does a listed file that no longer
// runs SQL (delete its entry, the list only shrinks).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const SQL = /\.query\(|\bQueryRunner\b|createQueryBuilder/;
const ALLOWED = [
  /\.repository\.ts$/,
  /\/migrations\//,
  /\.spec\.ts$/,
  /\/testing\//, // fixtures for specs and benches
  /^libs\/common\/src\/database\.ts$/, // creates the schemas and runs the migrations
  /^libs\/common\/src\/service-app\.ts$/, // the health check's SELECT 1
];
const KNOWN = new Set([
]);

function sources(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

const runningSql = new Set(
  ['apps', 'libs']
    .flatMap(sources)
    .filter((path) => !ALLOWED.some((pattern) => pattern.test(path)))
    .filter((path) => SQL.test(readFileSync(path, 'utf8'))),
);
const problems = [
  ...[...runningSql].filter((path) => !KNOWN.has(path)).map((path) => `${path} runs SQL outside a repository: move it into a *.repository.ts`),
  ...[...KNOWN].filter((path) => !runningSql.has(path)).map((path) => `${path} no longer runs SQL: remove it from KNOWN in scripts/check-sql-boundaries.mjs`),
];
for (const problem of problems) console.error(`error sql-outside-repository: ${problem}`);
if (problems.length > 0) process.exit(1);
console.log(`✔ SQL only in repositories and migrations (${KNOWN.size} files known to still run SQL)`);
