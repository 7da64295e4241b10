import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateLogs1764000000000 implements MigrationInterface {
  name = 'CreateLogs1764000000000';

  async up(q: QueryRunner) {
    await q.query(`CREATE TABLE logging.log_streams (
      execution_id uuid PRIMARY KEY,
      user_id text NOT NULL,
      line_count integer NOT NULL DEFAULT 0,
      complete boolean NOT NULL DEFAULT false,
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query('CREATE INDEX log_streams_user ON logging.log_streams (user_id, created_at DESC)');
    await q.query(`CREATE TABLE logging.log_chunks (
      execution_id uuid NOT NULL,
      first_sequence integer NOT NULL,
      last_sequence integer NOT NULL,
      lines jsonb NOT NULL,
      PRIMARY KEY (execution_id, first_sequence)
    )`);
  }

  async down(q: QueryRunner) {
    await q.query('DROP TABLE logging.log_chunks');
    await q.query('DROP TABLE logging.log_streams');
  }
}
