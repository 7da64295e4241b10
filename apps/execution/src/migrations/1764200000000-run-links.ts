import type { MigrationInterface, QueryRunner } from 'typeorm';

export class RunLinks1764200000000 implements MigrationInterface {
  name = 'RunLinks1764200000000';

  async up(q: QueryRunner) {
    await q.query('ALTER TABLE execution.executions ADD COLUMN rerun_of uuid REFERENCES execution.executions(id) ON DELETE SET NULL');
    await q.query('ALTER TABLE execution.executions ADD COLUMN runtime_ref text');
    await q.query('CREATE INDEX executions_script_state ON execution.executions (script_id, state)');
    await q.query('CREATE INDEX executions_user_state ON execution.executions (user_id, state)');
  }

  async down(q: QueryRunner) {
    await q.query('DROP INDEX execution.executions_user_state');
    await q.query('DROP INDEX execution.executions_script_state');
    await q.query('ALTER TABLE execution.executions DROP COLUMN runtime_ref');
    await q.query('ALTER TABLE execution.executions DROP COLUMN rerun_of');
  }
}
