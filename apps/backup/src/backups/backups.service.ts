import { execFile } from 'node:child_process';
import { mkdir, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { rootLogger } from '#common/logger.js';
import type { BackupConfig } from '../backup.config.js';
import { BackupRecord } from './backup.entity.js';

const run = promisify(execFile);

/** Archives the data folder with tar+gzip and records each attempt. */
@Injectable()
export class BackupsService {
  constructor(
    @InjectRepository(BackupRecord) private readonly backups: Repository<BackupRecord>,
    @Inject('SERVICE_CONFIG') private readonly config: BackupConfig,
  ) {}

  list(): Promise<BackupRecord[]> {
    return this.backups.find({ order: { createdAt: 'DESC' }, take: 100 });
  }

  async create(requestedBy: string): Promise<BackupRecord> {
    const record = await this.backups.save(this.backups.create({ state: 'running', requestedBy }));
    const source = resolve(this.config.BACKUP_SOURCE_DIR);
    const target = resolve(this.config.BACKUP_DIR, `${record.createdAt.toISOString().replace(/[:.]/g, '-')}-${record.id}.tar.gz`);
    try {
      await mkdir(source, { recursive: true });
      await mkdir(resolve(this.config.BACKUP_DIR), { recursive: true });
      await run('tar', ['-czf', target, '-C', source, '.']);
      record.sizeBytes = String((await stat(target)).size);
      record.location = target;
      record.state = 'succeeded';
    } catch (error) {
      rootLogger().error({ err: error }, 'backup failed');
      record.state = 'failed';
      record.error = (error as Error).message;
    }
    record.finishedAt = new Date();
    return this.backups.save(record);
  }
}
