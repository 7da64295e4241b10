import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { gatewayUnderViewers, startRig, summary, verdict, type Rig } from './scenarios.js';

/** The gateway killed under live viewers: they reconnect, resume by sequence, and see every line once. */
describe('fault suite: gateway killed under live viewers', { concurrency: false }, () => {
  let rig: Rig;
  before(async () => {
    rig = await startRig();
  });
  after(async () => {
    await rig?.stop();
  });

  test('kill -9 gateway (1 s down) under two WebSocket and one SSE viewer per run, one run flooding 20,000 lines', async (t) => {
    const result = await gatewayUnderViewers(rig, 1000, { flood: 20_000 });
    for (const line of summary(result)) t.diagnostic(line);
    assert.deepEqual(result.problems, [], verdict(result));
  });
});
