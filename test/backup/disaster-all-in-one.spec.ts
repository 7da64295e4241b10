import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import tar from 'tar-stream';
import { startAllInOneProcess, type RunningStack } from '../harness/stack.js';
import { as, backUp, checkRestored, fill, KEY, ok, restoreInto, snapshot, type Filled } from './disaster.js';

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

