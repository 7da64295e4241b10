import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { Level } from '#contracts/levels.js';

export interface ApiTokenRecord {
  id: string;
  userId: string;
  name: string;
  level: Level;
  prefix: string;
  createdAt: Date;
  expiresAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

/** A token found by its hash, with what its owner's account says now. */
export interface ApiTokenWithOwner extends ApiTokenRecord {
  username: string;
  ownerLevel: Level;
  language: string;
  theme: string;
  ownerActive: boolean;
}

interface Row {
  id: string;
  user_id: string;
  name: string;
  level: Level;
  prefix: string;
  created_at: Date;
  expires_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

const toRecord = (r: Row): ApiTokenRecord => ({
  id: r.id,
  userId: r.user_id,
  name: r.name,
  level: r.level,
  prefix: r.prefix,
  createdAt: new Date(r.created_at),
  expiresAt: new Date(r.expires_at),
  lastUsedAt: r.last_used_at ? new Date(r.last_used_at) : null,
  revokedAt: r.revoked_at ? new Date(r.revoked_at) : null,
});

/** auth.api_tokens: personal API tokens, stored as the sha256 of the token. */
@Injectable()
export class ApiTokensRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  async insert(token: { userId: string; name: string; level: string; tokenHash: string; prefix: string; expiresInDays: number }): Promise<ApiTokenRecord> {
    const rows: Row[] = await this.db.query(
      `INSERT INTO auth.api_tokens (user_id, name, level, token_hash, prefix, expires_at)
       VALUES ($1, $2, $3, $4, $5, now() + make_interval(days => $6)) RETURNING *`,
      [token.userId, token.name, token.level, token.tokenHash, token.prefix, token.expiresInDays],
    );
    return toRecord(rows[0]);
  }

  /** A user's tokens, newest first; only usable ones (neither revoked nor expired) unless includeInactive. */
  async ofUser(userId: string, includeInactive: boolean): Promise<ApiTokenRecord[]> {
    const rows: Row[] = await this.db.query(
      `SELECT * FROM auth.api_tokens WHERE user_id = $1 ${includeInactive ? '' : 'AND revoked_at IS NULL AND expires_at > now()'}
       ORDER BY created_at DESC, id`,
      [userId],
    );
    return rows.map(toRecord);
  }

  async find(id: string): Promise<ApiTokenRecord | undefined> {
    const rows: Row[] = await this.db.query('SELECT * FROM auth.api_tokens WHERE id = $1', [id]);
    return rows[0] && toRecord(rows[0]);
  }

  /** The token with this hash and its owner's account, unless the account is deleted. */
  async findByHash(tokenHash: string): Promise<ApiTokenWithOwner | undefined> {
    const rows: (Row & { username: string; owner_level: Level; language: string; theme: string; active: boolean; deleted_at: Date | null })[] = await this.db.query(
      `SELECT t.*, u.username, u.level AS owner_level, u.language, u.theme, u.active, u.deleted_at
       FROM auth.api_tokens t JOIN auth.users u ON u.id = t.user_id WHERE t.token_hash = $1`,
      [tokenHash],
    );
    const row = rows[0];
    if (!row) return undefined;
    return { ...toRecord(row), username: row.username, ownerLevel: row.owner_level, language: row.language, theme: row.theme, ownerActive: row.active && !row.deleted_at };
  }

  /** Revokes the token unless it already is. */
  async revoke(id: string): Promise<void> {
    await this.db.query('UPDATE auth.api_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL', [id]);
  }

  /** Revokes every still-active token of the user; returns how many. */
  async revokeAllOfUser(userId: string): Promise<number> {
    const [, affected] = (await this.db.query('UPDATE auth.api_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL', [userId])) as [unknown, number];
    return affected;
  }

  async touchLastUsed(id: string): Promise<void> {
    await this.db.query('UPDATE auth.api_tokens SET last_used_at = now() WHERE id = $1', [id]);
  }
}
