import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { IsNull, type Repository } from 'typeorm';
import type { Language, Theme } from '#contracts/levels.js';
import { UserRecord } from './user.entity.js';

export interface UserRow {
  username: string;
  email: string;
  passwordHash: string;
  level: string;
  language: string;
}

export interface UserColumns {
  level?: string;
  email?: string;
  active?: boolean;
}

function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: string; driverError?: { code?: string } };
  return e?.code === '23505' || e?.driverError?.code === '23505';
}

/** auth.users: accounts, levels and preferences. A deleted account keeps its row, anonymized and hidden. */
@Injectable()
export class UsersRepository {
  constructor(@InjectRepository(UserRecord) private readonly users: Repository<UserRecord>) {}

  /** The account, unless deleted. */
  async find(id: string): Promise<UserRecord | undefined> {
    return (await this.users.findOneBy({ id, deletedAt: IsNull() })) ?? undefined;
  }

  /** The account with this username (any case), with its password hash. */
  async findForLogin(username: string): Promise<(UserRecord & { passwordHash: string }) | undefined> {
    const user = await this.users
      .createQueryBuilder('u')
      .addSelect('u.passwordHash')
      .where('lower(u.username) = lower(:username)', { username })
      .andWhere('u.deleted_at IS NULL')
      .getOne();
    return (user as UserRecord & { passwordHash: string }) ?? undefined;
  }

  async passwordHashOf(id: string): Promise<string | undefined> {
    const user = await this.users.createQueryBuilder('u').addSelect('u.passwordHash').where('u.id = :id', { id }).getOne();
    return user?.passwordHash;
  }

  /** The new account's id; undefined when the username is taken. */
  async insert(row: UserRow): Promise<string | undefined> {
    try {
      const rows: { id: string }[] = await this.users.query(
        `INSERT INTO auth.users (username, email, password_hash, level, language) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
        [row.username, row.email, row.passwordHash, row.level, row.language],
      );
      return rows[0].id;
    } catch (error) {
      if (isUniqueViolation(error)) return undefined;
      throw error;
    }
  }

  /**
   * Inserts an admin only when there is no account at all (replicas starting together: at most one
   * insert wins). `beforeCommit` runs in the same transaction once the row is in: when it fails, no
   * admin exists. Returns the admin's id, or undefined when there were accounts already.
   */
  async insertFirstAdmin(username: string, passwordHash: string, beforeCommit?: () => void | Promise<void>): Promise<string | undefined> {
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
    return rows[0]?.id;
  }

  /** A page of the accounts (not deleted) by username, those whose username or email holds `search`; with how many match. */
  async page(offset: number, size: number, search: string): Promise<[UserRecord[], number]> {
    const query = this.users.createQueryBuilder('u').where('u.deleted_at IS NULL');
    if (search) {
      const like = `%${search.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      query.andWhere('(lower(u.username) LIKE :like OR lower(u.email) LIKE :like)', { like });
    }
    return query.orderBy('lower(u.username)').offset(offset).limit(size).getManyAndCount();
  }

  /** Sets the given columns (none: nothing happens). */
  async update(id: string, columns: UserColumns): Promise<void> {
    const set: string[] = [];
    const params: unknown[] = [id];
    for (const [column, value] of Object.entries(columns)) {
      if (value === undefined) continue;
      params.push(value);
      set.push(`${column} = $${params.length}`);
    }
    if (set.length === 0) return;
    await this.users.query(`UPDATE auth.users SET ${set.join(', ')}, updated_at = now() WHERE id = $1`, params);
  }

  /** Sets language and theme; an undefined one keeps its value. */
  async updatePreferences(id: string, language: Language | undefined, theme: Theme | undefined): Promise<void> {
    await this.users.query(
      `UPDATE auth.users SET language = COALESCE($2, language), theme = COALESCE($3, theme), updated_at = now() WHERE id = $1`,
      [id, language ?? null, theme ?? null],
    );
  }

  /**
   * The username becomes "deleted-<id>", the email is erased, the password can never match,
   * and the account is inactive and hidden; the row (and its id) stays.
   */
  async anonymize(id: string): Promise<void> {
    await this.users.query(
      `UPDATE auth.users SET username = 'deleted-' || replace(id::text, '-', ''), email = '', password_hash = '!deleted',
         active = false, language = 'en', theme = 'light',
         deleted_at = now(), updated_at = now()
       WHERE id = $1 AND deleted_at IS NULL`,
      [id],
    );
  }

  async setPasswordHash(id: string, passwordHash: string): Promise<void> {
    await this.users.query(`UPDATE auth.users SET password_hash = $2, updated_at = now() WHERE id = $1`, [id, passwordHash]);
  }
}
