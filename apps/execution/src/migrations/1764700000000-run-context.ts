import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The owner's level and the project's name when the run was submitted, published with the
 * run's events so logging keeps the run's context (retention by level, search by project).
 * Runs stored before have neither.
 */
export class RunContext1764700000000 implements MigrationInterface {
  name = 'RunContext1764700000000';

  async up(q: QueryRunner) {
    await q.query("ALTER TABLE execution.executions ADD COLUMN user_level text NOT NULL DEFAULT '', ADD COLUMN project_name text NOT NULL DEFAULT ''");
  }

  async down(q: QueryRunner) {
    await q.query('ALTER TABLE execution.executions DROP COLUMN user_level, DROP COLUMN project_name');
  }
}
