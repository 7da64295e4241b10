import { fork } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { DataSource, type DataSourceOptions, type MixedList, type EntitySchema } from 'typeorm';
import { isDatabaseUnavailable } from './errors.js';
import { rootLogger } from './logger.js';

/**
 * A request waits at most this long for a connection (the database unreachable or the pool
 * exhausted), then fails as unavailable. The single connection all services share in
 * all-in-one is busier, and its database a local child: it waits longer.
 */
export const DATABASE_CONNECT_TIMEOUT_MS = 5000;
const SHARED_CONNECTION_TIMEOUT_MS = 30_000;
/** A statement whose answer never comes (the server gone without closing the connection) fails after this long. */
export const DATABASE_QUERY_TIMEOUT_MS = 120_000;

// The driver TypeORM loads (by require), without type declarations in this project.
const { Client: PgClient } = createRequire(import.meta.url)('pg') as { Client: new (config?: unknown) => NodeJS.EventEmitter };

/**
 * A pg client that always has an `error` listener. pg-pool listens only while a client is
 * idle: a connection cut while a client is checked out (or still connecting, e.g.
 * 57P03 "the database system is shutting down") emitted an unhandled `error`, which ended
 * the process. The query in flight still fails with the error; the pool drops the client.
 */
class ResilientClient extends PgClient {
  constructor(config?: unknown) {
    super(config);
    this.on('error', (error) => rootLogger().warn({ err: error }, 'database connection lost'));
  }
}

/** What one service brings to the database: its schema, entities and migrations. */
export interface ServiceSchema {
  schema: string;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  entities: MixedList<Function | string | EntitySchema>;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  migrations: Function[];
}

/** One migrations table in both modes; each row names its service's migration. */
export const MIGRATIONS_TABLE = 'scriptorium_migrations';

/**
 * Distributed services kept their history in `<schema>_migrations` until both modes shared
 * one table: an existing installation must not apply its migrations again, so before the run
 * the old table becomes the shared one, or, when that exists already (services sharing a
 * database), gives it its rows and is dropped.
 */
async function adoptOldMigrationsTable(dataSource: DataSource, schema: string): Promise<void> {
  const old = `${schema}_migrations`;
  const exists = async (db: Pick<DataSource, 'query'>, table: string) =>
    ((await db.query('SELECT to_regclass($1) IS NOT NULL AS found', [table])) as { found: boolean }[])[0].found;
  if (!(await exists(dataSource, old))) return;
  await dataSource.transaction(async (tx) => {
    if (!(await exists(tx, MIGRATIONS_TABLE))) {
      await tx.query(`ALTER TABLE "${old}" RENAME TO "${MIGRATIONS_TABLE}"`);
      return;
    }
    await tx.query(`INSERT INTO "${MIGRATIONS_TABLE}" ("timestamp", name) SELECT "timestamp", name FROM "${old}" WHERE name NOT IN (SELECT name FROM "${MIGRATIONS_TABLE}") ORDER BY id`);
    await tx.query(`DROP TABLE "${old}"`);
  });
  rootLogger().info({ from: old, to: MIGRATIONS_TABLE }, 'moved the migrations history to the shared table');
}

/**
 * Opens a DataSource for one or more services and brings their schemas up to date.
 * Distributed mode opens one per service; all-in-one opens one for all services,
 * because the embedded database has a single backend session (pool size 1).
 */
