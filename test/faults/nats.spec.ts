import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { natsOutage, startRig, summary, verdict, type Rig } from './scenarios.js';

/** NATS restarted mid-run: output, registrations and state survive the outage, nothing doubled. */
describe('fault suite: NATS restarts', { concurrency: false }, () => {
  let rig: Rig;
  before(async () => {
    rig = await startRig();
  });
  after(async () => {
    await rig?.stop();
  });

  test('NATS down 1 s while two runs print and one floods 50,000 lines', async (t) => {
    const result = await natsOutage(rig, 1000, { flood: 50_000 });
    for (const line of summary(result)) t.diagnostic(line);
    assert.deepEqual(result.problems, [], verdict(result));
  });

  test('NATS down 10 s while two runs print and one floods 20,000 lines', async (t) => {
    const result = await natsOutage(rig, 10_000, { flood: 20_000 });
    for (const line of summary(result)) t.diagnostic(line);
    assert.deepEqual(result.problems, [], verdict(result));
  });
});
