import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Interactive sessions and their hashed secrets (one-time entry tokens, browser credentials). */
export class InteractiveSessions1764400000000 implements MigrationInterface {
  name = 'InteractiveSessions1764400000000';

  async up(q: QueryRunner) {
    await q.query(`CREATE TABLE execution.sessions (
      id uuid PRIMARY KEY,
      execution_id uuid NOT NULL UNIQUE,
      user_id text NOT NULL,
      username text NOT NULL,
      script_id text NOT NULL,
      script_name text NOT NULL,
      upstream text NOT NULL,
      state text NOT NULL DEFAULT 'open',
      closed_reason text NOT NULL DEFAULT '',
      created_at timestamptz NOT NULL DEFAULT now(),
      last_heartbeat_at timestamptz NOT NULL DEFAULT now(),
      closed_at timestamptz
    )`);
    await q.query(`CREATE INDEX sessions_open_user ON execution.sessions (user_id) WHERE state = 'open'`);
    await q.query('CREATE INDEX sessions_created ON execution.sessions (created_at DESC)');
    await q.query(`CREATE TABLE execution.session_secrets (
      hash text PRIMARY KEY,
      session_id uuid NOT NULL REFERENCES execution.sessions(id) ON DELETE CASCADE,
      kind text NOT NULL,
      user_id text NOT NULL,
      expires_at timestamptz NOT NULL
    )`);
    await q.query('CREATE INDEX session_secrets_session ON execution.session_secrets (session_id)');
  }

  async down(q: QueryRunner) {
    await q.query('DROP TABLE execution.session_secrets');
    await q.query('DROP TABLE execution.sessions');
  }
}
