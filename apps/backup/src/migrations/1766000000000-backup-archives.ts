import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Backups become versioned archives: how each was triggered, its manifest, its last verification; the schedule's settings. */
export class BackupArchives1766000000000 implements MigrationInterface {
  name = 'BackupArchives1766000000000';

  async up(q: QueryRunner) {
    await q.query(`ALTER TABLE backup.backups
      ADD COLUMN trigger text NOT NULL DEFAULT 'manual',
      ADD COLUMN verified_at timestamptz,
      ADD COLUMN verify_error text NOT NULL DEFAULT '',
      ADD COLUMN manifest jsonb`);
    await q.query('CREATE INDEX backups_created_at ON backup.backups (created_at DESC)');
    await q.query(`CREATE TABLE backup.settings (
      id int PRIMARY KEY DEFAULT 1 CHECK (id = 1),
      schedule text NOT NULL,
      time_zone text NOT NULL,
      keep_last int NOT NULL,
      keep_days int NOT NULL
    )`);
  }

  async down(q: QueryRunner) {
    await q.query('DROP TABLE backup.settings');
    await q.query('DROP INDEX backup.backups_created_at');
    await q.query('ALTER TABLE backup.backups DROP COLUMN trigger, DROP COLUMN verified_at, DROP COLUMN verify_error, DROP COLUMN manifest');
  }
}
