import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
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
import type { Group, Script } from '#contracts/generated/scriptorium/catalog/v1/catalog.js';
import { catalogApp } from './catalog.app.js';
import { CatalogConfig } from './catalog.config.js';

/** End to end: the real service on an embedded PostgreSQL, called over gRPC with signed tokens. */

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const LOADER = { keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true, arrays: true, includeDirs: [PROTO_ROOT] };
type Unary = (request: object, metadata: grpc.Metadata, callback: (error: grpc.ServiceError | null, response: unknown) => void) => void;

describe('catalog service over gRPC', { timeout: 30_000 }, () => {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = 'test-key';
  let root: string;
  let pg: EmbeddedPostgres;
  let dataSource: DataSource;
  let nest: INestApplication;
  let authServer: grpc.Server;
  let client: grpc.Client & Record<string, Unary>;

  const token = (level: Level, lang = 'en') =>
    jwt.sign({ username: level, level, lang, theme: 'light', typ: 'access' }, privateKey.export({ type: 'pkcs8', format: 'pem' }), {
      algorithm: TOKEN_ALGORITHM,
      keyid: kid,
      issuer: TOKEN_ISSUER,
      audience: TOKEN_AUDIENCE,
      subject: randomUUID(),
      expiresIn: 300,
    });

  const call = <T>(method: string, request: object, level: Level, lang?: string): Promise<T> =>
    new Promise((resolve, reject) => {
      const metadata = new grpc.Metadata();
      metadata.set('authorization', `Bearer ${token(level, lang)}`);
      client[method](request, metadata, (error, response) => (error ? reject(error) : resolve(response as T)));
    });

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'catalog-e2e-'));
    await cp(join(PROJECT_ROOT, 'script_groups'), join(root, 'script_groups'), { recursive: true });

    // The auth service's one call the catalog makes: its verification keys.
    const authProto = grpc.loadPackageDefinition(protoLoader.loadSync(join(PROTO_ROOT, 'scriptorium/auth/v1/auth.proto'), LOADER)) as any;
    authServer = new grpc.Server();
    authServer.addService(authProto.scriptorium.auth.v1.AuthService.service, {
      getVerificationKeys: (_call: unknown, callback: grpc.sendUnaryData<unknown>) =>
        callback(null, { keys: [{ kid, algorithm: 'RS256', publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }) }] }),
    });
    const authPort = await new Promise<number>((resolve, reject) =>
      authServer.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) => (error ? reject(error) : resolve(port))),
    );

    pg = await startEmbeddedPostgres(join(root, 'pg'));
    const grpcPort = await freePort();
    const config = loadConfig(
      CatalogConfig,
      {
        DATABASE_URL: pg.url,
        NATS_URL: 'inproc://',
        GRPC_LISTEN: `127.0.0.1:${grpcPort}`,
        HTTP_PORT: '0',
        DATABASE_POOL_SIZE: '1',
        AUTH_GRPC_URL: `127.0.0.1:${authPort}`,
        SCRIPT_GROUPS_DIR: join(root, 'script_groups'),
        CATALOG_RESCAN_SECONDS: '0',
      },
      catalogApp.required,
    );
    dataSource = await openDatabase(config.DATABASE_URL, 1, [catalogApp.schema]);
    nest = await startServiceApp(catalogApp, { config, dataSource, bus: new InProcessEventBus() });

    const catalogProto = grpc.loadPackageDefinition(protoLoader.loadSync(join(PROTO_ROOT, 'scriptorium/catalog/v1/catalog.proto'), LOADER)) as any;
    client = new catalogProto.scriptorium.catalog.v1.CatalogService(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure());
  });

  after(async () => {
    client?.close();
    await nest?.close();
    if (dataSource?.isInitialized) await dataSource.destroy();
    await pg?.stop();
    authServer?.forceShutdown();
    await rm(root, { recursive: true, force: true });
  });

  it('rejects a call without a token', async () => {
    await assert.rejects(
      new Promise((resolve, reject) => client.listGroups({}, new grpc.Metadata(), (e, r) => (e ? reject(e) : resolve(r)))),
      (e: grpc.ServiceError) => e.code === grpc.status.UNAUTHENTICATED,
    );
  });

  it('ListGroups filters groups and counts by level', async () => {
    const view = async (level: Level) =>
      (await call<{ groups: Group[] }>('listGroups', {}, level)).groups.map((g) => `${g.id}:${g.scriptCount}`);
    assert.deepEqual(await view('viewer'), []);
    assert.deepEqual(await view('operator'), ['getting_started:6']);
    assert.deepEqual(await view('developer'), ['getting_started:7']);
    assert.deepEqual(await view('admin'), ['getting_started:7', 'system_admin:2']);
  });

  it('answers in the requested language, else the caller\'s, else English', async () => {
    const spanish = await call<{ groups: Group[] }>('listGroups', { language: 'es' }, 'operator');
    assert.equal(spanish.groups[0].name, 'Primeros pasos');
    const fromToken = await call<{ groups: Group[] }>('listGroups', {}, 'operator', 'it');
    assert.equal(fromToken.groups[0].name, 'Per iniziare');
  });

  it('ListScripts searches name, description and tags; hides groups above the caller', async () => {
    const found = await call<{ scripts: Script[] }>('listScripts', { groupId: 'getting_started', query: 'PROGRESS' }, 'operator');
    assert.deepEqual(found.scripts.map((s) => s.id), ['getting_started/progress_demo.py']);
    assert.equal(found.scripts[0].runtime, null);
    const all = await call<{ scripts: Script[] }>('listScripts', {}, 'operator');
    assert.ok(!all.scripts.some((s) => s.id.startsWith('system_admin/') || s.id.endsWith('env_report.py')));
    await assert.rejects(call('listScripts', { groupId: 'system_admin' }, 'operator'), (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND);
  });

  it('GetScript returns the runtime, and NOT_FOUND for unknown or too-high scripts alike', async () => {
    const greet = await call<Script>('getScript', { scriptId: 'getting_started/greet.py', language: 'fr' }, 'operator');
    assert.equal(greet.name, 'Salutations');
    assert.equal(greet.valid, true);
    assert.match(greet.runtime!.source, /ScriptsManager Metadata/);
    assert.equal(greet.runtime!.path, join(root, 'script_groups', 'getting_started', 'greet.py'));
    const schema = JSON.parse(greet.parametersSchemaJson);
    assert.deepEqual(schema.required, ['name']);
    assert.equal(schema.properties.times.maximum, 10);
    assert.equal(schema.properties.name.description, 'Qui saluer');
    const hidden = await call<Script>('getScript', { scriptId: 'getting_started/env_report.py' }, 'operator').catch((e) => e);
    const unknown = await call<Script>('getScript', { scriptId: 'getting_started/nope.py' }, 'operator').catch((e) => e);
    assert.equal(hidden.code, grpc.status.NOT_FOUND);
    assert.equal(unknown.code, grpc.status.NOT_FOUND);
    assert.equal(hidden.details.replace('env_report', 'X'), unknown.details.replace('nope', 'X'));
  });

  it('reflects a new script (even a broken one) within a second', async () => {
    await writeFile(
      join(root, 'script_groups', 'getting_started', 'late.py'),
      '"""\nScriptsManager Metadata:\n@description: Late\n@parameters: [\n  {"name": x}\n]\n"""\n',
    );
    const deadline = Date.now() + 1000;
    let script: Script | undefined;
    while (!script && Date.now() < deadline) {
      script = await call<Script>('getScript', { scriptId: 'getting_started/late.py' }, 'operator').catch(() => undefined);
      if (!script) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(script, 'the new script did not appear within a second');
    assert.equal(script.valid, false);
    assert.match(script.error, /^line 5: @parameters is not valid JSON/);
  });
});
