import { mkdtempSync, rmSync } from 'node:fs';
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

export interface AllInOne {
  url: string;
  /** How to log in, for the start-up banner (a generated password appears here once). */
  adminLogin: string;
  apps: Map<ServiceName | 'gateway', INestApplication>;
  stop(): Promise<void>;
}

const SERVICES = [authApp, catalogApp, loggingApp, executionApp, backupApp] as ServiceApp<ServiceConfig>[];

/**
 * Every service and the gateway in one process: one database connection shared by
 * all (embedded PGlite unless DATABASE_URL is set), the in-process bus (unless
 * NATS_URL is set), and gRPC between them over private unix sockets.
 */
export async function startAllInOne(env: Record<string, string | undefined> = process.env): Promise<AllInOne> {
  const dataDir = resolve(env.SCRIPTORIUM_DATA_DIR ?? '.data');
  const socketDir = mkdtempSync(join(tmpdir(), 'scriptorium-'));
  const grpc = Object.fromEntries(SERVICES.map((s) => [s.name, `unix:${join(socketDir, `${s.name}.sock`)}`])) as Record<ServiceName, string>;

  let embedded: EmbeddedPostgres | undefined;
  if (!env.DATABASE_URL) embedded = await startEmbeddedPostgres(join(dataDir, 'db'));
  const databaseUrl = env.DATABASE_URL ?? embedded!.url;
  const bus: EventBus = env.NATS_URL ? await NatsEventBus.connect(env.NATS_URL, 'all-in-one', { outboxDir: join(dataDir, 'outbox') }) : new InProcessEventBus();
  const dataSource = await openDatabase(databaseUrl, 1, SERVICES.map((s) => s.schema));

  const wiring = {
    DATABASE_URL: databaseUrl,
    NATS_URL: env.NATS_URL ?? 'inproc://',
    HTTP_PORT: '0',
    DATABASE_POOL_SIZE: '1',
    AUTH_GRPC_URL: grpc.auth,
    CATALOG_GRPC_URL: grpc.catalog,
    EXECUTION_GRPC_URL: grpc.execution,
    LOGGING_GRPC_URL: grpc.logging,
    BACKUP_GRPC_URL: grpc.backup,
    DATA_DIR: dataDir,
    BACKUP_SOURCE_DIR: join(dataDir, 'projects'),
    BACKUP_DIR: join(dataDir, 'backups'),
  };
  const apps = new Map<ServiceName | 'gateway', INestApplication>();
  for (const service of SERVICES) {
    const config = loadConfig(service.configClass, { ...env, ...wiring, GRPC_LISTEN: grpc[service.name] }, service.required);
    apps.set(service.name, await startServiceApp(service, { config, dataSource, bus }));
  }
  const gatewayConfig = loadConfig(GatewayConfig, { ...env, ...wiring, HTTP_PORT: env.PORT ?? '8080', HTTP_HOST: env.HOST ?? '0.0.0.0' });
  const gateway = await startGateway(gatewayConfig);
  apps.set('gateway', gateway);
  const port = (gateway.getHttpServer().address() as { port: number }).port;

  const admin = apps.get('auth')!.get(BootstrapAdminService);
  const generated = admin.takeGeneratedPassword();
  const adminLogin = generated
    ? `user "${generated.username}", password "${generated.password}" (generated; shown only this once, change it after logging in)`
    : admin.result?.created
      ? `user "${admin.result.username}" with the password from BOOTSTRAP_ADMIN_PASSWORD`
      : `user "${admin.result?.username ?? 'admin'}" with the password chosen at first start`;

  return {
    url: `http://localhost:${port}`,
    adminLogin,
    apps,
    async stop() {
      for (const app of [...apps.values()].reverse()) await app.close().catch(() => undefined);
      await bus.close();
      if (dataSource.isInitialized) await dataSource.destroy();
      await embedded?.stop();
      rmSync(socketDir, { recursive: true, force: true });
    },
  };
}
