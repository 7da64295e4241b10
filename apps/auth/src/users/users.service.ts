import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { IsNull, type Repository } from 'typeorm';
import { conflict, invalidArgument, notFound, type FieldErrors } from '#common/errors.js';
import { isLanguage, isLevel, LANGUAGES, LEVELS, THEMES, type Language, type Theme } from '#contracts/levels.js';
import { checkPasswordRules, hashPassword } from './passwords.js';
import { LoginLocks } from './login-locks.repository.js';
import { UserRecord } from './user.entity.js';
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

export interface UserChanges {
  level?: string;
  email?: string;
  active?: boolean;
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

function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: string; driverError?: { code?: string } };
  return e?.code === '23505' || e?.driverError?.code === '23505';
}

/** The users table: accounts, levels, preferences and the per-account login lock. */
@Injectable()
export class UsersService {
  constructor(
    @InjectRepository(UserRecord) private readonly users: Repository<UserRecord>,
    private readonly locks: LoginLocks,
  ) {}

  async get(id: string): Promise<UserRecord> {
    const user = isUuid(id) ? await this.users.findOneBy({ id, deletedAt: IsNull() }) : null;
    if (!user) throw notFound(`User ${JSON.stringify(id)} does not exist`);
    return user;
  }

  /** The user with this username (any case), with its password hash; undefined when none. */
  async findForLogin(username: string): Promise<(UserRecord & { passwordHash: string }) | undefined> {
    const user = await this.users
      .createQueryBuilder('u')
      .addSelect('u.passwordHash')
      .where('lower(u.username) = lower(:username)', { username })
      .andWhere('u.deleted_at IS NULL')
      .getOne();
    return (user as UserRecord & { passwordHash: string }) ?? undefined;
  }

  async passwordHashOf(id: string): Promise<string> {
    const user = await this.users.createQueryBuilder('u').addSelect('u.passwordHash').where('u.id = :id', { id }).getOne();
    if (!user) throw notFound(`User ${JSON.stringify(id)} does not exist`);
    return user.passwordHash;
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
    try {
      const rows: { id: string }[] = await this.users.query(
        `INSERT INTO auth.users (username, email, password_hash, level, language) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
        [username, email, passwordHash, level, language],
      );
      return this.get(rows[0].id);
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict(`Username "${username}" is already taken`);
      throw error;
    }
  }

  /**
   * Creates the first user, an admin, only when there is no user at all.
   * Safe for replicas starting together: at most one insert wins.
   */
  /**
   * Creates the admin when there is no user. `beforeCommit` runs inside the same transaction
   * once the row is in: when it fails, no admin exists (so a generated password is never
   * committed without being kept somewhere).
   */
  async createFirstAdmin(username: string, passwordHash: string, beforeCommit?: () => void | Promise<void>): Promise<UserRecord | undefined> {
    const rows = await this.users.manager.transaction(async (tx) => {
      const inserted: { id: string }[] = await tx.query(
        `INSERT INTO auth.users (username, password_hash, level)
         SELECT $1, $2, 'admin' WHERE NOT EXISTS (SELECT 1 FROM auth.users)
         ON CONFLICT DO NOTHING RETURNING id`,
        [username, passwordHash],
      );
      if (inserted.length) await beforeCommit?.();
      return inserted;
    });
    return rows.length ? this.get(rows[0].id) : undefined;
  }

  async list(pageSize: number, pageToken: string, search: string): Promise<UserPage> {
    const size = pageSize || 50;
    if (!Number.isInteger(size) || size < 1 || size > 200) {
      throw invalidArgument('page_size must be between 1 and 200', { page_size: 'must be between 1 and 200' });
    }
    const offset = pageToken ? Number(Buffer.from(pageToken, 'base64url').toString()) : 0;
    if (!Number.isInteger(offset) || offset < 0) throw invalidArgument('Invalid page_token', { page_token: 'is not a token this service gave out' });
    const query = this.users.createQueryBuilder('u').where('u.deleted_at IS NULL');
    const term = search.trim();
    if (term) {
      const like = `%${term.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      query.andWhere('(lower(u.username) LIKE :like OR lower(u.email) LIKE :like)', { like });
    }
    const [users, totalSize] = await query.orderBy('lower(u.username)').offset(offset).limit(size).getManyAndCount();
    const next = offset + users.length;
    return { users, totalSize, nextPageToken: next < totalSize ? Buffer.from(String(next)).toString('base64url') : '' };
  }

  async update(id: string, changes: UserChanges): Promise<UserRecord> {
    const user = await this.get(id);
    const fields: FieldErrors = {};
    if (changes.level !== undefined && !isLevel(changes.level)) fields.level = `Level must be one of ${LEVELS.join(', ')}`;
    const email = changes.email?.trim();
    if (email && !EMAIL_PATTERN.test(email)) fields.email = 'Email must look like name@example.com';
    check(fields);
    const set: string[] = [];
    const params: unknown[] = [id];
    const add = (column: string, value: unknown) => {
      params.push(value);
      set.push(`${column} = $${params.length}`);
    };
    if (changes.level !== undefined) add('level', changes.level);
    if (email !== undefined) add('email', email);
    if (changes.active !== undefined) add('active', changes.active);
    if (set.length === 0) return user;
    await this.users.query(`UPDATE auth.users SET ${set.join(', ')}, updated_at = now() WHERE id = $1`, params);
    return this.get(id);
  }

  async updatePreferences(id: string, language?: string, theme?: string): Promise<UserRecord> {
    const fields: FieldErrors = {};
    if (language !== undefined && !isLanguage(language)) fields.language = `Language must be one of ${LANGUAGES.join(', ')}`;
    if (theme !== undefined && !(THEMES as readonly string[]).includes(theme)) fields.theme = `Theme must be one of ${THEMES.join(', ')}`;
    check(fields);
    await this.users.query(
      `UPDATE auth.users SET language = COALESCE($2, language), theme = COALESCE($3, theme), updated_at = now() WHERE id = $1`,
      [id, (language as Language | undefined) ?? null, (theme as Theme | undefined) ?? null],
    );
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
    await this.users.query(
      `UPDATE auth.users SET username = 'deleted-' || replace(id::text, '-', ''), email = '', password_hash = '!deleted',
         active = false, language = 'en', theme = 'light',
         deleted_at = now(), updated_at = now()
       WHERE id = $1 AND deleted_at IS NULL`,
      [id],
    );
    await this.locks.clear(id);
    return user;
  }

  /** Sets a new password (rules checked) and clears the login lock. */
  async setPassword(id: string, password: string, field = 'new_password'): Promise<void> {
    const user = await this.get(id);
    checkPasswordRules(password, user.username, field);
    const hash = await hashPassword(password);
    await this.users.query(
      `UPDATE auth.users SET password_hash = $2, updated_at = now() WHERE id = $1`,
      [id, hash],
    );
    await this.locks.clear(id);
  }

  /** Clears the account's failed-login counts and locks (from every address); returns the account and whether it was locked. */
  async unlock(id: string): Promise<{ user: UserRecord; wasLocked: boolean; failedLoginCount: number }> {
    const user = await this.get(id);
    return { user, ...(await this.locks.clear(user.id)) };
  }
}
