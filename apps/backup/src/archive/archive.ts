import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { PassThrough, Readable, Transform, Writable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import { decryptor } from './encryption.js';
import { MANIFEST_ENTRY, type Manifest, type ManifestPart } from './manifest.js';

/** Counts and hashes what passes through. */
export class Digest extends Transform {
  private readonly hash = createHash('sha256');
  size = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback) {
    this.hash.update(chunk);
    this.size += chunk.length;
    done(null, chunk);
  }

  get sha256(): string {
    return this.hash.digest('hex');
  }
}

/** Writes the archive: a tar with the manifest first, then each part from its staged file. */
export async function packArchive(manifest: Manifest, stagedFile: (part: ManifestPart) => string, out: Writable): Promise<void> {
  const pack = tar.pack();
  const written = pipeline(pack, out);
  const body = Buffer.from(JSON.stringify(manifest, null, 2));
  await new Promise<void>((resolve, reject) => pack.entry({ name: MANIFEST_ENTRY, size: body.length }, body, (e) => (e ? reject(e) : resolve())));
  for (const part of manifest.parts) {
    await new Promise<void>((resolve, reject) => {
      const entry = pack.entry({ name: part.name, size: part.size }, (e) => (e ? reject(e) : resolve()));
      pipeline(createReadStream(stagedFile(part)), entry).catch(reject);
    });
  }
  pack.finalize();
  await written;
}

export class ArchiveError extends Error {}

/**
 * Reads an archive entry by entry: the manifest first, then hands each part's stored bytes
 * (checked against the manifest's size and sha256 as they pass) to `onPart`. A damaged or
 * foreign archive fails with an ArchiveError saying what is wrong.
 */
export async function readArchive(input: Readable, onPart: (part: ManifestPart, stored: Readable, manifest: Manifest) => Promise<void>): Promise<Manifest> {
  const extract = tar.extract();
  input.on('error', (error) => extract.destroy(error));
  input.pipe(extract);
  let manifest: Manifest | undefined;
  const seen = new Set<string>();
  try {
    for await (const entry of extract) {
      const name = entry.header.name;
      if (!manifest) {
        if (name !== MANIFEST_ENTRY) throw new ArchiveError(`not a Scriptorium backup: it does not start with ${MANIFEST_ENTRY}`);
        const chunks: Buffer[] = [];
        for await (const chunk of entry) chunks.push(chunk as Buffer);
        try {
          manifest = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Manifest;
        } catch {
          throw new ArchiveError('the manifest is not valid JSON: the archive is damaged');
        }
        if (!Array.isArray(manifest.parts)) throw new ArchiveError('the manifest lists no parts: the archive is damaged');
        continue;
      }
      const part = manifest.parts.find((p) => p.name === name);
      if (!part) throw new ArchiveError(`the archive holds ${name}, which its manifest does not list`);
      seen.add(name);
      const digest = new Digest();
      const checked = new PassThrough();
      await Promise.all([pipeline(entry, digest, checked), onPart(part, checked, manifest)]);
      if (digest.size !== part.size) throw new ArchiveError(`${name} has ${digest.size} bytes, the manifest says ${part.size}: the archive is damaged`);
      if (digest.sha256 !== part.sha256) throw new ArchiveError(`${name} does not match its sha256 in the manifest: the archive is damaged`);
    }
  } catch (error) {
    if (error instanceof ArchiveError) throw error;
    throw new ArchiveError(`the archive cannot be read (${(error as Error).message}): it is damaged or not a Scriptorium backup`);
  }
  if (!manifest) throw new ArchiveError('the archive is empty');
  const missing = manifest.parts.filter((p) => !seen.has(p.name)).map((p) => p.name);
  if (missing.length) throw new ArchiveError(`the archive lacks ${missing.join(', ')}: it is truncated`);
  return manifest;
}

/** A part's content as the service exported it (gzip-compressed): decrypted when it is encrypted. */
export function openPart(part: ManifestPart, stored: Readable, key: Buffer | undefined): Readable {
  if (!part.iv || !part.authTag) return stored;
  if (!key) throw new ArchiveError(`${part.name} is encrypted: set BACKUP_ENCRYPTION_KEY to the key the backup was made with`);
  const decipher = decryptor(key, part.iv, part.authTag);
  stored.on('error', (error) => decipher.destroy(error));
  return stored.pipe(decipher);
}

/** Reads a part to its end through decryption and gunzip: fails when the key is wrong or the data damaged. */
export async function checkPartOpens(part: ManifestPart, stored: Readable, key: Buffer | undefined): Promise<void> {
  try {
    await pipeline(openPart(part, stored, key), createGunzip(), new Writable({ write: (_c, _e, done) => done() }));
  } catch (error) {
    if (error instanceof ArchiveError) throw error;
    // The key was checked against the manifest before: a part that does not decrypt or unpack was changed.
    throw new ArchiveError(`${part.name} cannot be opened (${(error as Error).message}): the archive is damaged`);
  }
}

/** Only the manifest (the first entry): for listing archives without reading them through. */
export async function readManifest(input: Readable): Promise<Manifest> {
  const extract = tar.extract();
  input.pipe(extract);
  try {
    for await (const entry of extract) {
      if (entry.header.name !== MANIFEST_ENTRY) break;
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      return JSON.parse(Buffer.concat(chunks).toString('utf8')) as Manifest;
    }
  } finally {
    input.destroy();
  }
  throw new ArchiveError('not a Scriptorium backup: it does not start with its manifest');
}
