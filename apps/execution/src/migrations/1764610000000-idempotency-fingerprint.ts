import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What a run's Idempotency-Key stood for: a hash of the request (script, parameters with
 * secrets masked, project), so the same key with another request is refused instead of
 * answered with the first run. Runs stored before have none and match any request.
 */
export class IdempotencyFingerprint1764610000000 implements MigrationInterface {
  name = 'IdempotencyFingerprint1764610000000';

  async up(q: QueryRunner) {
    await q.query('ALTER TABLE execution.executions ADD COLUMN idempotency_fingerprint text');
  }

  async down(q: QueryRunner) {
    await q.query('ALTER TABLE execution.executions DROP COLUMN idempotency_fingerprint');
  }
}
