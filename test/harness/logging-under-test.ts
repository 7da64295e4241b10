import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { INestApplication } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { InProcessEventBus } from '#common/bus.js';
import { loadConfig } from '#common/config.js';
import { openDatabase } from '#common/database.js';
import { PROTO_ROOT } from '#common/paths.js';
import { startServiceApp } from '#common/service-app.js';
import type { OutputLine, RunSnapshot } from '#contracts/events.js';
import type { LogChunk } from '#contracts/generated/scriptorium/logging/v1/logging.js';
import type { Level } from '#contracts/levels.js';
import { Subjects } from '#contracts/subjects.js';
import { accessToken, GRPC_LOADER, startVerificationKeys } from './catalog-under-test.js';
import { freePort } from './net.js';
import { startPostgres, type TestPostgres } from './postgres.js';
import { loggingApp } from '../../apps/logging/src/logging.app.js';
import { LoggingConfig } from '../../apps/logging/src/logging.config.js';

/**
 * The logging service for tests: the real app (Nest, gRPC, TypeORM, migrations) on a
 * throw-away PostgreSQL, fed through an in-process bus the test publishes on (so it
 * decides the order and the redeliveries), called over gRPC on loopback.
 */

type Client = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

export interface LoggingUnderTest {
  pg: TestPostgres;
  db: DataSource;
  bus: InProcessEventBus;
  userId: string;
  /** Publishes an output batch of `userId`'s run, as execution does (or as JetStream redelivers it). */
  output(executionId: string, lines: OutputLine[], final?: { finalSequence?: number; lost?: boolean }): void;
  getLog(executionId: string, afterSequence?: number, limit?: number): Promise<LogChunk>;
  /** A TailLog call: every message it sent, until it ends or `cancelAfterMs` passed (then cancelled). */
  tail(executionId: string, options: { afterSequence?: number; follow: boolean; cancelAfterMs?: number; onMessage?: (m: LogChunk) => void }): Promise<LogChunk[]>;
  /** A unary call of any LoggingService method, as `userId` (operator) unless `as` names another caller. */
  call<T>(method: string, request: object, as?: { userId: string; level: string }): Promise<T>;
  /** A server-streaming call: every message until it ends. */
  collect<T>(method: string, request: object, as?: { userId: string; level: string }): Promise<T[]>;
  /** A server-streaming call, to read as it comes. */
  open(method: string, request: object, as?: { userId: string; level: string }): grpc.ClientReadableStream<any>;
  /** Publishes a run event (run.created, or run.updated for a later state) of `userId`'s run unless the run names another owner. */
  run(subject: 'created' | 'updated', run: Partial<RunSnapshot> & { executionId: string }, occurredAt?: string): void;
  /** The stream's row, as stored. */
  stream(executionId: string): Promise<{ stored_through: number; final_sequence: number | null; complete: boolean } | undefined>;
  close(): Promise<void>;
}

export function lines(from: number, to: number, text = (n: number) => `line ${n}`): OutputLine[] {
  const timestamp = new Date().toISOString();
  return Array.from({ length: to - from + 1 }, (_, i) => ({ sequence: from + i, stream: 'stdout' as const, text: text(from + i), timestamp }));
}

