import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { ArchiveError, checkPartOpens, packArchive, readArchive, readManifest } from './archive.js';
import { archiveKey, encryptor, keyCheck, keyOfArchive, newSalt } from './encryption.js';
import { createHash } from 'node:crypto';
import type { Manifest, ManifestPart } from './manifest.js';

const dir = mkdtempSync(join(tmpdir(), 'archive-spec-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function bytesOf(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** An archive of one encrypted part and one plain part, as a backup writes it. */
async function archive(passphrase: string): Promise<{ bytes: Buffer; manifest: Manifest }> {
  const salt = newSalt();
  const key = await archiveKey(passphrase, salt);
  const { cipher, iv } = encryptor(key);
  const secret = Buffer.concat([cipher.update(gzipSync('H\t{}\nR\t{"password_hash":"$argon2id$..."}\n')), cipher.final()]);
  const plain = gzipSync('project files');
  const part = (name: string, data: Buffer, extra: Partial<ManifestPart> = {}): ManifestPart => {
    writeFileSync(join(dir, name.replace('/', '_')), data);
    return { name, size: data.length, sha256: createHash('sha256').update(data).digest('hex'), ...extra };
  };
  const manifest: Manifest = {
    format: 'scriptorium-backup',
    formatVersion: 1,
    id: 'b1',
    createdAt: new Date().toISOString(),
    productVersion: '0.1.0',
    encryption: { cipher: 'aes-256-gcm', kdf: 'scrypt', salt: salt.toString('base64'), keyCheck: keyCheck(key) },
    services: {},
    parts: [part('services/auth.jsonl.gz.enc', secret, { iv: iv.toString('base64'), authTag: cipher.getAuthTag().toString('base64') }), part('files/execution.tar.gz', plain)],
  };
  const out = new PassThrough();
  const [bytes] = await Promise.all([bytesOf(out), packArchive(manifest, (p) => join(dir, p.name.replace('/', '_')), out)]);
  return { bytes, manifest };
}

const checkAll = async (bytes: Buffer, passphrase: string) => {
  let key: Buffer | undefined;
  return readArchive(Readable.from([bytes]), async (part, stored, manifest) => {
    key ??= await keyOfArchive(passphrase, manifest.encryption);
    if (!key) throw new ArchiveError('not the key this backup was made with');
    await checkPartOpens(part, stored, key);
  });
};

describe('backup archives', () => {
  test('an archive reads back with its manifest first, every part checked', async () => {
    const { bytes, manifest } = await archive('the operator key');
    assert.equal((await readManifest(Readable.from([bytes]))).id, 'b1');
    assert.deepEqual((await checkAll(bytes, 'the operator key')).parts, manifest.parts);
    assert.ok(!bytes.includes(Buffer.from('argon2id')), 'the secrets are not readable in the archive');
  });

  test('a flipped byte, a truncated archive, another key: refused, naming the part', async () => {
    const { bytes } = await archive('the operator key');
    const flipped = Buffer.from(bytes);
    // Its tar header starts with its name (after the manifest, which names it too); the data follows the 512-byte header.
    flipped[bytes.lastIndexOf(Buffer.from('services/auth.jsonl.gz.enc')) + 512 + 5] ^= 0xff;
    await assert.rejects(checkAll(flipped, 'the operator key'), (e: Error) => e instanceof ArchiveError && /services\/auth\.jsonl\.gz\.enc .*damaged/.test(e.message));
    await assert.rejects(checkAll(bytes.subarray(0, bytes.length - 2048), 'the operator key'), ArchiveError);
    await assert.rejects(checkAll(bytes, 'another key entirely'), /not the key this backup was made with/);
    await assert.rejects(checkAll(Buffer.from('not a tar at all'), 'the operator key'), ArchiveError);
  });
});
