import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, stat, utimes } from 'node:fs/promises';
import { dirname, join, normalize, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import tarFs from 'tar-fs';
import type { DataSource } from 'typeorm';
import { invalidArgument } from '../errors.js';
import { rootLogger } from '../logger.js';
import { SchemaTransferRepository } from './schema-transfer.repository.js';
import { decodeLines, encodeLines, EXPORT_FORMAT } from './transfer-format.js';

/** tar-fs passes tar-stream's pax records along; its type declarations predate them. */
type PaxHeaders = tarFs.Headers & { pax?: Record<string, string> };

/** What a service registers for its backups (see SchemaTransferModule.forService). */
export interface SchemaTransferOptions {
  service: string;
  schema: string;
  /** Names of the service's migrations, in order (the classes' `name`). */
  migrations: string[];
  /** Tables a backup leaves out and a restore leaves alone. */
  excludedTables?: string[];
  /** The folder of the service's files (the execution service's projects), if it keeps any. */
  filesDir?: string;
}

/** Exports and imports one service's own schema and files; the gRPC controller serves it. */
export class SchemaTransfer {
  private readonly repository: SchemaTransferRepository;

  constructor(
    dataSource: DataSource,
    readonly options: SchemaTransferOptions,
    private readonly afterImport?: () => Promise<void> | void,
  ) {
    this.repository = new SchemaTransferRepository(dataSource, options.schema);
  }

  private get excluded() {
    return this.options.excludedTables ?? [];
  }

  appliedMigrations(): Promise<string[]> {
    return this.repository.appliedMigrations(this.options.migrations);
  }

  /** The schema as gzip-compressed export text. */
  async export(): Promise<Readable> {
    const header = { format: EXPORT_FORMAT, service: this.options.service, schema: this.options.schema, migrations: await this.appliedMigrations() };
    return Readable.from(encodeLines(header, this.repository.export(this.excluded))).pipe(createGzip());
  }

  /** Replaces the schema's rows with an export's (gzip-compressed); refused unless both have the same migrations. */
  async import(compressed: Readable): Promise<Record<string, number>> {
    const { header, lines } = await decodeLines(compressed.pipe(createGunzip()));
    if (header.schema !== this.options.schema) throw invalidArgument(`this is an export of schema ${header.schema}, not ${this.options.schema}`);
    const applied = await this.appliedMigrations();
    if (header.migrations.join(',') !== applied.join(',')) {
      throw invalidArgument(
        `the export of ${this.options.service} was made at migration ${header.migrations.at(-1) ?? 'none'}, this installation is at ${applied.at(-1) ?? 'none'}: restore it with the version that made it`,
      );
    }
    const rows = await this.repository.import(lines, this.excluded);
    await this.afterImport?.();
    rootLogger().info({ service: this.options.service, rows }, 'schema imported');
    return rows;
  }

  /** A folder of the files below `filesDir`, checked not to leave it. */
  private folder(prefix: string): string {
    const root = this.options.filesDir!;
    const relative = normalize(prefix || '.');
    if (relative.startsWith('..') || relative.startsWith(sep)) throw invalidArgument(`prefix ${JSON.stringify(prefix)} must be a folder inside the files, without ".."`);
    return relative === '.' ? root : join(root, relative);
  }

  /** The files (all, or one folder's) as a gzip-compressed tar, paths relative to the files' root. */
  async exportFiles(prefix: string): Promise<Readable> {
    const root = this.options.filesDir!;
    const folder = this.folder(prefix);
    await mkdir(root, { recursive: true });
    const exists = await stat(folder).then(() => true, () => false);
    const entries = folder === root ? undefined : exists ? [folder.slice(root.length + 1)] : [];
    // ustar keeps whole seconds: the exact modification time travels in a pax header too.
    return tarFs.pack(root, { entries, map: (header) => ({ ...header, pax: { ...(header as PaxHeaders).pax, mtime: (header.mtime!.getTime() / 1000).toFixed(3) } }) as PaxHeaders }).pipe(createGzip());
  }

  /**
   * Replaces the files (or one folder) with a tar's: extracted beside them first, then swapped
   * in, so a broken tar leaves the old files. Only plain files and folders are taken.
   */
  async importFiles(compressed: Readable, prefix: string): Promise<{ files: number; bytes: number }> {
    const root = this.options.filesDir!;
    const target = this.folder(prefix);
    const staging = `${root}.restore-${randomBytes(4).toString('hex')}`;
    let files = 0;
    let bytes = 0;
    const folders: [string, Date][] = [];
    try {
      await pipeline(
        compressed,
        createGunzip(),
        tarFs.extract(staging, {
          ignore: (_name, header) => header?.type !== 'file' && header?.type !== 'directory',
          map: (header) => {
            const exact = Number.parseFloat((header as PaxHeaders).pax?.mtime ?? '');
            if (Number.isFinite(exact)) header.mtime = new Date(exact * 1000);
            if (header.type === 'file') {
              files++;
              bytes += header.size ?? 0;
            } else if (header.mtime) folders.push([header.name, header.mtime]);
            return header;
          },
        }),
      );
      // A folder's time changed as its files were written into it: set again, deepest first.
      for (const [name, mtime] of folders.sort(([a], [b]) => b.length - a.length)) await utimes(join(staging, name), mtime, mtime).catch(() => undefined);
      const restored = target === root ? staging : join(staging, target.slice(root.length + 1));
      await mkdir(restored, { recursive: true });
      await mkdir(dirname(target), { recursive: true });
      const old = `${target}.old-${randomBytes(4).toString('hex')}`;
      const hadTarget = await rename(target, old).then(() => true, () => false);
      await rename(restored, target);
      if (hadTarget) await rm(old, { recursive: true, force: true });
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
    return { files, bytes };
  }
}
