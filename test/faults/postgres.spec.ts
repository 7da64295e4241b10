import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { postgresRestart, startRig, summary, verdict, type Rig } from './scenarios.js';

/** PostgreSQL restarted while runs print and new ones are submitted: no process exits, every run accounted for. */
describe('fault suite: PostgreSQL restarts', { concurrency: false }, () => {
  let rig: Rig;
  before(async () => {
    rig = await startRig();
  });
  after(async () => {
    await rig?.stop();
  });

  for (const mode of ['fast', 'immediate'] as const) {
    test(`PostgreSQL ${mode} restart (2 s down) while a run prints, one floods 20,000 lines and short runs are submitted every 200 ms`, async (t) => {
      const result = await postgresRestart(rig, mode, 2000, { flood: 20_000 });
      for (const line of summary(result)) t.diagnostic(line);
      assert.deepEqual(result.problems, [], verdict(result));
    });
  }
});
