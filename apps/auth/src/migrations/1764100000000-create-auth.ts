import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateAuth1764100000000 implements MigrationInterface {
  name = 'CreateAuth1764100000000';

  async up(q: QueryRunner) {
    await q.query(`CREATE TABLE auth.users (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      username text NOT NULL,
      email text NOT NULL DEFAULT '',
      password_hash text NOT NULL,
      level text NOT NULL CHECK (level IN ('viewer', 'operator', 'developer', 'admin')),
      language text NOT NULL DEFAULT 'en' CHECK (language IN ('en', 'es', 'it', 'fr')),
      theme text NOT NULL DEFAULT 'light' CHECK (theme IN ('light', 'dark')),
      active boolean NOT NULL DEFAULT true,
      failed_login_count integer NOT NULL DEFAULT 0,
      locked_until timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query('CREATE UNIQUE INDEX users_username_ci ON auth.users (lower(username))');

    // generation is unique so that replicas starting together agree on one key:
    // each inserts generation 1 with ON CONFLICT DO NOTHING and then uses the stored row.
    await q.query(`CREATE TABLE auth.signing_keys (
      kid text PRIMARY KEY,
      generation integer NOT NULL UNIQUE,
      algorithm text NOT NULL DEFAULT 'RS256',
      private_key_pem text NOT NULL,
      public_key_pem text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`);

    await q.query(`CREATE TABLE auth.refresh_tokens (
      id uuid PRIMARY KEY,
      family_id uuid NOT NULL,
      user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
      token_hash text NOT NULL UNIQUE,
      expires_at timestamptz NOT NULL,
      revoked_at timestamptz,
      replaced_by uuid,
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query('CREATE INDEX refresh_tokens_family ON auth.refresh_tokens (family_id)');
    await q.query('CREATE INDEX refresh_tokens_user ON auth.refresh_tokens (user_id)');
    await q.query('CREATE INDEX refresh_tokens_expires ON auth.refresh_tokens (expires_at)');
  }

  async down(q: QueryRunner) {
    await q.query('DROP TABLE auth.refresh_tokens');
    await q.query('DROP TABLE auth.signing_keys');
    await q.query('DROP TABLE auth.users');
  }
}
