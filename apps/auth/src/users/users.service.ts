import { Injectable } from '@nestjs/common';
import { conflict, invalidArgument, notFound, type FieldErrors } from '#common/errors.js';
import { isLanguage, isLevel, LANGUAGES, LEVELS, THEMES, type Language, type Theme } from '#contracts/levels.js';
import { checkPasswordRules, hashPassword } from './passwords.js';
import { LoginLocks } from './login-locks.repository.js';
import type { UserRecord } from './user.entity.js';
import { UsersRepository, type UserColumns } from './users.repository.js';
import { isUuid } from '#common/ids.js';

export const USERNAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$/;
/** Deliberately plain: no quotes, angle brackets or spaces (nothing a template or a query could mistake for code). */
export const EMAIL_PATTERN = /^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$/;

export interface NewUser {
  username: string;
  email?: string;
  password: string;
  level?: string;
  language?: string;
}

export interface UserPage {
  users: UserRecord[];
  nextPageToken: string;
  totalSize: number;
}

function check(fields: FieldErrors) {
  const problems = Object.values(fields);
  if (problems.length) throw invalidArgument(problems.join('; '), fields);
}

/** Accounts, levels, preferences and the per-account login lock: the rules; the SQL is in UsersRepository. */
@Injectable()
export class UsersService {
  constructor(
    private readonly users: UsersRepository,
    private readonly locks: LoginLocks,
  ) {}

  async get(id: string): Promise<UserRecord> {
    const user = isUuid(id) ? await this.users.find(id) : undefined;
    if (!user) throw notFound(`User ${JSON.stringify(id)} does not exist`);
    return user;
  }

  /** The user with this username (any case), with its password hash; undefined when none. */
  findForLogin(username: string): Promise<(UserRecord & { passwordHash: string }) | undefined> {
    return this.users.findForLogin(username);
  }

  async passwordHashOf(id: string): Promise<string> {
    const hash = await this.users.passwordHashOf(id);
    if (hash === undefined) throw notFound(`User ${JSON.stringify(id)} does not exist`);
    return hash;
  }

  async create(input: NewUser): Promise<UserRecord> {
    const username = (input.username ?? '').trim();
    const email = (input.email ?? '').trim();
    const level = input.level || 'viewer';
    const language = input.language || 'en';
    const fields: FieldErrors = {};
    if (!USERNAME_PATTERN.test(username)) fields.username = 'Username must be 3-64 letters, digits, dots, dashes or underscores, starting with a letter or digit';
    if (email && !EMAIL_PATTERN.test(email)) fields.email = 'Email must look like name@example.com';
    if (!isLevel(level)) fields.level = `Level must be one of ${LEVELS.join(', ')}`;
    if (!isLanguage(language)) fields.language = `Language must be one of ${LANGUAGES.join(', ')}`;
    check(fields);
    checkPasswordRules(input.password, username);
    const passwordHash = await hashPassword(input.password);
    const id = await this.users.insert({ username, email, passwordHash, level, language });
    if (!id) throw conflict(`Username "${username}" is already taken`);
    return this.get(id);
  }

  /**
   * Creates the admin when there is no user (safe for replicas starting together). `beforeCommit`
   * runs inside the same transaction once the row is in: when it fails, no admin exists (so a
   * generated password is never committed without being kept somewhere).
   */
  async createFirstAdmin(username: string, passwordHash: string, beforeCommit?: () => void | Promise<void>): Promise<UserRecord | undefined> {
    const id = await this.users.insertFirstAdmin(username, passwordHash, beforeCommit);
    return id ? this.get(id) : undefined;
  }

  async list(pageSize: number, pageToken: string, search: string): Promise<UserPage> {
    const size = pageSize || 50;
    if (!Number.isInteger(size) || size < 1 || size > 200) {
      throw invalidArgument('page_size must be between 1 and 200', { page_size: 'must be between 1 and 200' });
    }
    const offset = pageToken ? Number(Buffer.from(pageToken, 'base64url').toString()) : 0;
    if (!Number.isInteger(offset) || offset < 0) throw invalidArgument('Invalid page_token', { page_token: 'is not a token this service gave out' });
    const [users, totalSize] = await this.users.page(offset, size, search.trim());
    const next = offset + users.length;
    return { users, totalSize, nextPageToken: next < totalSize ? Buffer.from(String(next)).toString('base64url') : '' };
  }

  async update(id: string, changes: UserColumns): Promise<UserRecord> {
    const user = await this.get(id);
    const fields: FieldErrors = {};
    if (changes.level !== undefined && !isLevel(changes.level)) fields.level = `Level must be one of ${LEVELS.join(', ')}`;
    const email = changes.email?.trim();
    if (email && !EMAIL_PATTERN.test(email)) fields.email = 'Email must look like name@example.com';
    check(fields);
    if (changes.level === undefined && email === undefined && changes.active === undefined) return user;
    await this.users.update(id, { level: changes.level, email, active: changes.active });
    return this.get(id);
  }

  async updatePreferences(id: string, language?: string, theme?: string): Promise<UserRecord> {
    const fields: FieldErrors = {};
    if (language !== undefined && !isLanguage(language)) fields.language = `Language must be one of ${LANGUAGES.join(', ')}`;
    if (theme !== undefined && !(THEMES as readonly string[]).includes(theme)) fields.theme = `Theme must be one of ${THEMES.join(', ')}`;
    check(fields);
    await this.users.updatePreferences(id, language as Language | undefined, theme as Theme | undefined);
    return this.get(id);
  }

  /**
   * Deletes an account by anonymizing it: the row (and so its id, which runs, logs and
   * project data refer to) stays, but the username becomes "deleted-<id>", the email is
   * erased, the password can never match, and the account is inactive and hidden.
   * Returns the account as it was.
   */
  async anonymize(id: string): Promise<UserRecord> {
    const user = await this.get(id);
    await this.users.anonymize(id);
    await this.locks.clear(id);
    return user;
  }

  /** Sets a new password (rules checked) and clears the login lock. */
  async setPassword(id: string, password: string, field = 'new_password'): Promise<void> {
    const user = await this.get(id);
    checkPasswordRules(password, user.username, field);
    const hash = await hashPassword(password);
    await this.users.setPasswordHash(id, hash);
    await this.locks.clear(id);
  }

  /** Clears the account's failed-login counts and locks (from every address); returns the account and whether it was locked. */
  async unlock(id: string): Promise<{ user: UserRecord; wasLocked: boolean; failedLoginCount: number }> {
    const user = await this.get(id);
    return { user, ...(await this.locks.clear(user.id)) };
  }
}
