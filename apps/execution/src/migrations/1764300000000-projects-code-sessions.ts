import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Projects (named data directories per user and script group), the active one per user and group, and code sessions. */
export class ProjectsCodeSessions1764300000000 implements MigrationInterface {
  name = 'ProjectsCodeSessions1764300000000';

  async up(q: QueryRunner) {
    await q.query(`CREATE TABLE execution.projects (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      user_id text NOT NULL,
      group_id text NOT NULL,
      name text NOT NULL,
      is_default boolean NOT NULL DEFAULT false,
      dir_name text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query('CREATE UNIQUE INDEX projects_name ON execution.projects (user_id, group_id, lower(name))');
    await q.query('CREATE UNIQUE INDEX projects_default ON execution.projects (user_id, group_id) WHERE is_default');
    await q.query(`CREATE TABLE execution.active_projects (
      user_id text NOT NULL,
      group_id text NOT NULL,
      project_id uuid NOT NULL REFERENCES execution.projects(id) ON DELETE CASCADE,
      PRIMARY KEY (user_id, group_id)
    )`);
    await q.query(`CREATE TABLE execution.code_sessions (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      user_id text NOT NULL,
      username text NOT NULL,
      name text NOT NULL,
      language text NOT NULL,
      source text NOT NULL,
      version integer NOT NULL DEFAULT 1,
      project_id uuid REFERENCES execution.projects(id) ON DELETE SET NULL,
      timeout_seconds integer NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query('CREATE INDEX code_sessions_user ON execution.code_sessions (user_id, updated_at DESC)');
    // One active run per code session, enforced by the database (runs of a session have script_id "code-session:<id>").
    await q.query(`CREATE UNIQUE INDEX executions_code_session_active ON execution.executions (script_id)
      WHERE script_id LIKE 'code-session:%' AND state IN ('queued', 'starting', 'running')`);
    await q.query('CREATE INDEX executions_project_state ON execution.executions (project_id, state)');
  }

  async down(q: QueryRunner) {
    await q.query('DROP INDEX execution.executions_project_state');
    await q.query('DROP INDEX execution.executions_code_session_active');
    await q.query('DROP TABLE execution.code_sessions');
    await q.query('DROP TABLE execution.active_projects');
    await q.query('DROP TABLE execution.projects');
  }
}
