import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';

/** Any number; the same in every replica. */
const BACKUP_LOCK_KEY = 7426014;

/**
 * One backup or restore at a time across replicas: a PostgreSQL advisory lock, held on a
 * connection of its own for the whole job. A pool of one (the embedded database, a single
 * process) cannot spare that connection and needs no lock across processes: it only keeps
 * this process to one job.
 */
@Injectable()
export class BackupLockRepository {
  private busy = false;

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Runs `job` holding the lock, or answers undefined at once when another job holds it. */
  async withLock<T>(job: () => Promise<T>): Promise<{ result: T } | undefined> {
    if (this.busy) return undefined;
    this.busy = true;
    try {
      const poolSize = (this.dataSource.options.extra as { max?: number } | undefined)?.max ?? 10;
      if (poolSize <= 1) return { result: await job() };
      const runner = this.dataSource.createQueryRunner();
      await runner.connect();
      try {
        const [{ locked }] = (await runner.query('SELECT pg_try_advisory_lock($1) AS locked', [BACKUP_LOCK_KEY])) as { locked: boolean }[];
        if (!locked) return undefined;
        try {
          return { result: await job() };
        } finally {
          await runner.query('SELECT pg_advisory_unlock($1)', [BACKUP_LOCK_KEY]).catch(() => undefined);
        }
      } finally {
        await runner.release();
      }
    } finally {
      this.busy = false;
    }
  }
}
