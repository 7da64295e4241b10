import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Api } from '../harness/api.js';
import { waitFor } from '../harness/net.js';
import { login, startDistributed, type RunningStack } from '../harness/stack.js';
import type { TestPostgres } from '../harness/postgres.js';

const FIXTURES = resolve(import.meta.dirname, '../../../test/fixtures/counting/script_groups');
const COUNTER = 'counting/counter.py';
const FINAL = ['succeeded', 'failed', 'timed_out', 'cancelled', 'lost'];
/** An internal address (IP:port or host:port) must never reach a user. */
const ADDRESS = /\b\d{1,3}(\.\d{1,3}){3}(:\d+)?\b|localhost:\d+|ECONNREFUSED/;

const { Client } = createRequire(import.meta.url)('pg') as {
  Client: new (url: string) => { connect(): Promise<void>; query(sql: string, values?: unknown[]): Promise<{ rows: any[] }>; end(): Promise<void> };
};

/** The texts of a run's lines as stored in logging's table, one per sequence, in order (whatever the reader makes of the rows). */
async function storedLines(databaseUrl: string, executionId: string): Promise<string[]> {
  const client = new Client(databaseUrl);
  await client.connect();
  try {
    const { rows } = await client.query(
      `SELECT DISTINCT ON ((l->>'sequence')::int) l->>'text' AS text
       FROM logging.log_chunks c, jsonb_array_elements(c.lines::jsonb) l
       WHERE c.execution_id = $1 ORDER BY (l->>'sequence')::int`,
      [executionId],
    );
    return rows.map((r) => r.text as string);
  } finally {
    await client.end();
  }
}

interface Submitted {
  id: string;
  lines: number;
}

/**
 * PostgreSQL restarted (fast: connections terminated with 57P01; immediate: as after a
 * crash) while runs are submitted and running, in the distributed stack: no process exits,
 * requests during the outage answer 503 with Retry-After naming the database, every run
 * accepted ends succeeded with its whole log, and everything serves within 10 s of the
 * database's return.
 */
