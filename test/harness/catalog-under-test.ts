import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { INestApplication } from '@nestjs/common';
import jwt from 'jsonwebtoken';
import type { DataSource } from 'typeorm';
import { TOKEN_ALGORITHM, TOKEN_AUDIENCE, TOKEN_ISSUER } from '#common/auth.js';
import { InProcessEventBus } from '#common/bus.js';
import { loadConfig } from '#common/config.js';
import { openDatabase, startEmbeddedPostgres, type EmbeddedPostgres } from '#common/database.js';
import { PROJECT_ROOT, PROTO_ROOT } from '#common/paths.js';
import { startServiceApp } from '#common/service-app.js';
import type { Level } from '#contracts/levels.js';
import { catalogApp } from '../../apps/catalog/src/catalog.app.js';
import { CatalogConfig } from '../../apps/catalog/src/catalog.config.js';
import { freePort } from './net.js';

/**
 * The catalog service for tests and benches: the real app (Nest, gRPC, TypeORM) on
 * PostgreSQL, a stand-in for the auth service's verification keys, and a gRPC client
 * calling it with signed access tokens.
 */

export const GRPC_LOADER = { keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true, arrays: true, includeDirs: [PROTO_ROOT] };

type Unary = (request: object, metadata: grpc.Metadata, callback: (error: grpc.ServiceError | null, response: unknown) => void) => void;
export type CatalogClient = grpc.Client & Record<string, Unary>;

export interface AccessClaims {
  username: string;
  level: Level;
  lang: string;
  subject: string;
  expiresIn: number;
}

/** An access token the catalog accepts once it has `kid`'s public key. */
export function accessToken(privateKey: KeyObject, kid: string, claims: AccessClaims): string {
  const { username, level, lang, subject, expiresIn } = claims;
  return jwt.sign({ username, level, lang, theme: 'light', typ: 'access' }, privateKey.export({ type: 'pkcs8', format: 'pem' }), {
    algorithm: TOKEN_ALGORITHM,
    keyid: kid,
    issuer: TOKEN_ISSUER,
    audience: TOKEN_AUDIENCE,
    subject,
    expiresIn,
  });
}

/** The auth service's one call the catalog makes: its verification keys (here `publicKey` under `kid`), on a loopback port. */
export async function startVerificationKeys(publicKey: KeyObject, kid: string): Promise<{ server: grpc.Server; port: number }> {
  const authProto = grpc.loadPackageDefinition(protoLoader.loadSync(join(PROTO_ROOT, 'scriptorium/auth/v1/auth.proto'), GRPC_LOADER)) as any;
  const server = new grpc.Server();
  server.addService(authProto.scriptorium.auth.v1.AuthService.service, {
    getVerificationKeys: (_call: unknown, callback: grpc.sendUnaryData<unknown>) =>
      callback(null, { keys: [{ kid, algorithm: 'RS256', publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }) }] }),
  });
  try {
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) => (error ? reject(error) : resolve(port))),
    );
    return { server, port };
  } catch (error) {
    server.forceShutdown();
    throw error;
  }
}

export interface CatalogSettings {
  databaseUrl: string;
  grpcPort: number;
  authPort: number;
  groupsDir: string;
  poolSize: number;
  /** More variables (e.g. LOG_LEVEL). */
  extra?: Record<string, string>;
}

/** The catalog's configuration for a test: in-process bus, no HTTP port, no periodic rescan. */
export function catalogConfig(settings: CatalogSettings): CatalogConfig {
  return loadConfig(
    CatalogConfig,
    {
      DATABASE_URL: settings.databaseUrl,
      NATS_URL: 'inproc://',
      GRPC_LISTEN: `127.0.0.1:${settings.grpcPort}`,
      HTTP_PORT: '0',
      DATABASE_POOL_SIZE: String(settings.poolSize),
      AUTH_GRPC_URL: `127.0.0.1:${settings.authPort}`,
      SCRIPT_GROUPS_DIR: settings.groupsDir,
      CATALOG_RESCAN_SECONDS: '0',
      ...settings.extra,
    },
    catalogApp.required,
  );
}

/** A gRPC client of the catalog listening on `grpcPort` (loopback). */
export function catalogClient(grpcPort: number, options?: grpc.ClientOptions): CatalogClient {
  const catalogProto = grpc.loadPackageDefinition(protoLoader.loadSync(join(PROTO_ROOT, 'scriptorium/catalog/v1/catalog.proto'), GRPC_LOADER)) as any;
  return new catalogProto.scriptorium.catalog.v1.CatalogService(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure(), options);
}

/** One unary call with `token` as the bearer. */
export function unary<T>(client: CatalogClient, method: string, request: object, token: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${token}`);
    client[method](request, metadata, (error, response) => (error ? reject(error) : resolve(response as T)));
  });
}

export interface CatalogUnderTest {
  /** The temporary folder: `script_groups` (a copy of the repository's) and the database. */
  root: string;
  client: CatalogClient;
  /** An access token valid for 300 s. */
  token(claims: Omit<AccessClaims, 'expiresIn'>): string;
  /** Stops everything and removes `root`. */
  close(): Promise<void>;
}

/** What a test or bench started for the catalog; any part may be missing (start-up failed before it). */
export interface CatalogParts {
  root: string;
  pg?: { stop(): Promise<void> };
  dataSource?: DataSource;
  nest?: INestApplication;
  authServer?: grpc.Server;
  client?: CatalogClient;
}

/** Stops whatever of the catalog was started, the client first, and removes `root`. */
export async function stopCatalog(parts: CatalogParts): Promise<void> {
  parts.client?.close();
  await parts.nest?.close();
  if (parts.dataSource?.isInitialized) await parts.dataSource.destroy();
  await parts.pg?.stop();
  parts.authServer?.forceShutdown();
  await rm(parts.root, { recursive: true, force: true });
}

/** The catalog on an embedded PostgreSQL in a new temporary folder named after `prefix`, serving a copy of script_groups. */
export async function startCatalogUnderTest(prefix: string): Promise<CatalogUnderTest> {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = 'test-key';
  const root = await mkdtemp(join(tmpdir(), prefix));
  const parts: CatalogParts = { root };
  const close = () => stopCatalog(parts);
  try {
    await cp(join(PROJECT_ROOT, 'script_groups'), join(root, 'script_groups'), { recursive: true });
    const auth = await startVerificationKeys(publicKey, kid);
    parts.authServer = auth.server;
    const pg: EmbeddedPostgres = await startEmbeddedPostgres(join(root, 'pg'));
    parts.pg = pg;
    const grpcPort = await freePort();
    const config = catalogConfig({ databaseUrl: pg.url, grpcPort, authPort: auth.port, groupsDir: join(root, 'script_groups'), poolSize: 1 });
    const dataSource = await openDatabase(config.DATABASE_URL, 1, [catalogApp.schema]);
    parts.dataSource = dataSource;
    parts.nest = await startServiceApp(catalogApp, { config, dataSource, bus: new InProcessEventBus() });
    const client = catalogClient(grpcPort);
    parts.client = client;
    return {
      root,
      client,
      token: (claims) => accessToken(privateKey, kid, { ...claims, expiresIn: 300 }),
      close,
    };
  } catch (error) {
    await close().catch(() => undefined);
    throw error;
  }
}
