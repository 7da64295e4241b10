import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type * as grpc from '@grpc/grpc-js';
import type { INestApplication } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { NatsEventBus } from '#common/bus.js';
import { openDatabase } from '#common/database.js';
import { startServiceApp } from '#common/service-app.js';
import type { Level } from '#contracts/levels.js';
import { Subjects } from '#contracts/subjects.js';
import type { ListScriptsResponse, Script } from '#contracts/generated/scriptorium/catalog/v1/catalog.js';
import { catalogApp } from '../../apps/catalog/src/catalog.app.js';
import { accessToken, catalogClient, catalogConfig, startVerificationKeys, unary, type CatalogClient } from '../harness/catalog-under-test.js';
import { freePort, waitFor } from '../harness/net.js';
import { startNats, startPostgres, type TestNats, type TestPostgres } from '../harness/postgres.js';

const PROJECT_ROOT = resolve(import.meta.dirname, '../../..');

interface Replica {
  nest: INestApplication;
  dataSource: DataSource;
  bus: NatsEventBus;
  client: CatalogClient;
}

/** Two catalog replicas on one PostgreSQL, one NATS and one script tree, as in a cluster. */
describe('catalog replicas', { timeout: 60_000 }, () => {
  let pg: TestPostgres;
  let nats: TestNats;
  let root: string;
  let authServer: grpc.Server;
  let observer: NatsEventBus;
  const replicas: Replica[] = [];
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const token = (level: Level) => accessToken(privateKey, 'k', { username: level, level, lang: 'en', subject: `user-${level}`, expiresIn: 300 });
  const call = <T>(replica: Replica, method: string, request: object, level: Level = 'admin') => unary<T>(replica.client, method, request, token(level));

  async function startReplica(name: string, authPort: number): Promise<Replica> {
    const config = catalogConfig({
      databaseUrl: pg.url,
      grpcPort: await freePort(),
      authPort,
      groupsDir: join(root, 'script_groups'),
      poolSize: 2,
      extra: { NATS_URL: nats.url, LOG_LEVEL: 'warn' },
    });
    const dataSource = await openDatabase(config.DATABASE_URL, 2, [catalogApp.schema]);
    const bus = await NatsEventBus.connect(nats.url, name);
    const nest = await startServiceApp(catalogApp, { config, dataSource, bus });
    return { nest, dataSource, bus, client: catalogClient(Number(config.GRPC_LISTEN.split(':').pop())) };
  }

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'catalog-replicas-'));
    await cp(join(PROJECT_ROOT, 'script_groups'), join(root, 'script_groups'), { recursive: true });
    [pg, nats] = await Promise.all([startPostgres(), startNats()]);
    const auth = await startVerificationKeys(publicKey, 'k');
    authServer = auth.server;
    observer = await NatsEventBus.connect(nats.url, 'observer');
    // Both start at once: their first scans race to store the same tree.
    replicas.push(...(await Promise.all([startReplica('catalog-a', auth.port), startReplica('catalog-b', auth.port)])));
  });

  after(async () => {
    for (const r of replicas) {
      r.client.close();
      await r.nest.close();
      await r.bus.close();
      await r.dataSource.destroy();
    }
    await observer?.close();
    authServer?.forceShutdown();
    await nats?.stop();
    await pg?.stop();
    await rm(root, { recursive: true, force: true });
  });

  const ids = async (replica: Replica) => (await call<ListScriptsResponse>(replica, 'listScripts', {})).scripts.map((s) => s.id);
  const storedCount = async (id?: string) => {
    const [row] = await replicas[0].dataSource.query(`SELECT count(*)::int AS n FROM catalog.scripts${id ? ' WHERE id = $1' : ''}`, id ? [id] : []);
    return row.n as number;
  };

  test('both serve the same catalog, stored once', async () => {
    const [a, b] = await Promise.all(replicas.map(ids));
    assert.ok(a.length > 5, `the example groups are listed (${a.length})`);
    assert.deepEqual(a, b);
    assert.equal(await storedCount(), a.length, 'one row per script, whichever replica scanned first');
  });

  test('a new script reaches both within a second, is stored once, and is announced on NATS', async () => {
    const id = 'getting_started/added_by_test.py';
    const announced = new Promise<void>((resolve) => {
      const stop = observer.subscribe(Subjects.catalogChanged, (event) => {
        if (!event.added.includes(id)) return;
        stop();
        resolve();
      });
    });
    const written = Date.now();
    await writeFile(join(root, 'script_groups', id), '"""\nScriptsManager Metadata:\n@description: Added by the replica test\n"""\nprint("hi")\n');
    for (const replica of replicas) {
      await waitFor(async () => (await ids(replica)).includes(id), 1000 - (Date.now() - written), `${id} to be listed by every replica within a second`);
    }
    await announced;
    assert.equal(await storedCount(id), 1);
  });

  test('a metadata edit made on one replica is served by the other', async () => {
    const [a, b] = replicas;
    const scriptId = 'getting_started/greet.py';
    const edited = await call<Script>(a, 'updateScriptMetadata', { scriptId, edit: { description: { values: { en: 'Edited on replica A' } } }, comment: 'replicas' }, 'developer');
    assert.equal(edited.description, 'Edited on replica A');
    const seen = await waitFor(async () => {
      const script = await call<Script>(b, 'getScript', { scriptId }, 'operator');
      return script.description === 'Edited on replica A' ? script : undefined;
    }, 2000, 'replica B to serve the edit');
    assert.equal(seen.metadataVersion, 1);
  });
});
