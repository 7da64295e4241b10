import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig, ServiceConfig } from './config.js';

const VALID = { DATABASE_URL: 'postgres://app:pw@127.0.0.1:5432/db', NATS_URL: 'nats://127.0.0.1:4222', GRPC_LISTEN: '127.0.0.1:50051', HTTP_PORT: '0' };

function problemsOf(env: Record<string, string>): string {
  try {
    loadConfig(ServiceConfig, { ...VALID, ...env });
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.message;
  }
  assert.fail('the configuration was accepted');
}

describe('configuration errors', () => {
  it('name a bad URL variable and what is wrong, with the password masked', () => {
    const message = problemsOf({ DATABASE_URL: 'mysql://app:hunter2-Secret@db.internal:3306/x?password=other-Secret' });
    assert.match(message, /DATABASE_URL must be a postgres:\/\/ URL/);
    assert.match(message, /mysql:\/\/app:\*\*\*@db\.internal:3306\/x\?\*\*\*/);
    assert.ok(!message.includes('hunter2-Secret') && !message.includes('other-Secret'), message);
  });

  it('never show any of a secret that is not even a URL', () => {
    const message = problemsOf({ NATS_URL: 'user:s3cr3t-token-value@nats' });
    assert.match(message, /NATS_URL must be a nats:\/\/ URL/);
    assert.match(message, /value hidden, 28 characters/);
    assert.ok(!message.includes('s3cr3t'), message);
  });

  it('still show a plain setting’s value, which helps and harms no one', () => {
    assert.match(problemsOf({ LOG_LEVEL: 'verbose' }), /LOG_LEVEL must be one of .* \(got "verbose"\)/);
  });
});
