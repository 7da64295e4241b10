import { createHash, randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { API_TOKEN_PREFIX, isApiToken, type ApiTokenIdentity } from '#common/auth.js';
import { failedPrecondition, invalidArgument, notFound, unauthenticated } from '#common/errors.js';
import { isLevel, levelAtLeast, LEVELS, type Level } from '#contracts/levels.js';
import { isUuid } from '#common/ids.js';

export const DEFAULT_TOKEN_DAYS = 90;
export const MAX_TOKEN_DAYS = 365;
export const MAX_ACTIVE_TOKENS_PER_USER = 50;
/** last_used_at is written at most this often per token. */
const LAST_USED_RESOLUTION_MS = 60_000;

/** Letters, digits, spaces and a few punctuation marks: no quotes, angle brackets or control characters. */
export const TOKEN_NAME_PATTERN = /^[\p{L}\p{N} ._:()\/@#+-]{1,100}$/u;
export const TOKEN_NAME_RULE = 'Name may hold letters, digits, spaces and . _ : ( ) / @ # + - (at most 100)';

export const hashApiToken = (token: string) => createHash('sha256').update(token).digest('hex');

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

const lower = (a: Level, b: Level): Level => (levelAtLeast(a, b) ? b : a);

/**
 * Personal API tokens: `sct_` + 32 random bytes (base64url). Only the sha256 of a token
 * is stored; the token itself is returned once, by create(). A token acts with the lower
 * of its own level and its owner's current level, and only while the owner is active.
 */
@Injectable()
export class ApiTokensService {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  async create(owner: { id: string; level: Level }, input: { name: string; level: string; expiresInDays: number }): Promise<{ record: ApiTokenRecord; token: string }> {
    const name = (input.name ?? '').trim();
    const level = input.level || owner.level;
    const days = input.expiresInDays || DEFAULT_TOKEN_DAYS;
    const fields: Record<string, string> = {};
    if (!name || name.length > 100) fields.name = 'Name must be 1-100 characters';
    else if (!TOKEN_NAME_PATTERN.test(name)) fields.name = TOKEN_NAME_RULE;
    if (!isLevel(level)) fields.level = `Level must be one of ${LEVELS.join(', ')}`;
    if (!Number.isInteger(days) || days < 1 || days > MAX_TOKEN_DAYS) fields.expires_in_days = `must be between 1 and ${MAX_TOKEN_DAYS} days`;
    if (Object.keys(fields).length) throw invalidArgument(Object.entries(fields).map(([k, v]) => (k === 'expires_in_days' ? `expires_in_days ${v}` : v)).join('; '), fields);
    if (!levelAtLeast(owner.level, level as Level)) {
      throw invalidArgument(`A token's level cannot be higher than yours (${owner.level})`, { level: `must be at most ${owner.level}` });
    }
    const active = await this.list(owner.id, false);
    if (active.length >= MAX_ACTIVE_TOKENS_PER_USER) throw failedPrecondition(`You already have ${MAX_ACTIVE_TOKENS_PER_USER} active API tokens; revoke one first`);
    if (active.some((t) => t.name.toLowerCase() === name.toLowerCase())) {
      throw invalidArgument(`You already have an active token named "${name}"`, { name: 'is already used by another active token' });
    }
    const token = API_TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const rows: Row[] = await this.db.query(
      `INSERT INTO auth.api_tokens (user_id, name, level, token_hash, prefix, expires_at)
       VALUES ($1, $2, $3, $4, $5, now() + make_interval(days => $6)) RETURNING *`,
      [owner.id, name, level, hashApiToken(token), token.slice(0, API_TOKEN_PREFIX.length + 6), days],
    );
    return { record: toRecord(rows[0]), token };
  }

  /** A user's tokens, newest first; only usable ones unless includeInactive. */
  async list(userId: string, includeInactive: boolean): Promise<ApiTokenRecord[]> {
    const rows: Row[] = await this.db.query(
      `SELECT * FROM auth.api_tokens WHERE user_id = $1 ${includeInactive ? '' : 'AND revoked_at IS NULL AND expires_at > now()'}
       ORDER BY created_at DESC, id`,
      [userId],
    );
    return rows.map(toRecord);
  }

  async get(id: string): Promise<ApiTokenRecord> {
    const rows: Row[] = isUuid(id) ? await this.db.query('SELECT * FROM auth.api_tokens WHERE id = $1', [id]) : [];
    if (!rows.length) throw notFound(`API token ${JSON.stringify(id)} does not exist`);
    return toRecord(rows[0]);
  }

  /** Revokes one token (idempotent); returns it as it was before. */
  async revoke(id: string): Promise<ApiTokenRecord> {
    const token = await this.get(id);
    await this.db.query('UPDATE auth.api_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL', [id]);
    return token;
  }

  async revokeAllOfUser(userId: string): Promise<number> {
    const [, affected] = (await this.db.query('UPDATE auth.api_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL', [userId])) as [
      unknown,
      number,
    ];
    return affected;
  }

  /** Resolves a presented token into its owner and effective level, or rejects with UNAUTHENTICATED. */
  async verify(token: string): Promise<ApiTokenIdentity & { expiresAt: Date }> {
    if (!isApiToken(token) || token.length > 200) throw unauthenticated('Invalid API token');
    const rows: (Row & { username: string; owner_level: Level; language: string; theme: string; active: boolean; deleted_at: Date | null })[] =
      await this.db.query(
        `SELECT t.*, u.username, u.level AS owner_level, u.language, u.theme, u.active, u.deleted_at
         FROM auth.api_tokens t JOIN auth.users u ON u.id = t.user_id WHERE t.token_hash = $1`,
        [hashApiToken(token)],
      );
    const row = rows[0];
    if (!row) throw unauthenticated('Invalid API token');
    if (row.revoked_at) throw unauthenticated('API token revoked');
    if (new Date(row.expires_at).getTime() <= Date.now()) throw unauthenticated('API token expired: create a new one');
    if (!row.active || row.deleted_at) throw unauthenticated('The API token\'s account is deactivated');
    if (!row.last_used_at || Date.now() - new Date(row.last_used_at).getTime() > LAST_USED_RESOLUTION_MS) {
      await this.db.query('UPDATE auth.api_tokens SET last_used_at = now() WHERE id = $1', [row.id]);
    }
    return {
      userId: row.user_id,
      username: row.username,
      level: lower(row.level, row.owner_level),
      language: row.language,
      theme: row.theme,
      tokenId: row.id,
      expiresAt: new Date(row.expires_at),
    };
  }
}
