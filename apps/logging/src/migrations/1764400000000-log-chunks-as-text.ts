import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Chunks are written far more often than they are queried inside the database:
 * storing them as JSON text skips jsonb parsing on every write (the embedded
 * database spent most of a log flood there).
 */
export class LogChunksAsText1764400000000 implements MigrationInterface {
  name = 'LogChunksAsText1764400000000';

  async up(q: QueryRunner) {
    await q.query('ALTER TABLE logging.log_chunks ALTER COLUMN lines TYPE text USING lines::text');
  }

  async down(q: QueryRunner) {
    await q.query('ALTER TABLE logging.log_chunks ALTER COLUMN lines TYPE jsonb USING lines::jsonb');
  }
}
