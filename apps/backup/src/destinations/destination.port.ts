import type { Readable } from 'node:stream';

export interface StoredArchive {
  name: string;
  size: number;
}

/** Where archives are kept: a folder (a PersistentVolumeClaim in the chart) or an S3-compatible bucket. */
export abstract class BackupDestination {
  /** For status and logs, e.g. "directory /var/lib/scriptorium/backups". */
  abstract readonly description: string;
  /** Stores `body` under `name`; a partly written archive is never visible under it. */
  abstract write(name: string, body: Readable): Promise<number>;
  abstract read(name: string): Promise<Readable>;
  abstract list(): Promise<StoredArchive[]>;
  abstract delete(name: string): Promise<void>;
}

/** Archive names: what list() reports and write() accepts. */
export const ARCHIVE_SUFFIX = '.scriptorium-backup.tar';
