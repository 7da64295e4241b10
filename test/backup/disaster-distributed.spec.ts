import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import S3rver from 's3rver';
import { startDistributed, type RunningStack } from '../harness/stack.js';
import { as, backUp, checkRestored, fill, KEY, ok, restoreInto, snapshot } from './disaster.js';

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
