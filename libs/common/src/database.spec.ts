import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { DataSource, MigrationInterface, QueryRunner } from 'typeorm';
import { startPostgres } from '../../../test/harness/postgres.js';
import { MIGRATIONS_TABLE, openDatabase, retryWhileDatabaseUnavailable, type ServiceSchema } from './database.js';

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

describe('openDatabase: one migrations table in both modes', () => {
  /** A service whose one migration fails if it runs twice (CREATE TABLE without IF NOT EXISTS). */
  const service = (schema: string, ...more: ServiceSchema['migrations']): ServiceSchema => {
    class CreateThings implements MigrationInterface {
      name = `Create${schema}1700000000000`;
      async up(q: QueryRunner) {
        await q.query(`CREATE TABLE "${schema}".things (id int)`);
      }
      async down() {}
    }
    return { schema, entities: [], migrations: [CreateThings, ...more] };
  };
  /** What distributed mode left before: `<schema>_migrations` in TypeORM's layout, its migration applied. */
  async function legacy(db: DataSource, schema: string) {
    await db.query(`CREATE SCHEMA "${schema}"`);
    await db.query(`CREATE TABLE "${schema}".things (id int)`);
    await db.query(`CREATE TABLE "${schema}_migrations" (id SERIAL PRIMARY KEY, "timestamp" bigint NOT NULL, name varchar NOT NULL)`);
    await db.query(`INSERT INTO "${schema}_migrations" ("timestamp", name) VALUES (1700000000000, 'Create${schema}1700000000000')`);
  }

  test("an existing installation's history moves to the shared table: nothing runs twice, new migrations run once", async (t) => {
    const pg = await startPostgres();
    t.after(() => pg.stop());
    const setup = await openDatabase(pg.url, 2, []);
    await legacy(setup, 'alpha');
    await legacy(setup, 'beta');
    await setup.destroy();

    // Distributed, two services sharing the database: alpha's table becomes the shared one, then beta's rows join it.
    for (const schema of ['alpha', 'beta']) await (await openDatabase(pg.url, 4, [service(schema)])).destroy();
    class AddColumn1700000000001 implements MigrationInterface {
      name = 'AddColumn1700000000001';
      async up(q: QueryRunner) {
        await q.query('ALTER TABLE alpha.things ADD COLUMN label text');
      }
      async down() {}
    }
    // All-in-one (one DataSource, pool of one) reads the same table.
    const db = await openDatabase(pg.url, 1, [service('alpha', AddColumn1700000000001), service('beta')]);
    const tables = await db.query(`SELECT tablename FROM pg_tables WHERE tablename LIKE '%migrations' ORDER BY 1`);
    assert.deepEqual(tables.map((r: { tablename: string }) => r.tablename), [MIGRATIONS_TABLE]);
    const rows = await db.query(`SELECT name FROM ${MIGRATIONS_TABLE} ORDER BY id`);
    assert.deepEqual(rows.map((r: { name: string }) => r.name), ['Createalpha1700000000000', 'Createbeta1700000000000', 'AddColumn1700000000001']);
    await db.destroy();
  });
});
