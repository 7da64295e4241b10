import type { DataSource, QueryRunner } from 'typeorm';
import { MIGRATIONS_TABLE } from '../database.js';

/** A line of an export: the header, a table (with its columns), a row (PostgreSQL's own JSON of it) or a sequence's value. */
export type TransferLine =
  | { kind: 'table'; name: string; columns: string[] }
  | { kind: 'row'; json: string }
  | { kind: 'sequence'; name: string; value: string | null };

/** Rows per INSERT and per FETCH; a batch is also cut at this many bytes of JSON. */
const BATCH_ROWS = 500;
const BATCH_BYTES = 8 * 1024 * 1024;

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;

/**
 * The SQL of one service's schema export and import. Rows travel as `row_to_json` text and go
 * back through `json_populate_recordset`, so PostgreSQL converts every type itself (jsonb,
 * bytea, timestamps with their microseconds, arrays) on the embedded database and on a server alike.
 */
export class SchemaTransferRepository {
  constructor(
    private readonly dataSource: DataSource,
    private readonly schema: string,
  ) {}

  /** Which of `names` (this service's migrations) the database has applied, oldest first. */
  async appliedMigrations(names: string[]): Promise<string[]> {
    const rows = (await this.dataSource.query(`SELECT name FROM "${MIGRATIONS_TABLE}" WHERE name = ANY($1) ORDER BY "timestamp", id`, [names])) as { name: string }[];
    return rows.map((r) => r.name);
  }

  private async tables(runner: QueryRunner, excluded: string[]): Promise<{ name: string; columns: string[] }[]> {
    const rows = (await runner.query(
      `SELECT c.table_name AS name, array_agg(c.column_name::text ORDER BY c.ordinal_position) AS columns
         FROM information_schema.columns c
         JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE'
        WHERE c.table_schema = $1 AND c.is_generated = 'NEVER'
        GROUP BY c.table_name ORDER BY c.table_name`,
      [this.schema],
    )) as { name: string; columns: string[] }[];
    return rows.filter((t) => !excluded.includes(t.name));
  }

  /**
   * Every row of the schema from one snapshot (a repeatable-read, read-only transaction), read
   * through a cursor so a large table is never in memory. Stopping the iteration ends the transaction.
   */
  async *export(excluded: string[]): AsyncGenerator<TransferLine> {
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction('REPEATABLE READ');
      await runner.query('SET TRANSACTION READ ONLY');
      for (const table of await this.tables(runner, excluded)) {
        yield { kind: 'table', name: table.name, columns: table.columns };
        await runner.query(`DECLARE transfer_rows NO SCROLL CURSOR FOR SELECT row_to_json(t)::text AS r FROM ${ident(this.schema)}.${ident(table.name)} t`);
        for (;;) {
          const batch = (await runner.query(`FETCH ${BATCH_ROWS} FROM transfer_rows`)) as { r: string }[];
          for (const row of batch) yield { kind: 'row', json: row.r };
          if (batch.length < BATCH_ROWS) break;
        }
        await runner.query('CLOSE transfer_rows');
      }
      const sequences = (await runner.query('SELECT sequencename AS name, last_value::text AS value FROM pg_sequences WHERE schemaname = $1 ORDER BY sequencename', [this.schema])) as {
        name: string;
        value: string | null;
      }[];
      for (const sequence of sequences) yield { kind: 'sequence', name: sequence.name, value: sequence.value };
      await runner.commitTransaction();
    } finally {
      if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
      await runner.release();
    }
  }

  /**
   * Replaces every row of the schema (but the `excluded` tables) with `lines`, in one
   * transaction: foreign keys are dropped while the rows go in and added back (so checked) at
   * the end, sequences continue after the imported values. Any failure leaves the schema as it was.
   */
  async import(lines: AsyncIterable<TransferLine>, excluded: string[]): Promise<Record<string, number>> {
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    const written: Record<string, number> = {};
    try {
      await runner.startTransaction();
      const existing = new Map((await this.tables(runner, excluded)).map((t) => [t.name, t.columns]));
      const foreignKeys = (await runner.query(
        `SELECT c.conrelid::regclass::text AS "table", c.conname AS name, pg_get_constraintdef(c.oid) AS definition
           FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
          WHERE n.nspname = $1 AND c.contype = 'f'`,
        [this.schema],
      )) as { table: string; name: string; definition: string }[];
      for (const fk of foreignKeys) await runner.query(`ALTER TABLE ${fk.table} DROP CONSTRAINT ${ident(fk.name)}`);
      if (existing.size) await runner.query(`TRUNCATE ${[...existing.keys()].map((t) => `${ident(this.schema)}.${ident(t)}`).join(', ')}`);

      let table: { name: string; columns: string[] } | undefined;
      let batch: string[] = [];
      let batchBytes = 0;
      const flush = async () => {
        if (!table || batch.length === 0) return;
        const target = `${ident(this.schema)}.${ident(table.name)}`;
        const columns = table.columns.map(ident).join(', ');
        await runner.query(`INSERT INTO ${target} (${columns}) OVERRIDING SYSTEM VALUE SELECT ${columns} FROM json_populate_recordset(NULL::${target}, $1::json)`, [
          `[${batch.join(',')}]`,
        ]);
        written[table.name] = (written[table.name] ?? 0) + batch.length;
        batch = [];
        batchBytes = 0;
      };
      for await (const line of lines) {
        if (line.kind === 'table') {
          await flush();
          if (excluded.includes(line.name)) {
            table = undefined;
            continue;
          }
          const columns = existing.get(line.name);
          if (!columns) throw new Error(`the export has a table ${this.schema}.${line.name} that this installation does not have`);
          const missing = line.columns.filter((c) => !columns.includes(c));
          if (missing.length) throw new Error(`${this.schema}.${line.name} has no column ${missing.join(', ')} here`);
          table = { name: line.name, columns: line.columns };
        } else if (line.kind === 'row') {
          if (!table) continue;
          batch.push(line.json);
          batchBytes += line.json.length;
          if (batch.length >= BATCH_ROWS || batchBytes >= BATCH_BYTES) await flush();
        } else {
          await flush();
          table = undefined;
          const name = `${ident(this.schema)}.${ident(line.name)}`;
          // A sequence never used (no last value) starts over; else it continues after the exported value.
          if (line.value === null) await runner.query('SELECT setval($1::regclass, 1, false)', [name]);
          else await runner.query('SELECT setval($1::regclass, $2::bigint, true)', [name, line.value]);
        }
      }
      await flush();
      for (const fk of foreignKeys) await runner.query(`ALTER TABLE ${fk.table} ADD CONSTRAINT ${ident(fk.name)} ${fk.definition}`);
      await runner.commitTransaction();
      return written;
    } finally {
      if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
      await runner.release();
    }
  }
}