export async function openDatabase(url: string, poolSize: number, services: ServiceSchema[]): Promise<DataSource> {
  const options: DataSourceOptions = {
    type: 'postgres',
    url,
    entities: services.flatMap((s) => s.entities as never[]),
    migrations: services.flatMap((s) => s.migrations),
    migrationsTableName: MIGRATIONS_TABLE,
    synchronize: false,
    logging: false,
    connectTimeoutMS: poolSize > 1 ? DATABASE_CONNECT_TIMEOUT_MS : SHARED_CONNECTION_TIMEOUT_MS,
    // An idle connection cut by a restart is dropped by the pool, which opens new ones when
    // the database is back: nothing to do here but say so.
    poolErrorHandler: (error: unknown) => rootLogger().warn({ err: error }, 'database connection lost (idle)'),
    extra: {
      max: poolSize,
      Client: ResilientClient,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      ...(poolSize > 1 ? { query_timeout: DATABASE_QUERY_TIMEOUT_MS } : {}),
    },
  };
  const dataSource = new DataSource(options);
  await dataSource.initialize();
  // Replicas starting together must not run the same migration twice: hold an advisory
  // lock on a connection of its own. A pool of one (the embedded database) serves a
  // single process, which needs no lock and has no second connection to hold it.
  const lock = poolSize > 1 ? dataSource.createQueryRunner() : undefined;
  try {
    await lock?.query('SELECT pg_advisory_lock(7426001)');
    for (const service of services) {
      await dataSource.query(`CREATE SCHEMA IF NOT EXISTS "${service.schema}"`);
      await adoptOldMigrationsTable(dataSource, service.schema);
    }
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    if (applied.length) rootLogger().info({ migrations: applied.map((m) => m.name) }, 'applied migrations');
  } finally {
    await lock?.query('SELECT pg_advisory_unlock(7426001)').catch(() => undefined);
    await lock?.release();
  }
  return dataSource;
}

export interface EmbeddedPostgres {
  url: string;
  stop(): Promise<void>;
}

/**
 * Starts PGlite on `dataDir` in a child process that serves it over the PostgreSQL
 * wire protocol on a loopback port, so the same `pg` driver code runs against it.
 * A child, not this process: PGlite maps gigabytes of WebAssembly memory, and a
 * process that large is slow to fork every time a script starts.
 */
export async function startEmbeddedPostgres(dataDir: string): Promise<EmbeddedPostgres> {
  mkdirSync(dataDir, { recursive: true });
  const child = fork(fileURLToPath(new URL('./embedded-postgres.process.js', import.meta.url)), [dataDir], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('message', (message: { url?: string; error?: string }) =>
      message.url ? resolve(message.url) : reject(new Error(`embedded PostgreSQL failed to start: ${message.error}`)),
    );
    child.once('exit', (code) => reject(new Error(`embedded PostgreSQL exited with code ${code} while starting`)));
  });
  return {
    url,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.send('stop');
      await exited;
    },
  };
}

export interface DatabaseRetryOptions {
  /** What is being written, for the log. */
  what: string;
  /** Give up (and throw the last error) after this long; 15 min by default. */
  giveUpAfterMs?: number;
  /** Longest wait between attempts. */
  maxDelayMs?: number;
}

/**
 * Runs `work` again, with capped exponential backoff, for as long as it fails because the
 * database cannot be reached (see `isDatabaseUnavailable`), up to `giveUpAfterMs`; any other
 * error is thrown at once. For writes that must not be lost to a database restart, such as
 * a running script's state: `work` must be safe to repeat (a conditional statement), since a
 * statement whose answer was lost with the connection may have committed.
 */
export async function retryWhileDatabaseUnavailable<T>(work: (attempt: number) => Promise<T>, options: DatabaseRetryOptions): Promise<T> {
  const deadline = Date.now() + (options.giveUpAfterMs ?? 15 * 60_000);
  const maxDelay = options.maxDelayMs ?? 2000;
  for (let attempt = 0; ; attempt++) {
    try {
      const result = await work(attempt);
      if (attempt > 0) rootLogger().info({ what: options.what, attempts: attempt + 1 }, 'database back; write stored');
      return result;
    } catch (error) {
      if (!isDatabaseUnavailable(error) || Date.now() >= deadline) throw error;
      if (attempt === 0) rootLogger().warn({ err: error, what: options.what }, 'database unavailable; retrying until it is back');
      await new Promise((resolve) => setTimeout(resolve, Math.min(maxDelay, 100 * 2 ** attempt)));
    }
  }
}
