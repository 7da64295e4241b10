import 'reflect-metadata';
import { Global, Module, type DynamicModule, type INestApplication } from '@nestjs/common';
import { ApplicationConfig, NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { ServiceName } from '#contracts/grpc-packages.js';
import { EventBus, NatsEventBus } from './bus.js';
import { ConfigError, loadConfig, type ServiceConfig } from './config.js';
import { openDatabase, type ServiceSchema } from './database.js';
import { grpcRequestContext, grpcServerOptions } from './grpc.js';
import { GrpcExceptionFilter } from './grpc-errors.js';
import { HealthModule, ReadinessProblem } from './health.js';
import { OutboxLockedError } from './outbox.js';
import { JsonLogger, rootLogger } from './logger.js';

/** What the process gives a service: its config, its database and the bus. */
export interface ServiceDeps<C extends ServiceConfig = ServiceConfig> {
  config: C;
  dataSource: DataSource;
  bus: EventBus;
}

/** Everything needed to start one service, in its own process or inside all-in-one. */
export interface ServiceApp<C extends ServiceConfig> {
  name: ServiceName;
  configClass: new () => C;
  /** Variables optional in the class but required by this app. */
  required: (keyof C & string)[];
  schema: ServiceSchema;
  module(deps: ServiceDeps<C>): DynamicModule;
}

/**
 * The process opens and closes the database (in all-in-one several apps share one
 * DataSource), so the view handed to Nest ignores its close-on-shutdown.
 */
function ownedByProcess(dataSource: DataSource): DataSource {
  return new Proxy(dataSource, {
    get: (target, property) => (property === 'destroy' ? async () => undefined : Reflect.get(target, property, target)),
  });
}

/** Database, bus and health endpoints, shared by every service module. */
@Global()
@Module({})
export class ServiceCoreModule {
  static forRoot(deps: ServiceDeps): DynamicModule {
    return {
      module: ServiceCoreModule,
      imports: [
        TypeOrmModule.forRootAsync({
          useFactory: () => deps.dataSource.options,
          dataSourceFactory: async () => ownedByProcess(deps.dataSource),
        }),
        HealthModule.forChecks({
          useFactory: () => [
            { name: 'database', check: async () => void (await deps.dataSource.query('SELECT 1')) },
            {
              name: 'bus',
              label: 'message broker',
              check: async () => {
                // Says how many events wait, or that output is held: no address in it.
                const problem = deps.bus.problem();
                if (problem) throw new ReadinessProblem(problem);
              },
            },
          ],
          inject: [],
        }),
      ],
      providers: [
        { provide: EventBus, useValue: deps.bus },
        { provide: 'SERVICE_CONFIG', useValue: deps.config },
      ],
      exports: [EventBus, 'SERVICE_CONFIG'],
    };
  }
}

/** Creates the Nest app of a service, serves its gRPC API, and its health endpoints when HTTP_PORT > 0. */
export async function startServiceApp<C extends ServiceConfig>(app: ServiceApp<C>, deps: ServiceDeps<C>): Promise<INestApplication> {
  const nest = await NestFactory.create(app.module(deps), { logger: new JsonLogger(app.name), abortOnError: false });
  nest.useGlobalFilters(new GrpcExceptionFilter(app.name));
  // The microservice shares this config (inheritAppConfig) and reads its hooks when it
  // connects, so the hook goes in first; INestApplication has no method for it.
  nest.get(ApplicationConfig).registerPreRequestHook(grpcRequestContext);
  nest.connectMicroservice(grpcServerOptions(app.name, deps.config.GRPC_LISTEN), { inheritAppConfig: true });
  // Start-up hooks (migrations done, key store, initial scans) run before the API opens.
  await nest.init();
  await nest.startAllMicroservices();
  if (deps.config.HTTP_PORT > 0) await nest.listen(deps.config.HTTP_PORT, '0.0.0.0');
  rootLogger().info({ service: app.name, grpc: deps.config.GRPC_LISTEN, http: deps.config.HTTP_PORT || undefined }, 'service started');
  return nest;
}

/** Prints a configuration error plainly (no stack) and exits, as an operator wants to read it. */
export function exitOnConfigError(error: unknown): never {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(78);
  }
  throw error;
}

/** The `main` of a service in distributed mode: config from the environment, PostgreSQL, NATS. */
export async function runServiceProcess<C extends ServiceConfig>(app: ServiceApp<C>): Promise<INestApplication> {
  let config: C;
  try {
    config = loadConfig(app.configClass, process.env, app.required);
  } catch (error) {
    exitOnConfigError(error);
  }
  const dataSource = await openDatabase(config.DATABASE_URL, config.DATABASE_POOL_SIZE, [app.schema]);
  const bus = await NatsEventBus.connect(config.NATS_URL, app.name, { outboxDir: config.OUTBOX_DIR, outboxMaxBytes: config.OUTBOX_MAX_BYTES }).catch((error: Error) => {
    if (!(error instanceof OutboxLockedError)) throw error;
    process.stderr.write(`${error.message}; give each process an OUTBOX_DIR of its own (or leave it unset)\n`);
    process.exit(78);
  });
  const nest = await startServiceApp(app, { config, dataSource, bus });
  const stop = async () => {
    await nest.close();
    await bus.close();
    if (dataSource.isInitialized) await dataSource.destroy();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  return nest;
}
