import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { notFound } from '#common/errors.js';
import { ARCHIVE_SUFFIX, BackupDestination, type StoredArchive } from './destination.port.js';

export class DirectoryDestination extends BackupDestination {
  private readonly dir: string;

  constructor(dir: string) {
    super();
    this.dir = resolve(dir);
  }

  get description() {
    return `directory ${this.dir}`;
  }

  async write(name: string, body: Readable): Promise<number> {
    await mkdir(this.dir, { recursive: true });
    const partial = join(this.dir, `.${name}.partial`);
    try {
      await pipeline(body, createWriteStream(partial, { mode: 0o600 }));
      await rename(partial, join(this.dir, name));
    } finally {
      await rm(partial, { force: true });
    }
    return (await stat(join(this.dir, name))).size;
  }

  async read(name: string): Promise<Readable> {
    const path = join(this.dir, name);
    await stat(path).catch(() => {
      throw notFound(`archive ${name} is not in ${this.description}`);
    });
    return createReadStream(path);
  }

  async list(): Promise<StoredArchive[]> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    const archives = names.filter((n) => n.endsWith(ARCHIVE_SUFFIX) && !n.startsWith('.'));
    // An archive that retention or a delete removes between readdir and stat is simply gone.
    const found = await Promise.all(archives.map(async (name) => stat(join(this.dir, name)).then((s) => ({ name, size: s.size }), ignoreMissing)));
    return found.filter((archive) => archive !== undefined);
  }

  async delete(name: string): Promise<void> {
    await rm(join(this.dir, name), { force: true });
  }
}

function ignoreMissing(error: NodeJS.ErrnoException): undefined {
  if (error.code === 'ENOENT') return undefined;
  throw error;
}
