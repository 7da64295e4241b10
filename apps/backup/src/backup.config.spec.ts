import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '#common/config.js';
import { BackupConfig } from './backup.config.js';

const base = { DATABASE_URL: 'postgres://u@localhost/db', NATS_URL: 'nats://localhost:4222' };
const problems = (env: Record<string, string>) => {
  try {
    loadConfig(BackupConfig, { ...base, ...env });
    return [];
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.problems;
  }
};

describe('backup configuration', () => {
  test('defaults: a directory, daily at 02:00 UTC, the last 7 kept, no key (backups refused until one is set)', () => {
    const config = loadConfig(BackupConfig, base);
    assert.equal(config.BACKUP_DESTINATION, 'directory');
    assert.equal(config.BACKUP_SCHEDULE, '0 2 * * *');
    assert.equal(config.BACKUP_TIME_ZONE, 'UTC');
    assert.equal(config.BACKUP_KEEP_LAST, 7);
    assert.equal(config.BACKUP_ENCRYPTION_KEY, undefined);
  });

  test('a bad value stops the start, naming the variable and never showing a key', () => {
    const [key] = problems({ BACKUP_ENCRYPTION_KEY: 'short secret' });
    assert.match(key, /^BACKUP_ENCRYPTION_KEY must be at least 16 characters .*value hidden, 12 characters/);
    assert.match(problems({ BACKUP_SCHEDULE: 'every night' })[0], /^BACKUP_SCHEDULE must be a cron expression/);
    assert.match(problems({ BACKUP_TIME_ZONE: 'Mars/Olympus' })[0], /^BACKUP_TIME_ZONE must be an IANA time zone/);
    assert.deepEqual(problems({ BACKUP_DESTINATION: 's3' }), ['BACKUP_S3_BUCKET is required but not set']);
    assert.deepEqual(problems({ BACKUP_SCHEDULE: 'off', BACKUP_DESTINATION: 's3', BACKUP_S3_BUCKET: 'backups' }), []);
  });
});
