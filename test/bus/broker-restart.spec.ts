import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Api } from '../harness/api.js';
import { waitFor } from '../harness/net.js';
import { login, startDistributed } from '../harness/stack.js';

const FIXTURES = resolve(import.meta.dirname, '../../../test/bus/fixtures/script_groups');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The whole product over a real NATS that restarts mid-run: the stored log misses nothing and doubles nothing. */
describe('a broker restart during a run (distributed)', { concurrency: false, timeout: 300_000 }, () => {
  let stack: Awaited<ReturnType<typeof startDistributed>>;
  let api: Api;

  before(async () => {
    stack = await startDistributed({ SCRIPT_GROUPS_DIR: FIXTURES });
    api = new Api(stack.url, await login(stack.url));
  });
  after(async () => {
    await stack?.stop();
  });

  for (const downMs of [1000, 10_000]) {
    test(`NATS down ${downMs / 1000} s while a script prints 300 numbered lines: the log has all 300, once, and is complete`, { timeout: 120_000 }, async () => {
      const delay = downMs > 5000 ? 0.05 : 0.02; // the run outlasts the outage
      const run = await api.run('bus/numbered.py', { count: 300, delay });
      await waitFor(async () => ((await api.get(`/api/v1/executions/${run.id}/log?limit=1000`)).body.lines?.length ?? 0) >= 20, 20_000, 'the run to print');
      await stack.nats.restart({ downMs });
      const ended = await waitFor(
        async () => {
          const execution = (await api.get(`/api/v1/executions/${run.id}`)).body;
          return ['succeeded', 'failed', 'timed_out', 'cancelled', 'lost'].includes(execution.state) && execution;
        },
        90_000,
        'the run to end',
      );
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
});
