import { generateKeyPairSync } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as grpc from '@grpc/grpc-js';
import type { INestApplication } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { InProcessEventBus } from '#common/bus.js';
import { openDatabase, startEmbeddedPostgres } from '#common/database.js';
import { startServiceApp } from '#common/service-app.js';
import type { Level } from '#contracts/levels.js';
import type { ListScriptsResponse, Script } from '#contracts/generated/scriptorium/catalog/v1/catalog.js';
import { catalogApp } from '../apps/catalog/src/catalog.app.js';
import { DiscoveryService } from '../apps/catalog/src/discovery/discovery.service.js';
import { accessToken, catalogClient, catalogConfig, startVerificationKeys, stopCatalog, unary, type CatalogClient } from '../test/harness/catalog-under-test.js';
import { freePort } from '../test/harness/net.js';
import { startPostgres } from '../test/harness/postgres.js';

/**
 * Catalog at scale: 10,000 scripts in 500 generated groups, served by the real
 * catalog service (Nest, gRPC, TypeORM) on a real PostgreSQL (initdb + pg_ctl;
 * BENCH_PG=embedded uses PGlite instead). Measures full discovery, a changed
 * file reaching a gRPC reader, and listing/search latency over gRPC.
 */

const GROUPS = Number(process.env.BENCH_GROUPS ?? 500);
const PER_GROUP = Number(process.env.BENCH_PER_GROUP ?? 20);
const LEVELS: Level[] = ['viewer', 'operator', 'developer', 'admin'];
const WORDS = ['backup', 'report', 'etl', 'sync', 'export', 'import', 'audit', 'clean', 'deploy', 'monitor', 'index', 'archive', 'notify', 'scan', 'resize'];
function header(g: number, s: number, note = ''): string {
  const w1 = WORDS[(g + s) % WORDS.length];
  const w2 = WORDS[(g * 7 + s * 3) % WORDS.length];
  return `"""
ScriptsManager Metadata:
@description: ${w1} ${w2} task ${g}-${s}${note}
@description_es: tarea ${w1} ${g}-${s}
@required_level: ${LEVELS[(g + s) % 3]}
@category: ${w1}
@tags: ${w1},${w2},g${g % 50}
@execution_timeout: 300
@parameters: [
  {"name": "target", "type": "string", "required": true, "description": "Where"},
  {"name": "count", "type": "integer", "min": 1, "max": 100, "default": 5},
  {"name": "mode", "type": "select", "options": ["fast", "safe"], "default": "safe"}
]
"""
import sys
print("${w1}", sys.argv[1:])
`;
}

