import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The login lock per (account, client address) instead of per account: wrong passwords from
 * one address (a shared office or carrier NAT address included) lock the account for that
 * address only, so nobody can lock someone else out by guessing. Locks of the old kind are
 * dropped (they last 15 minutes at most).
 */
export class LoginLocks1764610000000 implements MigrationInterface {
  name = 'LoginLocks1764610000000';

  async up(q: QueryRunner) {
    await q.query(`CREATE TABLE auth.login_locks (
      user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
      address text NOT NULL,
      failed_count integer NOT NULL DEFAULT 0,
      locked_until timestamptz,
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (user_id, address)
    )`);
    await q.query('CREATE INDEX login_locks_updated ON auth.login_locks (updated_at)');
    await q.query('ALTER TABLE auth.users DROP COLUMN failed_login_count, DROP COLUMN locked_until');
  }

  async down(q: QueryRunner) {
    await q.query('ALTER TABLE auth.users ADD COLUMN failed_login_count integer NOT NULL DEFAULT 0, ADD COLUMN locked_until timestamptz');
    await q.query('DROP TABLE auth.login_locks');
  }
}
