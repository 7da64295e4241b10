import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Metadata edits with their version history, and personal tags. */
export class CatalogEdits1764200000000 implements MigrationInterface {
  name = 'CatalogEdits1764200000000';

  async up(q: QueryRunner) {
    await q.query(`CREATE TABLE catalog.script_metadata (
      script_id text PRIMARY KEY,
      overrides jsonb NOT NULL,
      version integer NOT NULL,
      updated_by text NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE TABLE catalog.script_metadata_versions (
      script_id text NOT NULL,
      version integer NOT NULL,
      action text NOT NULL,
      overrides jsonb NOT NULL,
      changed_fields jsonb NOT NULL,
      author_id text NOT NULL,
      author_name text NOT NULL,
      comment text NOT NULL DEFAULT '',
      reverted_to integer,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (script_id, version)
    )`);
    await q.query(`CREATE TABLE catalog.personal_tags (
      user_id text NOT NULL,
      script_id text NOT NULL,
      tag text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (user_id, script_id, tag)
    )`);
    await q.query('CREATE INDEX personal_tags_user_tag_idx ON catalog.personal_tags (user_id, tag)');
  }

  async down(q: QueryRunner) {
    await q.query('DROP TABLE catalog.personal_tags');
    await q.query('DROP TABLE catalog.script_metadata_versions');
    await q.query('DROP TABLE catalog.script_metadata');
  }
}
