import { createHash, randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { API_TOKEN_PREFIX, isApiToken, type ApiTokenIdentity } from '#common/auth.js';
import { failedPrecondition, invalidArgument, notFound, unauthenticated } from '#common/errors.js';
import { isLevel, levelAtLeast, LEVELS, type Level } from '#contracts/levels.js';
import { isUuid } from '#common/ids.js';
import { ApiTokensRepository, type ApiTokenRecord } from './api-tokens.repository.js';

export const DEFAULT_TOKEN_DAYS = 90;
export const MAX_TOKEN_DAYS = 365;
export const MAX_ACTIVE_TOKENS_PER_USER = 50;
/** last_used_at is written at most this often per token. */
const LAST_USED_RESOLUTION_MS = 60_000;

/** Letters, digits, spaces and a few punctuation marks: no quotes, angle brackets or control characters. */
export const TOKEN_NAME_PATTERN = /^[\p{L}\p{N} ._:()\/@#+-]{1,100}$/u;
export const TOKEN_NAME_RULE = 'Name may hold letters, digits, spaces and . _ : ( ) / @ # + - (at most 100)';

export const hashApiToken = (token: string) => createHash('sha256').update(token).digest('hex');

const lower = (a: Level, b: Level): Level => (levelAtLeast(a, b) ? b : a);

/**
 * Personal API tokens: `sct_` + 32 random bytes (base64url). Only the sha256 of a token
 * is stored; the token itself is returned once, by create(). A token acts with the lower
 * of its own level and its owner's current level, and only while the owner is active.
 */
@Injectable()
export class ApiTokensService {
  constructor(private readonly tokens: ApiTokensRepository) {}

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
    const record = await this.tokens.insert({
      userId: owner.id,
      name,
      level,
      tokenHash: hashApiToken(token),
      prefix: token.slice(0, API_TOKEN_PREFIX.length + 6),
      expiresInDays: days,
    });
    return { record, token };
  }

  /** A user's tokens, newest first; only usable ones unless includeInactive. */
  list(userId: string, includeInactive: boolean): Promise<ApiTokenRecord[]> {
    return this.tokens.ofUser(userId, includeInactive);
  }

  async get(id: string): Promise<ApiTokenRecord> {
    const token = isUuid(id) ? await this.tokens.find(id) : undefined;
    if (!token) throw notFound(`API token ${JSON.stringify(id)} does not exist`);
    return token;
  }

  /** Revokes one token (idempotent); returns it as it was before. */
  async revoke(id: string): Promise<ApiTokenRecord> {
    const token = await this.get(id);
    await this.tokens.revoke(id);
    return token;
  }

  revokeAllOfUser(userId: string): Promise<number> {
    return this.tokens.revokeAllOfUser(userId);
  }

  /** Resolves a presented token into its owner and effective level, or rejects with UNAUTHENTICATED. */
  async verify(token: string): Promise<ApiTokenIdentity & { expiresAt: Date }> {
    if (!isApiToken(token) || token.length > 200) throw unauthenticated('Invalid API token');
    const found = await this.tokens.findByHash(hashApiToken(token));
    if (!found) throw unauthenticated('Invalid API token');
    if (found.revokedAt) throw unauthenticated('API token revoked');
    if (found.expiresAt.getTime() <= Date.now()) throw unauthenticated('API token expired: create a new one');
    if (!found.ownerActive) throw unauthenticated('The API token\'s account is deactivated');
    if (!found.lastUsedAt || Date.now() - found.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) await this.tokens.touchLastUsed(found.id);
    return {
      userId: found.userId,
      username: found.username,
      level: lower(found.level, found.ownerLevel),
      language: found.language,
      theme: found.theme,
      tokenId: found.id,
      expiresAt: found.expiresAt,
    };
  }
}
