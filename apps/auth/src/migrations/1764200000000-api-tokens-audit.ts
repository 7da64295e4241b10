import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Personal API tokens, the audit trail, and deleted (anonymized) accounts. */
export class ApiTokensAudit1764200000000 implements MigrationInterface {
  name = 'ApiTokensAudit1764200000000';

  async up(q: QueryRunner) {
    await q.query('ALTER TABLE auth.users ADD COLUMN deleted_at timestamptz');

    await q.query(`CREATE TABLE auth.api_tokens (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
      name text NOT NULL,
      level text NOT NULL CHECK (level IN ('viewer', 'operator', 'developer', 'admin')),
      token_hash text NOT NULL UNIQUE,
      prefix text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      expires_at timestamptz NOT NULL,
      last_used_at timestamptz,
      revoked_at timestamptz
    )`);
    await q.query('CREATE INDEX api_tokens_user ON auth.api_tokens (user_id)');

    // No foreign keys: the trail outlives accounts, and other services' events name their own targets.
    await q.query(`CREATE TABLE auth.audit_events (
      seq bigserial PRIMARY KEY,
      id text NOT NULL UNIQUE,
      occurred_at timestamptz NOT NULL DEFAULT now(),
      service text NOT NULL DEFAULT 'auth',
      action text NOT NULL,
      outcome text NOT NULL CHECK (outcome IN ('success', 'failure')),
      actor_id text NOT NULL DEFAULT '',
      actor_username text NOT NULL DEFAULT '',
      target_type text NOT NULL DEFAULT '',
      target_id text NOT NULL DEFAULT '',
      target_name text NOT NULL DEFAULT '',
      ip text NOT NULL DEFAULT '',
      details jsonb NOT NULL DEFAULT '{}'::jsonb
    )`);
    await q.query('CREATE INDEX audit_events_actor ON auth.audit_events (actor_id, seq)');
    await q.query('CREATE INDEX audit_events_target ON auth.audit_events (target_id, seq)');
    await q.query('CREATE INDEX audit_events_action ON auth.audit_events (action, seq)');
    await q.query('CREATE INDEX audit_events_occurred ON auth.audit_events (occurred_at)');
  }

  async down(q: QueryRunner) {
    await q.query('DROP TABLE auth.audit_events');
    await q.query('DROP TABLE auth.api_tokens');
    await q.query('ALTER TABLE auth.users DROP COLUMN deleted_at');
  }
}