/** Starts logging on `pg` (a new server when absent, stopped by close), called as `userId` (a new one when absent). */
export async function startLoggingUnderTest(options: { pg?: TestPostgres; userId?: string; env?: Record<string, string> } = {}): Promise<LoggingUnderTest> {
  const given = options.pg;
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pg = given ?? (await startPostgres());
  const auth = await startVerificationKeys(publicKey, 'test-key');
  const grpcPort = await freePort();
  const config = loadConfig(
    LoggingConfig,
    { DATABASE_URL: pg.url, NATS_URL: 'inproc://', GRPC_LISTEN: `127.0.0.1:${grpcPort}`, HTTP_PORT: '0', DATABASE_POOL_SIZE: '4', AUTH_GRPC_URL: `127.0.0.1:${auth.port}`, ...options.env },
    loggingApp.required,
  );
  let db: DataSource | undefined;
  let nest: INestApplication | undefined;
  const stopAll = async () => {
    await nest?.close();
    if (db?.isInitialized) await db.destroy();
    auth.server.forceShutdown();
    if (!given) await pg.stop();
  };
  try {
    db = await openDatabase(config.DATABASE_URL, 4, [loggingApp.schema]);
    const bus = new InProcessEventBus();
    nest = await startServiceApp(loggingApp, { config, dataSource: db, bus });
    const proto = grpc.loadPackageDefinition(protoLoader.loadSync(join(PROTO_ROOT, 'scriptorium/logging/v1/logging.proto'), GRPC_LOADER)) as any;
    const client: Client = new proto.scriptorium.logging.v1.LoggingService(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure());
    const userId = options.userId ?? randomUUID();
    const tokenOf = (subject: string, level: string) => accessToken(privateKey, 'test-key', { username: subject === userId ? 'runner' : `user-${subject.slice(0, 8)}`, level: level as Level, lang: 'en', subject, expiresIn: 300 });
    const token = tokenOf(userId, 'operator');
    const metadata = (as?: { userId: string; level: string }) => {
      const m = new grpc.Metadata();
      m.set('authorization', `Bearer ${as ? tokenOf(as.userId, as.level) : token}`);
      return m;
    };
    const database = db;
    return {
      pg,
      db: database,
      bus,
      userId,
      output(executionId, batch, final) {
        bus.publish(Subjects.outputProduced, { executionId, userId, lines: batch, final: final !== undefined, ...final });
      },
      call(method, request, as) {
        return new Promise((resolve, reject) => client[method](request, metadata(as), (e: Error | null, r: any) => (e ? reject(e) : resolve(r))));
      },
      collect(method, request, as) {
        return new Promise((resolve, reject) => {
          const messages: any[] = [];
          const call = client[method](request, metadata(as)) as grpc.ClientReadableStream<unknown>;
          call.on('data', (m) => messages.push(m));
          call.on('error', reject);
          call.on('end', () => resolve(messages));
        });
      },
      open(method, request, as) {
        return client[method](request, metadata(as)) as grpc.ClientReadableStream<unknown>;
      },
      run(subject, run, occurredAt = new Date().toISOString()) {
        const snapshot: RunSnapshot = { scriptId: 'tests/script.py', userId, state: 'queued', stateReason: '', progress: 0, progressMessage: '', exitCode: null, version: 1, ...run };
        bus.publish(subject === 'created' ? Subjects.runCreated : Subjects.runUpdated, { run: snapshot, occurredAt } as never);
      },
      getLog(executionId, afterSequence = 0, limit = 0) {
        return new Promise((resolve, reject) =>
          client.getLog({ executionId, afterSequence, limit }, metadata(), (e: Error | null, r: LogChunk) => (e ? reject(e) : resolve(r))),
        );
      },
      tail(executionId, { afterSequence = 0, follow, cancelAfterMs, onMessage }) {
        return new Promise((resolve, reject) => {
          const messages: LogChunk[] = [];
          const call = client.tailLog({ executionId, afterSequence, follow }, metadata()) as grpc.ClientReadableStream<LogChunk>;
          const timer = cancelAfterMs === undefined ? undefined : setTimeout(() => call.cancel(), cancelAfterMs);
          call.on('data', (m: LogChunk) => {
            messages.push(m);
            onMessage?.(m);
          });
          call.on('error', (e: grpc.ServiceError) => {
            clearTimeout(timer);
            if (e.code === grpc.status.CANCELLED) resolve(messages);
            else reject(e);
          });
          call.on('end', () => {
            clearTimeout(timer);
            resolve(messages);
          });
        });
      },
      async stream(executionId) {
        const [row] = await database.query('SELECT stored_through, final_sequence, complete FROM logging.log_streams WHERE execution_id = $1', [executionId]);
        return row;
      },
      async close() {
        client.close();
        await stopAll();
      },
    };
  } catch (error) {
    await stopAll().catch(() => undefined);
    throw error;
  }
}

/** Waits until `check` holds, polling; fails after `ms`. */
export async function until(check: () => Promise<boolean> | boolean, ms = 10_000, what = 'the condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
