import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawn } from 'node:child_process';
import { after, describe, test } from 'node:test';
import AdmZip from 'adm-zip';
import tar from 'tar-stream';
import { waitFor } from '../harness/net.js';
import { startAllInOneProcess, type RunningStack } from '../harness/stack.js';
import { as, backUp, checkRestored, fill, KEY, ok, PASSWORD, restoreInto, snapshot, type Filled } from './disaster.js';

const ROOT = resolve(import.meta.dirname, '../../..');

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

  /** A copy is another backup: its manifest gets an id of its own. */
  const rewriteManifest = (entries: { name: string; data: Buffer }[], id: string, edit: (manifest: any) => void = () => undefined) => {
    const manifest = JSON.parse(entries[0].data.toString());
    edit(manifest);
    manifest.id = id;
    entries[0].data = Buffer.from(JSON.stringify(manifest));
  };

  test('a corrupted archive and a newer-version archive are refused, and nothing changes', async () => {
    const admin = await as(stack!.url, 'ada');
    const corrupted = await variant('corrupted', (entries) => {
      rewriteManifest(entries, '00000000-0000-4000-8000-000000000001');
      const part = entries.find((e) => e.name === 'services/auth.jsonl.gz.enc')!;
      part.data[Math.floor(part.data.length / 2)] ^= 0xff;
    });
    const newer = await variant('newer', (entries) =>
      rewriteManifest(entries, '00000000-0000-4000-8000-000000000002', (m) => {
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

  test("a project's files as a zip, for its owner only", async () => {
    const otto = await as(stack!.url, 'otto');
    const res = await fetch(`${stack!.url}/api/v1/projects/${filled.project}/archive`, { headers: { authorization: `Bearer ${otto.token}` } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/zip');
    const zip = new AdmZip(Buffer.from(await res.arrayBuffer()));
    assert.deepEqual(zip.getEntries().map((e) => e.entryName).sort(), ['deep/data.json', 'notes.txt']);
    assert.equal(zip.readAsText('notes.txt'), 'keep me');
    const vera = await as(stack!.url, 'vera');
    assert.equal((await vera.get(`/api/v1/projects/${filled.project}/archive`)).status, 404);
  });

  test("one project's files come back from a backup, nothing else changes", async () => {
    const otto = await as(stack!.url, 'otto');
    await ok(otto.request('PUT', `/api/v1/projects/${filled.project}/files/notes.txt`, 'overwritten', { 'content-type': 'text/plain' }));
    await ok(otto.request('PUT', `/api/v1/projects/${filled.project}/files/new.txt`, 'after the backup', { 'content-type': 'text/plain' }));
    const admin = await as(stack!.url, 'ada');
    const restored = await ok(admin.post(`/api/v1/backups/${backup.id}/restore-project`, { projectId: filled.project }));
    assert.equal(restored.files, 2);
    assert.equal((await otto.get(`/api/v1/projects/${filled.project}/files/notes.txt`)).body, 'keep me');
    assert.equal((await otto.get(`/api/v1/projects/${filled.project}/files/new.txt`)).status, 404);
    assert.deepEqual(await snapshot(stack!.url, filled), before);
  });

  test('retention keeps the newest backups, the schedule runs in its time zone, and one backup runs at a time', async () => {
    const admin = await as(stack!.url, 'ada');
    const settings = await ok(admin.request('PUT', '/api/v1/backups/settings', { schedule: '30 4 * * *', timeZone: 'Europe/Rome', keepLast: 2, keepDays: 0 }));
    assert.deepEqual(settings, { schedule: '30 4 * * *', timeZone: 'Europe/Rome', keepLast: 2, keepDays: 0 });
    const status = await ok(admin.get('/api/v1/backups/status'));
    // 04:30 in Rome is 03:30 UTC in winter (the spec's dates are December's).
    assert.match(status.nextRun, /T0[23]:30:00\.000Z$/);
    assert.equal(status.problem, '');
    const refused = await admin.request('PUT', '/api/v1/backups/settings', { schedule: 'every night', timeZone: 'UTC', keepLast: 2, keepDays: 0 });
    assert.equal(refused.status, 400);
    assert.match(refused.body.message, /schedule not a cron expression/);

    // Two at once: one is taken, the other refused while it runs.
    const both = await Promise.all([admin.post('/api/v1/backups'), admin.post('/api/v1/backups')]);
    assert.deepEqual(both.map((r) => r.status).sort(), [201, 409]);
    assert.match(both.find((r) => r.status === 409)!.body.message, /already running/);
    const newest = await ok(admin.post('/api/v1/backups'), 201);
    const kept = (await ok(admin.get('/api/v1/backups'))).items.filter((b: any) => b.state === 'succeeded');
    assert.deepEqual(kept.map((b: any) => b.id), [newest.id, both.find((r) => r.status === 201)!.body.id]);
    assert.deepEqual(readdirSync(backups).filter((n) => n.endsWith('.scriptorium-backup.tar')).sort(), kept.map((b: any) => b.location).sort());
    const after = await ok(admin.get('/api/v1/backups/status'));
    assert.equal(after.lastSuccess.id, newest.id);
    assert.equal(after.storageUsedBytes, kept.reduce((sum: number, b: any) => sum + b.sizeBytes, 0));
    const audit = await ok(admin.get('/api/v1/audit?action=backup.deleted'));
    assert.ok(audit.items.some((e: any) => e.details?.reason === 'retention'), JSON.stringify(audit.items));

    // Every second (6-field cron): the schedule takes backups by itself, then is turned off.
    await ok(admin.request('PUT', '/api/v1/backups/settings', { schedule: '* * * * * *', timeZone: 'UTC', keepLast: 2, keepDays: 0 }));
    const scheduled = await waitFor(async () => (await ok(admin.get('/api/v1/backups'))).items.find((b: any) => b.trigger === 'scheduled' && b.state === 'succeeded'), 60_000, 'a scheduled backup');
    assert.equal(scheduled.requestedBy, 'schedule');
    await ok(admin.request('PUT', '/api/v1/backups/settings', { schedule: 'off', timeZone: 'UTC', keepLast: 2, keepDays: 0 }));
    assert.equal((await ok(admin.get('/api/v1/backups/status'))).nextRun, null);
  });

  test('the operator restores an archive file from the command line', async () => {
    const admin = await as(stack!.url, 'ada');
    const newest = (await ok(admin.get('/api/v1/backups'))).items.find((b: any) => b.state === 'succeeded');
    const file = join(mkdtempSync(join(tmpdir(), 'scriptorium-cli-')), 'saved.tar');
    writeFileSync(file, readFileSync(join(backups, newest.location)));
    const cli = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(process.execPath, [join(ROOT, 'dist/apps/backup/src/cli.js'), 'restore', file, '--yes'], {
        env: { PATH: process.env.PATH ?? '', SCRIPTORIUM_URL: stack!.url, SCRIPTORIUM_USER: 'ada', SCRIPTORIUM_PASSWORD: PASSWORD },
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d));
      child.stderr.on('data', (d: Buffer) => (out += d));
      child.on('exit', (code) => resolve({ code, out }));
    });
    assert.equal(cli.code, 0, cli.out);
    assert.match(cli.out, /^uploaded .*saved\.tar as backup [0-9a-f-]{36}\nrestored backup [0-9a-f-]{36}: \d+ rows, 2 files; 0 active runs were cancelled first\n$/);
    assert.deepEqual(await snapshot(stack!.url, filled), before);
  });
});

