import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { DomainError } from '#common/errors.js';
import { checkPasswordRules, generatePassword, hashPassword, verifyPassword } from './passwords.js';

function ruleError(fn: () => void): DomainError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof DomainError);
    return error;
  }
  assert.fail('expected the password to be rejected');
}

describe('password rules', () => {
  it('rejects passwords shorter than 10 characters with a clear message', () => {
    const error = ruleError(() => checkPasswordRules('short1234'));
    assert.equal(error.code, status.INVALID_ARGUMENT);
    assert.equal(error.message, 'Password must be at least 10 characters long');
    assert.deepEqual(error.fields, { password: 'Password must be at least 10 characters long' });
  });

  it('names the request field the password came from', () => {
    assert.deepEqual(Object.keys(ruleError(() => checkPasswordRules('', undefined, 'new_password')).fields ?? {}), ['new_password']);
  });

  it('rejects the username as password, blank and over-long passwords', () => {
    assert.match(ruleError(() => checkPasswordRules('Alice12345', 'alice12345')).message, /same as the username/);
    assert.match(ruleError(() => checkPasswordRules(' '.repeat(12))).message, /only spaces/);
    assert.match(ruleError(() => checkPasswordRules('x'.repeat(1025))).message, /at most 1024/);
  });

  it('accepts 10 characters and more', () => {
    checkPasswordRules('0123456789');
    checkPasswordRules('correct horse battery staple', 'alice');
  });

  it('generates random 20-character passwords that pass the rules', () => {
    const a = generatePassword();
    assert.equal(a.length, 20);
    assert.notEqual(a, generatePassword());
    checkPasswordRules(a, 'admin');
  });

  it('hashes with argon2id and verifies', async () => {
    const hash = await hashPassword('correct horse battery');
    assert.match(hash, /^\$argon2id\$/);
    assert.equal(await verifyPassword(hash, 'correct horse battery'), true);
    assert.equal(await verifyPassword(hash, 'wrong horse battery'), false);
    assert.equal(await verifyPassword('not a hash', 'anything'), false);
  });
});
