import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '#common/config.js';
import { AuthConfig } from './auth.config.js';

describe('auth configuration', () => {
  it('refuses a too-short bootstrap admin password without printing it', () => {
    const env = { DATABASE_URL: 'postgres://a@h/db', NATS_URL: 'nats://h:4222', BOOTSTRAP_ADMIN_PASSWORD: 'Tiny-pw1' };
    assert.throws(
      () => loadConfig(AuthConfig, env),
      (error: Error) => {
        assert.match(error.message, /BOOTSTRAP_ADMIN_PASSWORD must be at least 10 characters long \(value hidden, 8 characters\)/);
        assert.ok(!error.message.includes('Tiny-pw1'), error.message);
        return true;
      },
    );
  });
});
