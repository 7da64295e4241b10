import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { authApp } from '../../auth/src/auth.app.js';
import { BootstrapAdminService } from '../../auth/src/users/bootstrap-admin.service.js';
import { backupApp } from '../../backup/src/backup.app.js';
import { catalogApp } from '../../catalog/src/catalog.app.js';
import { executionApp } from '../../execution/src/execution.app.js';
import { GatewayConfig } from '../../gateway/src/gateway.config.js';
import { startGateway } from '../../gateway/src/gateway.app.js';
import { loggingApp } from '../../logging/src/logging.app.js';
import { InProcessEventBus, NatsEventBus, type EventBus } from '#common/bus.js';
import { loadConfig, type ServiceConfig } from '#common/config.js';
import { openDatabase, startEmbeddedPostgres, type EmbeddedPostgres } from '#common/database.js';
import { startServiceApp, type ServiceApp } from '#common/service-app.js';
import type { ServiceName } from '#contracts/grpc-packages.js';
import { ensurePortFree, lockDataDir, type DataDirLock } from './start-up-checks.js';

export interface AllInOne {
  url: string;
  /** How to log in, for the start-up banner (a generated password appears here once). */
  adminLogin: string;
  apps: Map<ServiceName | 'gateway', INestApplication>;
  /** Stops everything in order (once; later calls wait for the same stop). */
  stop(): Promise<void>;
  /** For an exit without a stop: removes the socket folder and the lock (the embedded database ends when this process does). */
  abandon(): void;
}

// Each app has its own config class; the launcher handles them as their common base.
const SERVICES = [authApp, catalogApp, loggingApp, executionApp, backupApp] as unknown as ServiceApp<ServiceConfig>[];

/** In-flight HTTP requests get this long to finish at shutdown before their connections are closed. */
const HTTP_DRAIN_MS = 1000;

/**
 * Every service and the gateway in one process: one database connection shared by
 * all (embedded PGlite unless DATABASE_URL is set), the in-process bus (unless
 * NATS_URL is set), and gRPC between them over private unix sockets.
 *
 * Start-up checks what can be checked before anything is created (configuration, the
 * port, the data directory's lock); a later failure undoes what was started.
 */
