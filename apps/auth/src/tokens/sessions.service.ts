import { randomUUID } from 'node:crypto';
import { Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { permissionDenied, tooManyRequests, unauthenticated } from '#common/errors.js';
import { rootLogger } from '#common/logger.js';
import { verifyAgainstDummy, verifyPassword } from '../users/passwords.js';
import type { UserRecord } from '../users/user.entity.js';
import { LoginLocks } from '../users/login-locks.repository.js';
import { UsersService } from '../users/users.service.js';
import { TokensService } from './tokens.service.js';

export const INVALID_CREDENTIALS = 'Invalid username or password';
export const ACCOUNT_DEACTIVATED = 'Account is deactivated';
const PURGE_EVERY_MS = 60 * 60 * 1000;

export interface Session {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
  user: UserRecord;
}

function lockedMessage(until: Date): { message: string; seconds: number } {
  const seconds = Math.max(1, Math.ceil((until.getTime() - Date.now()) / 1000));
  const minutes = Math.ceil(seconds / 60);
  return {
    seconds,
    message: `Too many failed sign-in attempts: this account is locked for ${minutes} more minute${minutes === 1 ? '' : 's'} at your address. Try again later or ask an administrator to unlock it`,
  };
}

/** Login, refresh (with rotation and reuse detection) and logout. */
@Injectable()
export class SessionsService implements OnModuleInit, OnModuleDestroy {
  private purgeTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly users: UsersService,
    private readonly tokens: TokensService,
    private readonly locks: LoginLocks,
  ) {}

  onModuleInit() {
    this.purgeTimer = setInterval(() => {
      this.tokens.purgeExpired().catch((err) => rootLogger().warn({ err }, 'could not purge expired refresh tokens'));
      this.locks.purgeStale().catch((err) => rootLogger().warn({ err }, 'could not purge stale login locks'));
    }, PURGE_EVERY_MS);
    this.purgeTimer.unref();
  }

  onModuleDestroy() {
    clearInterval(this.purgeTimer);
  }

  /**
   * Signs in from `address` (the client's, as the gateway saw it). Wrong passwords lock the
   * account for that address only: someone guessing elsewhere, even behind the same proxy
   * or NAT as another address, cannot lock its owner out.
   */
  async login(username: string, password: string, address: string): Promise<Session> {
    const user = username ? await this.users.findForLogin(username.trim()) : undefined;
    if (!user) {
      await verifyAgainstDummy(password ?? '');
      throw unauthenticated(INVALID_CREDENTIALS);
    }
    const from = address || 'unknown';
    const lockedUntil = await this.locks.lockedUntil(user.id, from);
    if (lockedUntil) {
      const { message, seconds } = lockedMessage(lockedUntil);
      throw tooManyRequests(message, seconds);
    }
    if (!(await verifyPassword(user.passwordHash, password ?? ''))) {
      const lockedNow = await this.locks.recordFailure(user.id, from);
      if (lockedNow) {
        rootLogger().warn({ userId: user.id, username: user.username, address: from }, 'account locked for an address after repeated failed logins');
        const { message, seconds } = lockedMessage(lockedNow);
        throw tooManyRequests(message, seconds);
      }
      throw unauthenticated(INVALID_CREDENTIALS);
    }
    if (!user.active) throw permissionDenied(ACCOUNT_DEACTIVATED);
    await this.locks.recordSuccess(user.id, from);
    const familyId = randomUUID();
    const refreshToken = await this.tokens.issueRefreshToken(user.id, familyId);
    return this.session(user, refreshToken, familyId);
  }

  async refresh(refreshToken: string): Promise<Session> {
    const found = await this.tokens.lookup(refreshToken);
    switch (found.kind) {
      case 'unknown':
        throw unauthenticated('Invalid refresh token: log in again');
      case 'expired':
        throw unauthenticated('Refresh token expired: log in again');
      case 'revoked':
        throw unauthenticated('Refresh token revoked (signed out): log in again');
      case 'reused':
        await this.reuseDetected(found.token.familyId, found.token.userId);
        throw unauthenticated('Refresh token already used: this session was signed out for safety, log in again');
    }
    const user = await this.users.get(found.token.userId).catch(() => undefined);
    if (!user) throw unauthenticated('Invalid refresh token: log in again');
    if (!user.active) {
      await this.tokens.revokeFamily(found.token.familyId);
      throw permissionDenied(ACCOUNT_DEACTIVATED);
    }
    const next = await this.tokens.rotate(found.token);
    if (!next) {
      // Another request rotated this very token first: the token was presented twice.
      await this.reuseDetected(found.token.familyId, found.token.userId);
      throw unauthenticated('Refresh token already used: this session was signed out for safety, log in again');
    }
    return this.session(user, next, found.token.familyId);
  }

  /** Signs out the session (token family) of the presented refresh token. Unknown tokens are ignored. */
  /** Revokes the login the refresh token belongs to; returns its user id (undefined for an unknown token). */
  async logout(refreshToken: string): Promise<string | undefined> {
    const found = await this.tokens.lookup(refreshToken);
    if (found.kind === 'unknown') return undefined;
    await this.tokens.revokeFamily(found.token.familyId);
    return found.token.userId;
  }

  private async reuseDetected(familyId: string, userId: string) {
    rootLogger().warn({ familyId, userId }, 'refresh token reuse detected: revoking the whole token family');
    await this.tokens.revokeFamily(familyId);
  }

  private async session(user: UserRecord, refreshToken: string, familyId: string): Promise<Session> {
    return {
      accessToken: await this.tokens.signAccessToken(user, familyId),
      refreshToken,
      expiresIn: this.tokens.accessTokenTtlSeconds,
      user,
    };
  }
}
