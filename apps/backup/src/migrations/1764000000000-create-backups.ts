import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateBackups1764000000000 implements MigrationInterface {
  name = 'CreateBackups1764000000000';

  async up(q: QueryRunner) {
    await q.query(`CREATE TABLE backup.backups (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      state text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      finished_at timestamptz,
      size_bytes bigint NOT NULL DEFAULT 0,
      location text NOT NULL DEFAULT '',
      error text NOT NULL DEFAULT '',
      requested_by text NOT NULL
    )`);
  }

  async down(q: QueryRunner) {
    await q.query('DROP TABLE backup.backups');
  }
}