async function generate(root: string) {
  for (let g = 0; g < GROUPS; g++) {
    const dir = join(root, `group_${String(g).padStart(3, '0')}`);
    await mkdir(join(dir, 'docs'), { recursive: true });
    await writeFile(join(dir, 'metadata.json'), JSON.stringify({ name: { en: `Group ${g}`, es: `Grupo ${g}` }, description: `Generated group ${g}`, required_level: 'viewer' }));
    const writes: Promise<void>[] = [];
    for (let s = 0; s < PER_GROUP; s++) {
      writes.push(writeFile(join(dir, `task_${s}.py`), header(g, s)));
      if (s % 4 === 0) writes.push(writeFile(join(dir, 'docs', `task_${s}.md`), `# Task ${s}\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n\`\`\`python\nprint(1)\n\`\`\`\n`));
    }
    await Promise.all(writes);
  }
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const fmt = (ms: number) => `${ms.toFixed(1)} ms`;

export async function runCatalogBench() {
  const root = await mkdtemp(join(tmpdir(), 'catalog-bench-'));
  const groupsDir = join(root, 'script_groups');
  const embedded = process.env.BENCH_PG === 'embedded';
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = 'bench-key';
  const tokens = new Map<Level, string>();
  const token = (level: Level) => {
    if (!tokens.has(level)) {
      tokens.set(level, accessToken(privateKey, kid, { username: level, level, lang: 'en', subject: `bench-${level}`, expiresIn: 3600 }));
    }
    return tokens.get(level)!;
  };

  let pg: { url: string; stop(): Promise<void> } | undefined;
  let dataSource: DataSource | undefined;
  let nest: INestApplication | undefined;
  let authServer: grpc.Server | undefined;
  let client: CatalogClient | undefined;
  try {
    const genStart = performance.now();
    await generate(groupsDir);
    const genMs = performance.now() - genStart;

    const auth = await startVerificationKeys(publicKey, kid);
    authServer = auth.server;

    pg = embedded ? await startEmbeddedPostgres(join(root, 'pg')) : await startPostgres();
    const grpcPort = await freePort();
    const config = catalogConfig({
      databaseUrl: pg.url,
      grpcPort,
      authPort: auth.port,
      groupsDir,
      poolSize: embedded ? 1 : 4,
      extra: { LOG_LEVEL: 'warn' },
    });
    dataSource = await openDatabase(config.DATABASE_URL, embedded ? 1 : 4, [catalogApp.schema]);
    const startStart = performance.now();
    nest = await startServiceApp(catalogApp, { config, dataSource, bus: new InProcessEventBus() });
    const startMs = performance.now() - startStart;
    const discovery = nest.get(DiscoveryService);

    // Cold full discovery: empty tables, every row written.
    await dataSource.query('TRUNCATE catalog.scripts, catalog.groups');
    const coldStart = performance.now();
    await discovery.rescan('bench-full');
    const coldMs = performance.now() - coldStart;
    const [{ count }] = await dataSource.query('SELECT count(*)::int AS count FROM catalog.scripts');
    // Warm full rescan: nothing changed, nothing written (the periodic safety net).
    const warmStart = performance.now();
    await discovery.rescan('bench-full');
    const warmMs = performance.now() - warmStart;

    const grpcClient = catalogClient(grpcPort, { 'grpc.max_receive_message_length': 256 * 1024 * 1024 });
    client = grpcClient;
    const call = <T>(method: string, request: object, level: Level = 'admin'): Promise<T> => unary<T>(grpcClient, method, request, token(level));
    await call('listGroups', {});

    // A single changed file, from the write to a gRPC reader seeing it (watcher debounce included).
    const changeTimes: number[] = [];
    for (let i = 0; i < 5; i++) {
      const g = 17 + i * 61;
      const id = `group_${String(g).padStart(3, '0')}/task_3.py`;
      const marker = ` changed-${i}`;
      const t0 = performance.now();
      await writeFile(join(groupsDir, id), header(g, 3, marker));
      for (;;) {
        const script = await call<Script>('getScript', { scriptId: id });
        if (script.description.endsWith(marker)) break;
        if (performance.now() - t0 > 10_000) throw new Error(`change of ${id} not seen within 10 s`);
        await new Promise((r) => setTimeout(r, 10));
      }
      changeTimes.push(performance.now() - t0);
    }

    // Latencies over gRPC (loopback), after a warm-up.
    const measure = async (label: string, n: number, request: () => object, level: Level = 'admin', method = 'listScripts') => {
      for (let i = 0; i < 20; i++) await call(method, request(), level);
      const times: number[] = [];
      let last: ListScriptsResponse | undefined;
      for (let i = 0; i < n; i++) {
        const t = performance.now();
        last = await call<ListScriptsResponse>(method, request(), level);
        times.push(performance.now() - t);
      }
      return { label, p50: percentile(times, 50), p99: percentile(times, 99), returned: last?.scripts?.length, total: last?.total };
    };
    let k = 0;
    const results = [
      await measure('list one group (20 scripts)', 300, () => ({ groupId: `group_${String(k++ % GROUPS).padStart(3, '0')}` })),
      await measure('list all, first page of 50 (operator)', 300, () => ({ limit: 50 }), 'operator'),
      await measure('text search "audit", page of 50', 300, () => ({ query: 'audit', limit: 50 })),
      await measure('text search, rare term (1 hit)', 300, () => ({ query: `task ${k++ % GROUPS}-7`, limit: 50 })),
      await measure('tag search all [etl, g7]', 300, () => ({ tags: ['etl', 'g7'], tagMatch: 'all', limit: 50 })),
      await measure('tag search any [etl, audit]', 300, () => ({ tags: ['etl', 'audit'], tagMatch: 'any', limit: 50 })),
      await measure('list groups (500)', 300, () => ({}), 'admin', 'listGroups'),
      await measure('list all 10,000 unpaged (admin)', 20, () => ({})),
    ];

    console.log(`\nCatalog at scale (${GROUPS} groups × ${PER_GROUP} = ${GROUPS * PER_GROUP} scripts; ${embedded ? 'embedded PGlite' : 'PostgreSQL (initdb/pg_ctl)'})`);
    console.log(`  generated the tree in ${fmt(genMs)}; service start-up incl. first full scan ${fmt(startMs)}`);
    console.log(`  full discovery into empty tables: ${fmt(coldMs)} (${count} scripts stored; target < 3000 ms) ${coldMs < 3000 ? 'OK' : 'MISSED'}`);
    console.log(`  full rescan, nothing changed: ${fmt(warmMs)}`);
    console.log(`  one changed file → visible over gRPC: ${changeTimes.map((t) => t.toFixed(0)).join(', ')} ms; max ${fmt(Math.max(...changeTimes))} (target < 1000 ms) ${Math.max(...changeTimes) < 1000 ? 'OK' : 'MISSED'}`);
    for (const r of results) {
      const ok = r.p99 < 20 ? 'OK' : r.label.includes('unpaged') ? '(no target: whole catalog in one message)' : 'MISSED';
      console.log(`  ${r.label.padEnd(40)} p50 ${fmt(r.p50).padStart(9)}  p99 ${fmt(r.p99).padStart(9)}  (${r.returned ?? '-'} returned${r.total ? ` of ${r.total}` : ''}; target p99 < 20 ms) ${ok}`);
    }
    return { coldMs, warmMs, changeTimes, results };
  } finally {
    await stopCatalog({ root, client, nest, dataSource, pg, authServer });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runCatalogBench();
  process.exit(0);
}
