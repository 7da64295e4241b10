import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { DataSource } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver.js';
import { openDatabase } from '#common/database.js';
import { isDatabaseUnavailable } from '#common/errors.js';
import { startPostgres, type TestPostgres } from '../harness/postgres.js';

/**
 * The pool of `openDatabase` over a real PostgreSQL that goes away: a connection cut while
 * checked out does not end the process (pg-pool leaves such a client without an `error`
 * listener), a query while the server is down fails fast as unavailable, and the pool serves
 * again by itself once the server is back.
 */
describe('database pool through an outage', { concurrency: false }, () => {
  let postgres: TestPostgres;
  let db: DataSource;

  before(async () => {
    postgres = await startPostgres();
    db = await openDatabase(postgres.url, 4, [{ schema: 'pooltest', entities: [], migrations: [] }]);
  });
  after(async () => {
    await db?.destroy().catch(() => undefined);
    await postgres?.stop();
  });

  test('a checked-out connection terminated by the server: an error for its user, not an unhandled error event', async () => {
    const driver = db.driver as PostgresDriver;
    const [client, release] = (await driver.obtainMasterConnection()) as [{ query(sql: string): Promise<{ rows: { pid: number }[] }>; once(event: string, listener: () => void): void }, (e?: Error) => void];
    const { rows } = await client.query('SELECT pg_backend_pid() AS pid');
    // No listener of this test's own: an `error` event nobody handles would end the test process.
    const closed = new Promise<void>((resolve) => client.once('end', () => resolve()));
    // Idle and checked out: the server's 57P01 arrives with no query to fail.
    await db.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
    await closed;
    const error = await client.query('SELECT 1').then(
      () => assert.fail('a terminated connection answered'),
      (e: unknown) => e,
    );
    assert.equal(isDatabaseUnavailable(error), true, String(error));
    release(error as Error);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(await db.query('SELECT 1 AS one'), [{ one: 1 }], 'the pool serves on other connections');
  });

  test('while the server is down a query fails fast as unavailable; afterwards the pool serves again by itself', async () => {
    await postgres.shutdown('fast');
    try {
      const started = Date.now();
      const error = await db.query('SELECT 1').then(
        () => assert.fail('a query succeeded with the server down'),
        (e: unknown) => e,
      );
      assert.equal(isDatabaseUnavailable(error), true, String(error));
      assert.ok(Date.now() - started < 6000, `failed after ${Date.now() - started} ms`);
    } finally {
      await postgres.start();
    }
    // A connection the restart cut that the pool had not noticed yet can fail one query, as unavailable.
    const started = Date.now();
    for (;;) {
      try {
        assert.deepEqual(await db.query('SELECT 1 AS one'), [{ one: 1 }]);
        break;
      } catch (error) {
        assert.equal(isDatabaseUnavailable(error), true, String(error));
        assert.ok(Date.now() - started < 2000, `not serving ${Date.now() - started} ms after the server's return: ${String(error)}`);
      }
    }
  });
});
