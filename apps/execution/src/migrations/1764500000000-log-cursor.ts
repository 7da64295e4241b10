import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Restart safety of the kubernetes runtime: where a run's output got to (log cursor and
 * line sequence, written before each batch of lines is published), and a heartbeat per
 * execution-service replica, so the runs of a replica that died can be adopted.
 */
export class LogCursor1764500000000 implements MigrationInterface {
  name = 'LogCursor1764500000000';

  async up(q: QueryRunner) {
    await q.query('ALTER TABLE execution.executions ADD COLUMN log_cursor jsonb');
    await q.query(`CREATE TABLE execution.instances (
      instance_id text PRIMARY KEY,
      started_at timestamptz NOT NULL DEFAULT now(),
      last_seen timestamptz NOT NULL DEFAULT now()
    )`);
  }

  async down(q: QueryRunner) {
    await q.query('DROP TABLE execution.instances');
    await q.query('ALTER TABLE execution.executions DROP COLUMN log_cursor');
  }
}
