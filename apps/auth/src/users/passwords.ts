import { randomInt } from 'node:crypto';
import argon2 from 'argon2';
import { invalidArgument } from '#common/errors.js';

export const MIN_PASSWORD_LENGTH = 10;
export const MAX_PASSWORD_LENGTH = 1024;

/**
 * The password rules, one clear message per problem. `field` names the request
 * field the message is attached to (password, new_password).
 */
export function checkPasswordRules(password: string, username?: string, field = 'password'): void {
  let problem: string | undefined;
  if (typeof password !== 'string' || password.length < MIN_PASSWORD_LENGTH) {
    problem = `Password must be at least ${MIN_PASSWORD_LENGTH} characters long`;
  } else if (password.length > MAX_PASSWORD_LENGTH) {
    problem = `Password must be at most ${MAX_PASSWORD_LENGTH} characters long`;
  } else if (password.trim().length === 0) {
    problem = 'Password must not be only spaces';
  } else if (username && password.toLowerCase() === username.toLowerCase()) {
    problem = 'Password must not be the same as the username';
  }
  if (problem) throw invalidArgument(problem, { [field]: problem });
}

// argon2id with the library's defaults (64 MiB, t=3, p=4): OWASP's recommended range.
export function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, { type: argon2.argon2id });
}

export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  try {
    return await argon2.verify(hash, password);
  } catch {
    return false;
  }
}

let dummyHash: Promise<string> | undefined;
/** Spends the time of one verification, so an unknown username answers as slowly as a wrong password. */
export async function verifyAgainstDummy(password: string): Promise<void> {
  dummyHash ??= hashPassword('dummy password that matches nothing');
  await verifyPassword(await dummyHash, password);
}

// No look-alike characters (0/O, 1/l/I), so it can be read off a terminal.
const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';
/** A random password for the bootstrap admin: 20 characters, ~115 bits. */
export function generatePassword(length = 20): string {
  let password = '';
  for (let i = 0; i < length; i++) password += ALPHABET[randomInt(ALPHABET.length)];
  return password;
}