export async function startAllInOne(env: Record<string, string | undefined> = process.env): Promise<AllInOne> {
  const dataDir = resolve(env.SCRIPTORIUM_DATA_DIR ?? '.data');
  // Chosen now, created after the checks: the configuration names the sockets.
  const socketDir = join(tmpdir(), `scriptorium-${randomBytes(6).toString('hex')}`);
  const grpc = Object.fromEntries(SERVICES.map((s) => [s.name, `unix:${join(socketDir, `${s.name}.sock`)}`])) as Record<ServiceName, string>;
  const wiring = {
    NATS_URL: env.NATS_URL ?? 'inproc://',
    HTTP_PORT: '0',
    DATABASE_POOL_SIZE: '1',
    AUTH_GRPC_URL: grpc.auth,
    CATALOG_GRPC_URL: grpc.catalog,
    EXECUTION_GRPC_URL: grpc.execution,
    LOGGING_GRPC_URL: grpc.logging,
    BACKUP_GRPC_URL: grpc.backup,
    DATA_DIR: dataDir,
    BACKUP_DIR: env.BACKUP_DIR ?? join(dataDir, 'backups'),
    // The services share one process: a token per start lets the backup service reach their schema transfer.
    SCHEMA_TRANSFER_TOKEN: env.SCHEMA_TRANSFER_TOKEN ?? randomBytes(24).toString('hex'),
    INITIAL_ADMIN_PASSWORD_FILE: passwordFile(dataDir),
  };
  // Until the embedded database is up its URL is unknown: validated with a placeholder.
  const configs = (databaseUrl: string) => ({
    services: SERVICES.map((service) => ({
      service,
      config: loadConfig(service.configClass, { ...env, ...wiring, DATABASE_URL: databaseUrl, GRPC_LISTEN: grpc[service.name] }, service.required),
    })),
    gateway: loadConfig(GatewayConfig, { ...env, ...wiring, DATABASE_URL: databaseUrl, HTTP_PORT: env.PORT ?? '8080', HTTP_HOST: env.HOST ?? '0.0.0.0' }),
  });
  const checked = configs(env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  await ensurePortFree(checked.gateway.HTTP_PORT, checked.gateway.HTTP_HOST);

  const undo: (() => Promise<void> | void)[] = [];
  const unwind = async () => {
    for (const step of undo.splice(0).reverse()) await Promise.resolve().then(step).catch(() => undefined);
  };
  const apps = new Map<ServiceName | 'gateway', INestApplication>();
  let lock: DataDirLock | undefined;
  try {
    mkdirSync(dataDir, { recursive: true });
    lock = lockDataDir(dataDir);
    undo.push(() => lock!.release());
    mkdirSync(socketDir, { mode: 0o700 });
    undo.push(() => rmSync(socketDir, { recursive: true, force: true }));

    let embedded: EmbeddedPostgres | undefined;
    if (!env.DATABASE_URL) {
      embedded = await startEmbeddedPostgres(join(dataDir, 'db'));
      undo.push(() => embedded!.stop());
    }
    const databaseUrl = env.DATABASE_URL ?? embedded!.url;
    const bus: EventBus = env.NATS_URL ? await NatsEventBus.connect(env.NATS_URL, 'all-in-one', { outboxDir: join(dataDir, 'outbox') }) : new InProcessEventBus();
    const dataSource = await openDatabase(databaseUrl, 1, SERVICES.map((s) => s.schema)).catch(async (error: unknown) => {
      await bus.close();
      throw error;
    });
    undo.push(async () => {
      if (dataSource.isInitialized) await dataSource.destroy();
    });
    undo.push(() => bus.close());
    // Services in order; stopped in reverse, so execution (ending its runs) stops before logging stores the last lines.
    undo.push(async () => {
      for (const [name, app] of [...apps].reverse()) {
        if (name === 'gateway') await closeGateway(app);
        else await app.close().catch(() => undefined);
      }
    });
    const { services, gateway: gatewayConfig } = configs(databaseUrl);
    for (const { service, config } of services) apps.set(service.name, await startServiceApp(service, { config, dataSource, bus }));
    apps.set('gateway', await startGateway(gatewayConfig));
  } catch (error) {
    await unwind();
    throw error;
  }
  const port = (apps.get('gateway')!.getHttpServer().address() as { port: number }).port;

  const admin = apps.get('auth')!.get(BootstrapAdminService);
  const generated = admin.takeGeneratedPassword();
  const file = passwordFile(dataDir);
  const adminLogin = generated
    ? `user "${generated.username}", password "${generated.password}" (generated; kept in ${generated.file ?? file}, readable only by you: delete that file once you changed the password)`
    : admin.result?.created
      ? `user "${admin.result.username}" with the password from BOOTSTRAP_ADMIN_PASSWORD`
      : `user "${admin.result?.username ?? 'admin'}" with the password chosen at first start${existsSync(file) ? ` (in ${file})` : ''}`;

  let stopping: Promise<void> | undefined;
  return {
    url: `http://localhost:${port}`,
    adminLogin,
    apps,
    // HTTP first, then the services, the bus, the database connection, the embedded database, the folders and the lock.
    stop: () => (stopping ??= unwind()),
    abandon() {
      rmSync(socketDir, { recursive: true, force: true });
      lock?.release();
    },
  };
}

/** Where a generated first admin password is kept. */
export function passwordFile(dataDir: string): string {
  return join(dataDir, 'initial-admin-password');
}

/** Stops accepting connections, lets requests in flight finish briefly, then closes every connection (keep-alive ones at once). */
async function closeGateway(app: INestApplication) {
  const server = app.getHttpServer() as Server;
  const closed = new Promise((resolve) => server.close(resolve));
  server.closeIdleConnections();
  const force = setTimeout(() => server.closeAllConnections(), HTTP_DRAIN_MS);
  await app.close().catch(() => undefined); // its hooks end the live (WebSocket) connections
  await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 2 * HTTP_DRAIN_MS))]);
  clearTimeout(force);
}
