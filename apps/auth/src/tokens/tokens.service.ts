import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import jwt from 'jsonwebtoken';
import { TOKEN_ALGORITHM, TOKEN_AUDIENCE, TOKEN_ISSUER } from '#common/auth.js';
import type { AuthConfig } from '../auth.config.js';
import { KeyStore } from '../keys/key-store.service.js';
import type { UserRecord } from '../users/user.entity.js';
import type { RefreshTokenRecord } from './refresh-token.entity.js';
import { RefreshTokensRepository } from './refresh-tokens.repository.js';

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
    private readonly tokens: RefreshTokensRepository,
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
    await this.tokens.insert({ id, familyId, userId, tokenHash: hashRefreshToken(token), ttlSeconds: this.config.REFRESH_TOKEN_TTL_SECONDS });
    return token;
  }

  async lookup(token: string): Promise<RefreshLookup> {
    if (typeof token !== 'string' || !token.startsWith(REFRESH_PREFIX)) return { kind: 'unknown' };
    const record = await this.tokens.findByHash(hashRefreshToken(token));
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
    if (!(await this.tokens.markReplaced(old.id, newId))) return undefined;
    return this.issueRefreshToken(old.userId, old.familyId, newId);
  }

  /** Revokes every still-valid token of a family (logout, reuse detection). */
  revokeFamily(familyId: string): Promise<void> {
    return this.tokens.revokeFamily(familyId);
  }

  /** Revokes every refresh token of a user (deactivation, password reset), optionally sparing one family. */
  revokeAllOfUser(userId: string, exceptFamilyId?: string): Promise<void> {
    return this.tokens.revokeAllOfUser(userId, exceptFamilyId);
  }

  /** Deletes tokens that expired more than a day ago. */
  purgeExpired(): Promise<number> {
    return this.tokens.purgeExpired();
  }
}
