import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DataSource } from 'typeorm';
import { Api } from '../harness/api.js';
import { freePort, waitFor } from '../harness/net.js';
import { login, startDistributed } from '../harness/stack.js';

const FIXTURES = resolve(import.meta.dirname, '../../../test/fixtures/counting/script_groups');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The whole product over a real NATS that restarts mid-run: the stored log misses nothing and doubles nothing. */
describe('a broker restart during a run (distributed)', { concurrency: false, timeout: 300_000 }, () => {
  let stack: Awaited<ReturnType<typeof startDistributed>>;
  let api: Api;

  before(async () => {
    // A small outbox bound, so a flood during an outage reaches it.
    stack = await startDistributed({ SCRIPT_GROUPS_DIR: FIXTURES, OUTBOX_MAX_BYTES: String(1024 * 1024) });
    api = new Api(stack.url, await login(stack.url));
  });
  after(async () => {
    await stack?.stop();
  });

  for (const downMs of [1000, 10_000]) {
    test(`NATS down ${downMs / 1000} s while a script prints 300 numbered lines: the log has all 300, once, and is complete`, { timeout: 120_000 }, async () => {
      const interval = downMs > 5000 ? 0.05 : 0.02; // the run outlasts the outage
      const run = await api.run('counting/counter.py', { lines: 300, interval });
      await waitFor(async () => ((await api.get(`/api/v1/executions/${run.id}/log?limit=1000`)).body.lines?.length ?? 0) >= 20, 20_000, 'the run to print');
      await stack.nats.restart({ downMs });
      const ended = await api.finished(run.id, 90_000);
      assert.equal(ended.state, 'succeeded');
      const log = await waitFor(
        async () => {
          const body = (await api.get(`/api/v1/executions/${run.id}/log?limit=1000`)).body;
          return body.complete && body;
        },
        30_000,
        'the log to be complete',
      );
      assert.deepEqual(
        log.lines.map((l: { sequence: number; text: string }) => [l.sequence, l.text]),
        Array.from({ length: 300 }, (_, i) => [i + 1, `line ${i + 1}`]),
      );
      await sleep(200);
    });
  }

  test('a 50,000-line flood through a 5 s outage: the script is paused at the outbox bound, and every line is stored', { timeout: 180_000 }, async () => {
    const run = await api.run('counting/counter.py', { lines: 50_000 });
    await waitFor(async () => ((await api.get(`/api/v1/executions/${run.id}/log?limit=1000`)).body.lines?.length ?? 0) >= 100, 20_000, 'the run to print');
    await stack.nats.restart({ downMs: 5000 });
    const ended = await api.finished(run.id, 120_000);
    assert.equal(ended.state, 'succeeded');
    // What the bus answers for: every line reached the log store. (Reading a log whose rows
    // were written from redelivered batches is the log store's part of issue #9, not checked here.)
    const db = await new DataSource({ type: 'postgres', url: stack.postgres.url, poolSize: 1 }).initialize();
    try {
      const stored = await waitFor(
        async () => {
          const rows: { distinct: number; first: number; last: number }[] = await db.query(
            `SELECT count(DISTINCT s)::int AS distinct, min(s) AS first, max(s) AS last
               FROM (SELECT (l->>'sequence')::int AS s FROM logging.log_chunks c, jsonb_array_elements(c.lines::jsonb) l WHERE c.execution_id = $1) x`,
            [run.id],
          );
          return rows[0]!.distinct >= 50_000 && rows[0];
        },
        60_000,
        'every line to be stored',
      );
      // Rows written from a batch redelivered by JetStream (its ack was lost at the disconnect) may
      // overlap others: the store's reader counts each sequence once.
      assert.deepEqual(stored, { distinct: 50_000, first: 1, last: 50_000 }, 'every line stored');
    } finally {
      await db.destroy();
    }
    const said = stack.output().split('\n').filter((l) => l.includes('outbox full: output of running scripts is paused'));
    assert.ok(said.length >= 1 && said.length <= 2, `the execution service said it was held, once (said ${said.length} times)`);
  });

  test('while the broker is away a service stays up and its /readyz says so, without addresses; ready again once it is back', { timeout: 60_000 }, async () => {
    const port = await freePort();
    await stack.kill('catalog', 'SIGTERM');
    await stack.restart('catalog', { HTTP_PORT: String(port) });
    const readyz = async () => {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
      return res && { status: res.status, text: await res.text() };
    };
    await waitFor(async () => (await readyz())?.status === 200, 30_000, 'catalog to be ready');
    const restarting = stack.nats.restart({ downMs: 3000 });
    const down = await waitFor(async () => {
      const answer = await readyz();
      return answer?.status === 503 ? answer : undefined;
    }, 5000, 'readiness to report the broker');
    const bus = (JSON.parse(down.text) as { checks: { name: string; ok: boolean; error?: string }[] }).checks.find((c) => c.name === 'bus');
    assert.match(bus?.error ?? '', /^message broker unreachable, \d+ events waiting$/);
    assert.doesNotMatch(down.text, /127\.0\.0\.1|nats:\/\//);
    await restarting;
    await waitFor(async () => (await readyz())?.status === 200, 10_000, 'catalog to be ready again');
  });

  test('a service given an OUTBOX_DIR that a live process owns refuses to start, naming that process', { timeout: 60_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'outbox-taken-'));
    try {
      writeFileSync(join(dir, 'owner.pid'), String(process.pid)); // this test runner: alive
      const child = spawn(process.execPath, ['dist/apps/logging/src/main.js'], {
        env: {
          PATH: process.env.PATH,
          DATABASE_URL: stack.postgres.url,
          NATS_URL: stack.nats.url,
          GRPC_LISTEN: `127.0.0.1:${await freePort()}`,
          HTTP_PORT: '0',
          AUTH_GRPC_URL: '127.0.0.1:1',
          OUTBOX_DIR: dir,
          LOG_LEVEL: 'warn',
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr!.on('data', (chunk) => (stderr += chunk));
      const code = await new Promise((r) => child.once('exit', r));
      assert.equal(code, 78);
      assert.match(stderr, new RegExp(`the outbox directory ${dir} is in use by process ${process.pid}; give each process an OUTBOX_DIR of its own`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
