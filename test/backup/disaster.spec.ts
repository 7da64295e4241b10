import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import S3rver from 's3rver';
import tar from 'tar-stream';
import { Api } from '../harness/api.js';
import { ADMIN_PASSWORD, login, startAllInOneProcess, startDistributed, type RunningStack } from '../harness/stack.js';

/**
 * The disaster: an installation full of everything a user would miss (users of every level,
 * runs with their logs, a project with files, a script's metadata edit, personal tags, a code
 * session, an API token) is backed up, destroyed, and restored into a new, empty installation;
 * every answer of the API is then the same as before. Broken and newer archives are refused
 * and change nothing.
 */

const KEY = 'disaster test encryption key';
const PASSWORD = 'disaster-password-1';
const USERS = { vera: 'viewer', otto: 'operator', dana: 'developer', ada: 'admin' } as const;

interface Filled {
  runs: string[];
  project: string;
  apiToken: string;
}

async function as(url: string, username: string, password = PASSWORD): Promise<Api> {
  return new Api(url, await login(url, username, password));
}

async function ok<T = any>(answer: Promise<{ status: number; body: T }>, status = 200): Promise<T> {
  const res = await answer;
  assert.equal(res.status, status, JSON.stringify(res.body));
  return res.body;
}

/** Fills an installation through its API, as its users would have. */
async function fill(url: string): Promise<Filled> {
  const admin = new Api(url, await login(url));
  for (const [username, level] of Object.entries(USERS)) await ok(admin.post('/api/v1/users', { username, password: PASSWORD, level }), 201);
  const otto = await as(url, 'otto');
  const dana = await as(url, 'dana');
  const ada = await as(url, 'ada');
  const runs = [];
  for (const name of ['Ada', 'Grace']) {
    const run = await otto.run('getting_started/greet.py', { name });
    assert.equal((await otto.finished(run.id)).state, 'succeeded');
    runs.push(run.id);
  }
  const project = await ok(otto.post('/api/v1/projects', { groupId: 'getting_started', name: 'Disaster notes' }), 201);
  await ok(otto.request('PUT', `/api/v1/projects/${project.id}/files/notes.txt`, 'keep me', { 'content-type': 'text/plain' }));
  await ok(otto.request('PUT', `/api/v1/projects/${project.id}/files/deep/data.json`, '{"answer":42}', { 'content-type': 'text/plain' }));
  await ok(ada.request('PATCH', '/api/v1/scripts/getting_started/word_stats.js/metadata', { tags: ['restored-edit'], comment: 'before the disaster' }));
  await ok(otto.request('PUT', '/api/v1/scripts/getting_started/greet.py/tags', { tags: ['my-favourite'] }));
  await ok(dana.post('/api/v1/code-sessions', { name: 'scratch', language: 'python', source: 'print("survives")' }), 201);
  const token = await ok(otto.post('/api/v1/me/tokens', { name: 'ci', expiresInDays: 30 }), 201);
  return { runs, project: project.id, apiToken: token.token };
}

/** Times of last use change with every sign-in and call: not part of what a restore must bring back. */
function stable(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stable);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).filter(([k]) => !/^last.*At$/.test(k)).map(([k, v]) => [k, stable(v)]));
  return value;
}

/** What each user sees, read through the API. */
async function snapshot(url: string, filled: Filled): Promise<Record<string, unknown>> {
  const admin = await as(url, 'ada');
  const otto = await as(url, 'otto');
  const dana = await as(url, 'dana');
  const vera = await as(url, 'vera');
  const read = async (api: Api, path: string) => {
    const res = await api.get(path);
    assert.equal(res.status, 200, `${path}: ${JSON.stringify(res.body)}`);
    return stable(res.body);
  };
  const answers: Record<string, unknown> = {
    users: await read(admin, '/api/v1/users'),
    allRuns: await read(admin, '/api/v1/executions?allUsers=true'),
    ottoRuns: await read(otto, '/api/v1/executions'),
    edited: await read(admin, '/api/v1/scripts/getting_started/word_stats.js'),
    versions: await read(admin, '/api/v1/scripts/getting_started/word_stats.js/metadata/versions'),
    ottoTags: await read(otto, '/api/v1/tags'),
    ottoScriptTags: await read(otto, '/api/v1/scripts/getting_started/greet.py/tags'),
    projects: await read(otto, '/api/v1/projects'),
    files: await read(otto, `/api/v1/projects/${filled.project}/files`),
    notes: await read(otto, `/api/v1/projects/${filled.project}/files/notes.txt`),
    nested: await read(otto, `/api/v1/projects/${filled.project}/files/deep/data.json`),
    codeSessions: await read(dana, '/api/v1/code-sessions'),
    tokens: await read(otto, '/api/v1/me/tokens'),
    veraMe: await read(vera, '/api/v1/me'),
  };
  for (const id of filled.runs) {
    answers[`run ${id}`] = await read(otto, `/api/v1/executions/${id}`);
    answers[`log ${id}`] = await read(otto, `/api/v1/executions/${id}/log?format=text`);
  }
  return answers;
}

