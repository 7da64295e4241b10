import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateExecutions1764000000000 implements MigrationInterface {
  name = 'CreateExecutions1764000000000';

  async up(q: QueryRunner) {
    await q.query(`CREATE TABLE execution.executions (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      script_id text NOT NULL,
      script_name text NOT NULL,
      group_id text NOT NULL,
      user_id text NOT NULL,
      username text NOT NULL,
      state text NOT NULL,
      state_reason text NOT NULL DEFAULT '',
      parameters jsonb NOT NULL,
      launch_spec jsonb,
      idempotency_key text,
      project_id text NOT NULL,
      exit_code integer,
      progress integer NOT NULL DEFAULT 0,
      progress_message text NOT NULL DEFAULT '',
      result jsonb,
      error text NOT NULL DEFAULT '',
      owner_instance text,
      version integer NOT NULL DEFAULT 1,
      created_at timestamptz NOT NULL DEFAULT now(),
      started_at timestamptz,
      finished_at timestamptz
    )`);
    await q.query('CREATE UNIQUE INDEX executions_idempotency ON execution.executions (user_id, idempotency_key) WHERE idempotency_key IS NOT NULL');
    await q.query('CREATE INDEX executions_user_created ON execution.executions (user_id, created_at DESC, id DESC)');
    await q.query('CREATE INDEX executions_created ON execution.executions (created_at DESC, id DESC)');
    await q.query(`CREATE INDEX executions_queued ON execution.executions (created_at) WHERE state = 'queued'`);
    await q.query(`CREATE TABLE execution.execution_transitions (
      id bigserial PRIMARY KEY,
      execution_id uuid NOT NULL REFERENCES execution.executions(id) ON DELETE CASCADE,
      from_state text,
      to_state text NOT NULL,
      reason text NOT NULL DEFAULT '',
      at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query('CREATE INDEX execution_transitions_execution ON execution.execution_transitions (execution_id, id)');
  }

  async down(q: QueryRunner) {
    await q.query('DROP TABLE execution.execution_transitions');
    await q.query('DROP TABLE execution.executions');
  }
}
