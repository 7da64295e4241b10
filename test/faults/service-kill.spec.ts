import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { killService, SERVICES, startRig, summary, verdict, type Rig } from './scenarios.js';

/** kill -9 of each service mid-run, then a restart: no line lost or doubled, no run stuck, all serving within 10 s. */
describe('fault suite: kill -9 each service mid-run', { concurrency: false }, () => {
  let rig: Rig;
  before(async () => {
    rig = await startRig();
  });
  after(async () => {
    await rig?.stop();
  });

  for (const service of SERVICES) {
    test(`kill -9 ${service} while two runs print and one floods 20,000 lines, then restart it`, async (t) => {
      const result = await killService(rig, service, { flood: 20_000 });
      for (const line of summary(result)) t.diagnostic(line);
      assert.deepEqual(result.problems, [], verdict(result));
    });
  }
});
