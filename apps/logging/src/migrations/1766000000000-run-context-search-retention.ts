import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What search, export, statistics and retention need, in logging's own schema:
 * - `log_runs`: each run's context as execution's events told it (never read from execution's tables),
 *   with a generated full-text vector of its script, project, state and (masked) parameters;
 * - `log_chunks.search_vector`: the rows' text, indexed by a background indexer so ingest never
 *   waits for it (rows not indexed yet are still searched, by computing their vector);
 * - `log_streams`: bytes stored (size caps, statistics) and the deletion of a log's lines;
 * - `retention_policies`: by user level or by script group.
 * PostgreSQL's built-in full-text search: nothing to install, the same in PGlite.
 */
export class RunContextSearchRetention1766000000000 implements MigrationInterface {
  name = 'RunContextSearchRetention1766000000000';

  async up(q: QueryRunner) {
    await q.query(`CREATE FUNCTION logging.lines_text(lines text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
      AS $$ SELECT coalesce(string_agg(e->>'text', E'\\n'), '') FROM jsonb_array_elements(lines::jsonb) e $$`);
    await q.query(`ALTER TABLE logging.log_chunks ADD COLUMN search_vector tsvector`);
    await q.query(`CREATE INDEX log_chunks_search ON logging.log_chunks USING gin (search_vector)`);
    await q.query(`CREATE INDEX log_chunks_unindexed ON logging.log_chunks (execution_id, first_sequence) WHERE search_vector IS NULL`);
    await q.query(`ALTER TABLE logging.log_streams ADD COLUMN stored_bytes bigint NOT NULL DEFAULT 0,
      ADD COLUMN deleted_at timestamptz, ADD COLUMN deleted_by text NOT NULL DEFAULT '', ADD COLUMN deletion_reason text NOT NULL DEFAULT ''`);
    await q.query(`UPDATE logging.log_streams s SET stored_bytes = c.bytes
      FROM (SELECT execution_id, sum(octet_length(lines))::bigint AS bytes FROM logging.log_chunks GROUP BY execution_id) c WHERE c.execution_id = s.execution_id`);
    await q.query(`CREATE TABLE logging.log_runs (
      execution_id uuid PRIMARY KEY,
      user_id text NOT NULL,
      username text NOT NULL DEFAULT '',
      user_level text NOT NULL DEFAULT '',
      script_id text NOT NULL DEFAULT '',
      script_name text NOT NULL DEFAULT '',
      group_id text NOT NULL DEFAULT '',
      project_id text NOT NULL DEFAULT '',
      project_name text NOT NULL DEFAULT '',
      parameters jsonb NOT NULL DEFAULT '{}',
      state text NOT NULL DEFAULT '',
      exit_code integer,
      version integer NOT NULL DEFAULT 0,
      created_at timestamptz NOT NULL,
      started_at timestamptz,
      finished_at timestamptz,
      duration_ms bigint,
      -- Script ids are also split at / . _ - so "greet" finds getting_started/greet.py.
      search_vector tsvector GENERATED ALWAYS AS (to_tsvector('simple', script_id || ' ' || translate(script_id, '/._-', '    ') || ' ' ||
        script_name || ' ' || group_id || ' ' || project_name || ' ' || state || ' ' || parameters::text)) STORED
    )`);
    await q.query(`CREATE INDEX log_runs_user_created ON logging.log_runs (user_id, created_at DESC, execution_id DESC)`);
    await q.query(`CREATE INDEX log_runs_created ON logging.log_runs (created_at DESC, execution_id DESC)`);
    await q.query(`CREATE INDEX log_runs_search ON logging.log_runs USING gin (search_vector)`);
    // Logs stored before runs had a context: their owner and time are known, the rest is not.
    await q.query(`INSERT INTO logging.log_runs (execution_id, user_id, created_at)
      SELECT execution_id, user_id, created_at FROM logging.log_streams ON CONFLICT DO NOTHING`);
    await q.query(`CREATE TABLE logging.retention_policies (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      scope text NOT NULL CHECK (scope IN ('level', 'group')),
      target text NOT NULL,
      keep_days integer CHECK (keep_days >= 1),
      max_runs_per_script integer CHECK (max_runs_per_script >= 1),
      max_bytes_per_user bigint CHECK (max_bytes_per_user >= 1),
      updated_at timestamptz NOT NULL DEFAULT now(),
      updated_by text NOT NULL DEFAULT '',
      UNIQUE (scope, target)
    )`);
  }

  async down(q: QueryRunner) {
    await q.query(`DROP TABLE logging.retention_policies`);
    await q.query(`DROP TABLE logging.log_runs`);
    await q.query(`ALTER TABLE logging.log_streams DROP COLUMN stored_bytes, DROP COLUMN deleted_at, DROP COLUMN deleted_by, DROP COLUMN deletion_reason`);
    await q.query(`ALTER TABLE logging.log_chunks DROP COLUMN search_vector`);
    await q.query(`DROP FUNCTION logging.lines_text(text)`);
  }
}
