import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import jwt from 'jsonwebtoken';
import type { Repository } from 'typeorm';
import { TOKEN_ALGORITHM, TOKEN_AUDIENCE, TOKEN_ISSUER } from '#common/auth.js';
import type { AuthConfig } from '../auth.config.js';
import { KeyStore } from '../keys/key-store.service.js';
import type { UserRecord } from '../users/user.entity.js';
import { RefreshTokenRecord } from './refresh-token.entity.js';

const REFRESH_PREFIX = 'srt_';

export const hashRefreshToken = (token: string) => createHash('sha256').update(token).digest('hex');

/** What presenting a refresh token found. */
export type RefreshLookup =
  | { kind: 'unknown' }
  | { kind: 'expired'; token: RefreshTokenRecord }
  | { kind: 'revoked'; token: RefreshTokenRecord }
  | { kind: 'reused'; token: RefreshTokenRecord }
  | { kind: 'valid'; token: RefreshTokenRecord };

/** Signs access tokens and keeps the refresh-token families. */
@Injectable()
export class TokensService {
  constructor(
    private readonly keys: KeyStore,
    @InjectRepository(RefreshTokenRecord) private readonly tokens: Repository<RefreshTokenRecord>,
    @Inject('SERVICE_CONFIG') private readonly config: AuthConfig,
  ) {}

  get accessTokenTtlSeconds(): number {
    return this.config.ACCESS_TOKEN_TTL_SECONDS;
  }

  /** An RS256 JWT with the claims TokenVerifier expects. */
  /** `sid` is the refresh-token family of the session, so a caller's own session can be told apart. */
  async signAccessToken(user: UserRecord, sessionId: string): Promise<string> {
    const { kid, privateKeyPem } = await this.keys.signingKey();
    return jwt.sign(
      { username: user.username, level: user.level, lang: user.language, theme: user.theme, typ: 'access', sid: sessionId },
      privateKeyPem,
      {
        algorithm: TOKEN_ALGORITHM,
        keyid: kid,
        issuer: TOKEN_ISSUER,
        audience: TOKEN_AUDIENCE,
        subject: user.id,
        expiresIn: this.config.ACCESS_TOKEN_TTL_SECONDS,
        jwtid: randomUUID(),
      },
    );
  }

  /** Stores a new refresh token (hashed) in `familyId`, or a new family; returns the opaque token. */
  async issueRefreshToken(userId: string, familyId: string = randomUUID(), id: string = randomUUID()): Promise<string> {
    const token = REFRESH_PREFIX + randomBytes(32).toString('base64url');
    await this.tokens.query(
      `INSERT INTO auth.refresh_tokens (id, family_id, user_id, token_hash, expires_at)
       VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))`,
      [id, familyId, userId, hashRefreshToken(token), this.config.REFRESH_TOKEN_TTL_SECONDS],
    );
    return token;
  }

  async lookup(token: string): Promise<RefreshLookup> {
    if (typeof token !== 'string' || !token.startsWith(REFRESH_PREFIX)) return { kind: 'unknown' };
    const record = await this.tokens.findOneBy({ tokenHash: hashRefreshToken(token) });
    if (!record) return { kind: 'unknown' };
    if (record.replacedBy) return { kind: 'reused', token: record };
    if (record.revokedAt) return { kind: 'revoked', token: record };
    if (record.expiresAt.getTime() <= Date.now()) return { kind: 'expired', token: record };
    return { kind: 'valid', token: record };
  }

  /**
   * Replaces a valid token by a new one of the same family. The old one is marked
   * revoked+replaced in one conditional UPDATE, so of two concurrent refreshes with the
   * same token only one wins; the loser gets undefined (and is treated as reuse).
   */
  async rotate(old: RefreshTokenRecord): Promise<string | undefined> {
    const newId = randomUUID();
    const [, affected] = (await this.tokens.query(
      `UPDATE auth.refresh_tokens SET revoked_at = now(), replaced_by = $2 WHERE id = $1 AND revoked_at IS NULL`,
      [old.id, newId],
    )) as [unknown, number];
    if (affected !== 1) return undefined;
    return this.issueRefreshToken(old.userId, old.familyId, newId);
  }

  /** Revokes every still-valid token of a family (logout, reuse detection). */
  async revokeFamily(familyId: string): Promise<void> {
    await this.tokens.query(`UPDATE auth.refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL`, [familyId]);
  }

  /** Revokes every refresh token of a user (deactivation, password reset), optionally sparing one family. */
  async revokeAllOfUser(userId: string, exceptFamilyId?: string): Promise<void> {
    await this.tokens.query(
      `UPDATE auth.refresh_tokens SET revoked_at = now()
       WHERE user_id = $1 AND revoked_at IS NULL AND ($2::uuid IS NULL OR family_id <> $2::uuid)`,
      [userId, exceptFamilyId ?? null],
    );
  }

  /** Deletes tokens that expired more than a day ago. */
  async purgeExpired(): Promise<number> {
    const [, affected] = (await this.tokens.query(
      `DELETE FROM auth.refresh_tokens WHERE expires_at < now() - interval '1 day'`,
    )) as [unknown, number];
    return affected;
  }
}