async function backUp(url: string): Promise<any> {
  const admin = await as(url, 'ada');
  const backup = await ok(admin.post('/api/v1/backups'), 201);
  assert.equal(backup.state, 'succeeded', backup.error);
  assert.ok(backup.verifiedAt, 'verified as written');
  assert.deepEqual(Object.keys(backup.manifest.services).sort(), ['auth', 'backup', 'catalog', 'execution', 'logging']);
  for (const part of backup.manifest.parts) assert.match(part.sha256, /^[0-9a-f]{64}$/);
  return backup;
}

/** In the new installation (its bootstrap admin): finds the archive in the destination and restores it. */
async function restoreInto(url: string, backupId: string) {
  const bootstrap = new Api(url, await login(url, 'admin', ADMIN_PASSWORD));
  const listed = await ok(bootstrap.get('/api/v1/backups'));
  const found = listed.items.find((b: any) => b.id === backupId);
  assert.ok(found, `the new installation lists the archive of backup ${backupId}: ${JSON.stringify(listed)}`);
  const refused = await bootstrap.post(`/api/v1/backups/${backupId}/restore`, { confirm: 'yes' });
  assert.equal(refused.status, 409);
  assert.match(refused.body.message, /to confirm, send confirm: "/);
  return ok(bootstrap.post(`/api/v1/backups/${backupId}/restore`, { confirm: backupId }));
}

async function checkRestored(url: string, before: Record<string, unknown>, filled: Filled) {
  assert.deepEqual(await snapshot(url, filled), before);
  // The API token made before the disaster still works.
  const viaToken = new Api(url, filled.apiToken);
  assert.equal((await ok(viaToken.get('/api/v1/me'))).username, 'otto');
  // The restore is in the (restored) audit trail.
  const ada = await as(url, 'ada');
  const audit = await ok(ada.get('/api/v1/audit?action=backup.restored'));
  assert.ok(audit.items.some((e: any) => e.outcome === 'success'), JSON.stringify(audit));
}

describe('disaster recovery, all-in-one (embedded database, directory destination)', { concurrency: false, timeout: 300_000 }, () => {
  const backups = mkdtempSync(join(tmpdir(), 'scriptorium-backups-'));
  const env = { BACKUP_ENCRYPTION_KEY: KEY, BACKUP_DIR: backups, BACKUP_SCHEDULE: 'off' };
  let stack: RunningStack | undefined;
  let filled: Filled;
  let before: Record<string, unknown>;
  let backup: any;

  after(async () => {
    await stack?.stop();
    rmSync(backups, { recursive: true, force: true });
  });

  test('fill, back up, destroy, restore into a new installation: every answer is the same', async () => {
    stack = await startAllInOneProcess(env);
    filled = await fill(stack.url);
    before = await snapshot(stack.url, filled);
    backup = await backUp(stack.url);
    await stack.stop(); // the installation is gone, data directory and all; the backups folder stays
    stack = await startAllInOneProcess(env);
    const result = await restoreInto(stack.url, backup.id);
    assert.equal(result.rows['auth.users'], 5);
    assert.equal(result.files, 2);
    await checkRestored(stack.url, before, filled);
  });

  /** Writes a copy of the archive, changed by `change`, beside the others, and returns its backup id as the new installation lists it. */
  async function variant(name: string, change: (entries: { name: string; data: Buffer }[]) => void): Promise<string> {
    const original = readFileSync(join(backups, backup.location));
    const entries: { name: string; data: Buffer }[] = [];
    const extract = tar.extract();
    const read = (async () => {
      for await (const entry of extract) {
        const chunks: Buffer[] = [];
        for await (const chunk of entry) chunks.push(chunk as Buffer);
        entries.push({ name: entry.header.name, data: Buffer.concat(chunks) });
      }
    })();
    extract.end(original);
    await read;
    change(entries);
    const pack = tar.pack();
    for (const entry of entries) pack.entry({ name: entry.name }, entry.data);
    pack.finalize();
    const chunks: Buffer[] = [];
    for await (const chunk of pack) chunks.push(chunk as Buffer);
    writeFileSync(join(backups, `${name}.scriptorium-backup.tar`), Buffer.concat(chunks));
    const admin = await as(stack!.url, 'ada');
    const listed = await ok(admin.get('/api/v1/backups'));
    return listed.items.find((b: any) => b.location === `${name}.scriptorium-backup.tar`).id;
  }

  const rewriteManifest = (entries: { name: string; data: Buffer }[], edit: (manifest: any) => void) => {
    const manifest = JSON.parse(entries[0].data.toString());
    edit(manifest);
    manifest.id = '00000000-0000-4000-8000-00000000000' + (edit.length % 10);
    entries[0].data = Buffer.from(JSON.stringify(manifest));
  };

  test('a corrupted archive and a newer-version archive are refused, and nothing changes', async () => {
    const admin = await as(stack!.url, 'ada');
    const corrupted = await variant('corrupted', (entries) => {
      rewriteManifest(entries, (m) => (m.id = 'x'));
      const part = entries.find((e) => e.name === 'services/auth.jsonl.gz.enc')!;
      part.data[Math.floor(part.data.length / 2)] ^= 0xff;
    });
    const newer = await variant('newer', (entries) =>
      rewriteManifest(entries, (m) => {
        m.productVersion = '99.0.0';
        m.services.auth.migrations.push('FutureAuth9999999999999');
      }),
    );
    assert.notEqual(corrupted, newer);

    const verified = await ok(admin.post(`/api/v1/backups/${corrupted}/verify`));
    assert.match(verified.verifyError, /services\/auth\.jsonl\.gz\.enc .*damaged/);

    const damaged = await admin.post(`/api/v1/backups/${corrupted}/restore`, { confirm: corrupted });
    assert.equal(damaged.status, 409);
    assert.match(damaged.body.message, /cannot be restored: services\/auth\.jsonl\.gz\.enc .*damaged.*Nothing was changed/);

    const tooNew = await admin.post(`/api/v1/backups/${newer}/restore`, { confirm: newer });
    assert.equal(tooNew.status, 409);
    assert.match(tooNew.body.message, /Scriptorium 99\.0\.0, newer than this installation's .*upgrade/);
    assert.match(tooNew.body.message, /auth data is at schema version FutureAuth9999999999999.*newer/);

    assert.deepEqual(await snapshot(stack!.url, filled), before);
  });
});

describe('disaster recovery, distributed (PostgreSQL, NATS, S3-compatible destination)', { concurrency: false, timeout: 300_000 }, () => {
  const s3dir = mkdtempSync(join(tmpdir(), 'scriptorium-s3-'));
  let s3: S3rver;
  let env: Record<string, string>;
  let stack: (RunningStack & { postgres: { url: string } }) | undefined;

  before(async () => {
    s3 = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: s3dir, configureBuckets: [{ name: 'scriptorium-backups', configs: [] }] });
    const { port } = (await s3.run()) as unknown as { port: number };
    env = {
      BACKUP_ENCRYPTION_KEY: KEY,
      SCHEMA_TRANSFER_TOKEN: 'disaster-test-transfer-token',
      BACKUP_DESTINATION: 's3',
      BACKUP_S3_BUCKET: 'scriptorium-backups',
      BACKUP_S3_ENDPOINT_URL: `http://127.0.0.1:${port}`,
      BACKUP_S3_ACCESS_KEY_ID: 'S3RVER',
      BACKUP_S3_SECRET_ACCESS_KEY: 'S3RVER',
      // The smallest part S3 allows: the archive goes up in several parts.
      BACKUP_S3_PART_SIZE_MB: '5',
      BACKUP_SCHEDULE: 'off',
    };
  });

  after(async () => {
    await stack?.stop();
    await s3?.close();
    rmSync(s3dir, { recursive: true, force: true });
  });

  test('fill, back up to the bucket, destroy database and all, restore into a new installation: every answer is the same', async () => {
    stack = await startDistributed(env);
    const filled = await fill(stack.url);
    // Large enough for a multipart upload: a project file of 12 MiB of incompressible bytes.
    const otto = await as(stack.url, 'otto');
    const big = Buffer.alloc(12 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4) big.writeUInt32LE((Math.imul(i, 2654435761) ^ (i >>> 7)) >>> 0, i);
    const project = (await ok(otto.get('/api/v1/projects'))).items.find((p: any) => p.id === filled.project);
    assert.ok(project);
    // Written as a run's script would write it, straight into the project's folder.
    writeFileSync(join(stack.dataDir, 'projects', project.userId, project.groupId, project.id, 'big.bin'), big);
    const before = await snapshot(stack.url, filled);
    const backup = await backUp(stack.url);
    assert.ok(backup.sizeBytes > 12 * 1024 * 1024, `the archive holds the big file (${backup.sizeBytes} bytes)`);
    await stack.stop(); // PostgreSQL, NATS, data directory: all gone; the bucket stays
    stack = await startDistributed(env);
    const result = await restoreInto(stack.url, backup.id);
    assert.equal(result.files, 3);
    await checkRestored(stack.url, before, filled);
  });
});