describe('PostgreSQL restarted under load', { concurrency: false }, () => {
  let stack: RunningStack & { postgres: TestPostgres };
  let api: Api;

  before(async () => {
    stack = await startDistributed({ SCRIPT_GROUPS_DIR: FIXTURES, MAX_CONCURRENT_RUNS: '20', MAX_RUNS_PER_USER: '0', MAX_RUNS_PER_SCRIPT: '0', RUN_SUBMISSIONS_PER_MINUTE: '10000' });
    api = new Api(stack.url, await login(stack.url));
  });
  after(async () => {
    await stack?.stop();
  });

  const livingProcesses = () => [...stack.processes].filter(([, child]) => child.exitCode === null && child.signalCode === null).map(([name]) => name);

  const runsOf = new Map<string, Submitted[]>();

  for (const [mode, downMs] of [['fast', 3000], ['immediate', 3000], ['fast', 15_000]] as const) {
    const name = `${mode} ${downMs / 1000} s`;
    test(`${mode} restart, ${downMs / 1000} s down: no exit, 503 + Retry-After during the outage, every run succeeds with its whole log`, async () => {
      const all = [...stack.processes.keys()].sort();
      const submitted: Submitted[] = [];
      const unavailable: { status: number; retryAfter: string | null; message: string }[] = [];
      const failures: string[] = [];

      // Runs active through the whole outage (6 s), and runs that end while the database is away (2 s).
      for (let i = 0; i < 3; i++) {
        const run = await api.run(COUNTER, { lines: 120, interval: 0.05 });
        submitted.push({ id: run.id, lines: 120 });
      }
      for (let i = 0; i < 3; i++) {
        const run = await api.run(COUNTER, { lines: 40, interval: 0.05 });
        submitted.push({ id: run.id, lines: 40 });
      }
      await waitFor(async () => {
        const states = await Promise.all(submitted.map(async (s) => (await api.get(`/api/v1/executions/${s.id}`)).body.state));
        return states.every((state) => state === 'running');
      }, 15_000, 'the long runs to be running');

      // Short runs submitted all along, and reads of the history, answered one way or the other.
      let submitting = true;
      const submitter = (async () => {
        while (submitting) {
          const res = await api.post('/api/v1/executions', { scriptId: COUNTER, parameters: { lines: 30 } });
          const list = await api.get('/api/v1/executions?pageSize=5');
          for (const r of [res, list]) {
            if (r.status === 503) unavailable.push({ status: r.status, retryAfter: r.headers.get('retry-after'), message: String(r.body?.message) });
            else if (r.status >= 500) failures.push(`${r.status} ${JSON.stringify(r.body)}`);
          }
          if (res.status === 202) submitted.push({ id: res.body.id, lines: 30 });
          else if (res.status !== 503) failures.push(`submission answered ${res.status} ${JSON.stringify(res.body)}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      })();

      await new Promise((r) => setTimeout(r, 500));
      const down = Date.now();
      await stack.postgres.restart({ mode, downMs });
      const back = Date.now();
      // Serving again: reads and new runs, within 10 s of the database's return.
      await waitFor(async () => {
        const list = await api.get('/api/v1/executions?pageSize=1');
        if (list.status !== 200) return false;
        const res = await api.post('/api/v1/executions', { scriptId: COUNTER, parameters: { lines: 3 } });
        if (res.status === 202) submitted.push({ id: res.body.id, lines: 3 });
        return res.status === 202;
      }, 10_000, `the stack to serve again after the database returned; output:\n${stack.output().slice(-3000)}`);
      const recoveredMs = Date.now() - back;
      await new Promise((r) => setTimeout(r, 1000));
      submitting = false;
      await submitter;

      assert.deepEqual(livingProcesses().sort(), all, `a process exited; output:\n${stack.output().slice(-4000)}`);
      assert.deepEqual(failures, [], 'no request answered a 5xx other than 503');
      assert.ok(unavailable.length > 0, 'requests during the outage answered 503');
      for (const answer of unavailable) {
        assert.match(answer.retryAfter ?? '', /^\d+$/, 'a 503 says when to retry');
        assert.match(answer.message, /database is unavailable|service is unavailable/, answer.message);
        assert.doesNotMatch(answer.message, ADDRESS, 'no internal address in the message');
      }
      assert.ok(
        unavailable.some((a) => /the execution service's database is unavailable; retry shortly/.test(a.message)),
        `a submission during the outage names the execution database: ${JSON.stringify(unavailable.slice(0, 5))}`,
      );

      // Every accepted run reaches its true end, with every line it printed.
      const ends = await Promise.all(
        submitted.map((s) =>
          waitFor(async () => {
            const run = (await api.get(`/api/v1/executions/${s.id}`)).body;
            return FINAL.includes(run?.state) ? run : undefined;
          }, 60_000, `run ${s.id} to end; output:\n${stack.output().slice(-3000)}`),
        ),
      );
      const states = ends.map((run) => `${run.id}: ${run.state} ${run.stateReason ?? ''}`).filter((line) => !line.includes(': succeeded'));
      assert.deepEqual(states, [], 'every run succeeded');
      const endedDuringOutage = ends.filter((run) => {
        const at = Date.parse(run.finishedAt);
        return at > down && at < back;
      });
      assert.ok(endedDuringOutage.length >= 1, `some runs ended while the database was away (${down}..${back}): ${ends.map((r) => r.finishedAt).join(', ')}`);
      // Every line reached logging's table (retried by the durable bus while logging's database was away).
      for (const s of submitted) {
        const expected = Array.from({ length: s.lines }, (_, i) => `line ${i + 1}`);
        const stored = await waitFor(async () => {
          const texts = await storedLines(stack.postgres.url, s.id);
          return texts.length >= s.lines ? texts : undefined;
        }, 30_000, `every line of ${s.id} to be stored (${(await storedLines(stack.postgres.url, s.id)).length} of ${s.lines})`);
        assert.deepEqual(stored, expected, `stored lines of ${s.id}`);
      }
      runsOf.set(name, submitted);
      console.log(`# ${name}: ${submitted.length} runs (${endedDuringOutage.length} ended during the outage), ${unavailable.length} answers 503, serving again ${recoveredMs} ms after the database returned`);
    });

    // Read back as a user does: complete, every line once and in order (gap-free log rows).
    test(`${name} restart: every run's log reads back complete through GET …/log`, async () => {
      const submitted = runsOf.get(name);
      assert.ok(submitted, 'the restart test ran');
      for (const s of submitted) {
        const log = await waitFor(async () => {
          const res = await api.get(`/api/v1/executions/${s.id}/log?limit=10000`);
          return res.status === 200 && res.body.complete ? res.body : undefined;
        }, 30_000, `the log of ${s.id} to be complete`);
        const texts = (log.lines as { text: string }[]).map((l) => l.text);
        assert.deepEqual(texts, Array.from({ length: s.lines }, (_, i) => `line ${i + 1}`), `log of ${s.id}`);
      }
    });
  }
});
