import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { retryWhileDatabaseUnavailable } from './database.js';

const shuttingDown = () => Object.assign(new Error('the database system is shutting down'), { code: '57P03' });

describe('retryWhileDatabaseUnavailable', () => {
  test('repeats the write while the database is unavailable, then returns its result', async () => {
    let calls = 0;
    const result = await retryWhileDatabaseUnavailable(
      async () => {
        calls++;
        if (calls < 4) throw shuttingDown();
        return 'stored';
      },
      { what: 'test write', maxDelayMs: 10 },
    );
    assert.equal(result, 'stored');
    assert.equal(calls, 4);
  });

  test("a statement's own error is thrown at once", async () => {
    let calls = 0;
    const duplicate = Object.assign(new Error('duplicate key value violates unique constraint'), { code: '23505' });
    await assert.rejects(
      retryWhileDatabaseUnavailable(
        async () => {
          calls++;
          throw duplicate;
        },
        { what: 'test write' },
      ),
      duplicate,
    );
    assert.equal(calls, 1);
  });

  test('gives up after giveUpAfterMs with the last error', async () => {
    const started = Date.now();
    await assert.rejects(
      retryWhileDatabaseUnavailable(async () => Promise.reject(shuttingDown()), { what: 'test write', giveUpAfterMs: 300, maxDelayMs: 50 }),
      /shutting down/,
    );
    assert.ok(Date.now() - started < 1000);
  });
});
