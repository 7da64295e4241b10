import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Caller } from '#common/auth.js';
import type { EventBus } from '#common/bus.js';
import type { ExecutionRecord } from './execution.entity.js';
import { RunsService } from './runs.service.js';

/** A bus that loses every notification, as a broker restart does. */
const deafBus = { subscribe: () => () => undefined } as unknown as EventBus;

describe('watching a run', () => {
  it('ends once the run has ended even when its last run.updated was lost', { timeout: 10_000 }, async () => {
    const caller: Caller = { userId: 'u1', username: 'u1', level: 'operator', language: 'en', theme: 'light', authorization: '' };
    let run = { id: randomUUID(), userId: 'u1', state: 'running', version: 1 } as ExecutionRecord;
    const runs = { find: async () => run };
    const service = new RunsService(runs as never, {} as never, {} as never, {} as never, {} as never, deafBus, {} as never, {} as never, {} as never);

    const seen: string[] = [];
    const ended = new Promise<void>((resolve, reject) =>
      service.watch(caller, run.id).subscribe({ next: (r) => seen.push(r.state), complete: resolve, error: reject }),
    );
    await new Promise((r) => setTimeout(r, 100));
    run = { ...run, state: 'succeeded', version: 2 };
    await ended;
    assert.deepEqual(seen, ['running', 'succeeded']);
  });
});
