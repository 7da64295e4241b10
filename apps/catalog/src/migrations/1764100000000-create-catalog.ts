import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateCatalog1764100000000 implements MigrationInterface {
  name = 'CreateCatalog1764100000000';

  async up(q: QueryRunner) {
    await q.query(`CREATE TABLE catalog.groups (
      id text PRIMARY KEY,
      required_level text NOT NULL,
      definition jsonb NOT NULL,
      hash text NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE TABLE catalog.scripts (
      id text PRIMARY KEY,
      group_id text NOT NULL,
      file text NOT NULL,
      required_level text NOT NULL,
      valid boolean NOT NULL,
      definition jsonb NOT NULL,
      source text NOT NULL,
      hash text NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query('CREATE INDEX scripts_group_id_idx ON catalog.scripts (group_id)');
  }

  async down(q: QueryRunner) {
    await q.query('DROP TABLE catalog.scripts');
    await q.query('DROP TABLE catalog.groups');
  }
}
