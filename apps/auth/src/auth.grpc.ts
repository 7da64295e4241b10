import { Controller } from '@nestjs/common';
import type { Metadata, ServerUnaryCall } from '@grpc/grpc-js';
import jwt from 'jsonwebtoken';
import {
  AuthServiceControllerMethods,
  type AuthServiceController,
  type ChangePasswordRequest,
  type ChangePasswordResponse,
  type ApiToken,
  type CreateApiTokenRequest,
  type CreateApiTokenResponse,
  type DeleteUserRequest,
  type DeleteUserResponse,
  type ListApiTokensRequest,
  type ListApiTokensResponse,
  type ListAuditEventsRequest,
  type ListAuditEventsResponse,
  type RevokeApiTokenRequest,
  type RevokeApiTokenResponse,
  type VerifyApiTokenRequest,
  type VerifyApiTokenResponse,
  type CreateUserRequest,
  type GetUserRequest,
  type GetVerificationKeysResponse,
  type ListUsersRequest,
  type ListUsersResponse,
  type LoginRequest,
  type LoginResponse,
  type LogoutRequest,
  type LogoutResponse,
  type RefreshRequest,
  type ResetPasswordRequest,
  type ResetPasswordResponse,
  type UnlockUserRequest,
  type UnlockUserResponse,
  type UpdatePreferencesRequest,
  type UpdateUserRequest,
  type User,
} from '#contracts/generated/scriptorium/auth/v1/auth.js';
import { callerOf, Public, requireLevel, TOKEN_ALGORITHM, TOKEN_ISSUER, type Caller } from '#common/auth.js';
import { DomainError, failedPrecondition, invalidArgument, notFound, permissionDenied } from '#common/errors.js';
import { FORWARDED_FOR_HEADER } from '#common/grpc.js';
import { EventBus } from '#common/bus.js';
import { Subjects } from '#contracts/subjects.js';
import type { ApiTokenRecord } from './api-tokens/api-tokens.repository.js';
import { ApiTokensService } from './api-tokens/api-tokens.service.js';
import { AuditService, type AuditActor, type AuditEntry } from './audit/audit.service.js';
import { KeyStore } from './keys/key-store.service.js';
import { LoginThrottle } from './tokens/login-throttle.service.js';
import { SessionsService, ACCOUNT_DEACTIVATED, type Session } from './tokens/sessions.service.js';
import { TokensService } from './tokens/tokens.service.js';
import { checkPasswordRules, verifyPassword } from './users/passwords.js';
import type { UserRecord } from './users/user.entity.js';
import { UsersService } from './users/users.service.js';

export function toUserMessage(u: UserRecord): User {
  return {
    id: u.id,
    username: u.username,
    email: u.email,
    level: u.level,
    language: u.language,
    theme: u.theme,
    active: u.active,
    createdAt: u.createdAt.toISOString(),
  };
}

export function toApiTokenMessage(t: ApiTokenRecord): ApiToken {
  return {
    id: t.id,
    name: t.name,
    level: t.level,
    userId: t.userId,
    prefix: t.prefix,
    createdAt: t.createdAt.toISOString(),
    expiresAt: t.expiresAt.toISOString(),
    lastUsedAt: t.lastUsedAt?.toISOString() ?? '',
    revokedAt: t.revokedAt?.toISOString() ?? '',
  };
}

/** Where a call came from: the client address the gateway forwards, else the gRPC peer. */
export function clientAddressOf(metadata?: Metadata, call?: Pick<ServerUnaryCall<unknown, unknown>, 'getPeer'>): string {
  const forwarded = metadata?.get(FORWARDED_FOR_HEADER)[0];
  const first = forwarded ? String(forwarded).split(',')[0].trim() : '';
  if (first) return first.slice(0, 100);
  try {
    return (call?.getPeer?.() ?? '').replace(/^ipv[46]:/, '').slice(0, 100);
  } catch {
    return '';
  }
}

function toLoginResponse(s: Session): LoginResponse {
  return { accessToken: s.accessToken, refreshToken: s.refreshToken, expiresIn: s.expiresIn, user: toUserMessage(s.user) };
}

function targetUser(u: UserRecord) {
  return { targetType: 'user', targetId: u.id, targetName: u.username };
}

/** The fields whose value differs, as { field: { from, to } }. */
function changed<T extends object>(before: T, after: T, keys: (keyof T & string)[]): Record<string, { from: unknown; to: unknown }> {
  const out: Record<string, { from: unknown; to: unknown }> = {};
  for (const key of keys) if (before[key] !== after[key]) out[key] = { from: before[key], to: after[key] };
  return out;
}

/** The session (refresh-token family) the caller's access token belongs to. */
function sessionOf(caller: Caller): string | undefined {
  const claims = jwt.decode(caller.authorization.replace(/^Bearer\s+/i, ''));
  const sid = claims && typeof claims === 'object' ? claims.sid : undefined;
  return typeof sid === 'string' ? sid : undefined;
}

@Controller()
@AuthServiceControllerMethods()
export class AuthGrpcController implements AuthServiceController {
  constructor(
    private readonly sessions: SessionsService,
    private readonly tokens: TokensService,
    private readonly users: UsersService,
    private readonly keys: KeyStore,
    private readonly apiTokens: ApiTokensService,
    private readonly audit: AuditService,
    private readonly bus: EventBus,
    private readonly throttle: LoginThrottle,
  ) {}

  @Public()
  async login(request: LoginRequest, metadata?: Metadata, call?: ServerUnaryCall<unknown, unknown>): Promise<LoginResponse> {
    const ip = clientAddressOf(metadata, call);
    const attempted = String(request.username ?? '').slice(0, 100);
    // A locked-out address is refused before any password check, and not audited each time
    // (the lockout itself is): a flood of refused attempts costs neither hashing nor rows.
    this.throttle.check(ip);
    try {
      const session = await this.sessions.login(request.username, request.password, ip);
      this.throttle.recordSuccess(ip, attempted);
      await this.audit.record({ action: 'auth.login', actorId: session.user.id, actorUsername: session.user.username, ip, targetType: 'user', targetId: session.user.id, targetName: session.user.username });
      return toLoginResponse(session);
    } catch (error) {
      const known = attempted ? await this.users.findForLogin(attempted.trim()).catch(() => undefined) : undefined;
      await this.audit.record({
        action: 'auth.login',
        outcome: 'failure',
        actorUsername: attempted,
        actorId: known?.id ?? '',
        ip,
        targetType: 'user',
        targetId: known?.id ?? '',
        targetName: attempted,
        details: { reason: error instanceof DomainError ? error.message : 'internal error' },
      });
      if (!(error instanceof DomainError)) throw error;
      const outcome = this.throttle.recordFailure(ip, attempted);
      if (outcome.lockedOut) {
        await this.audit.record({
          action: 'auth.address_locked',
          outcome: 'failure',
          actorUsername: attempted,
          actorId: known?.id ?? '',
          ip,
          targetType: 'address',
          targetId: ip,
          targetName: ip,
          details: { reason: outcome.lockedOut.message, lockoutSeconds: outcome.lockedOut.retryAfterSeconds },
        });
        throw outcome.lockedOut;
      }
      if (outcome.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, outcome.delayMs));
      throw error;
    }
  }

  @Public()
  async refresh(request: RefreshRequest): Promise<LoginResponse> {
    return toLoginResponse(await this.sessions.refresh(request.refreshToken));
  }

  /** Public: the access token may already have expired when the user signs out. */
  @Public()
  async logout(request: LogoutRequest, metadata?: Metadata, call?: ServerUnaryCall<unknown, unknown>): Promise<LogoutResponse> {
    const userId = await this.sessions.logout(request.refreshToken);
    if (userId) {
      const user = await this.users.get(userId).catch(() => undefined);
      const who = { actorId: userId, actorUsername: user?.username ?? '', targetType: 'user', targetId: userId, targetName: user?.username ?? '' };
      await this.audit.record({ action: 'auth.logout', ip: clientAddressOf(metadata, call), ...who });
    }
    return {};
  }

  @Public()
  async getVerificationKeys(): Promise<GetVerificationKeysResponse> {
    const keys = await this.keys.publicKeys();
    return { keys: keys.map((k) => ({ kid: k.kid, algorithm: TOKEN_ALGORITHM, publicKeyPem: k.publicKeyPem })), issuer: TOKEN_ISSUER };
  }

  async getMe(_request: object, metadata?: Metadata): Promise<User> {
    return toUserMessage(await this.currentUser(callerOf(metadata)));
  }

  async updatePreferences(request: UpdatePreferencesRequest, metadata?: Metadata, call?: ServerUnaryCall<unknown, unknown>): Promise<User> {
    const caller = callerOf(metadata);
    const user = await this.currentUser(caller);
    const updated = await this.users.updatePreferences(user.id, request.language, request.theme);
    const changes = changed(user, updated, ['language', 'theme']);
    if (Object.keys(changes).length) await this.record(caller, metadata, call, { action: 'user.preferences_changed', ...targetUser(user), details: changes });
    return toUserMessage(updated);
  }

  async changePassword(request: ChangePasswordRequest, metadata?: Metadata, call?: ServerUnaryCall<unknown, unknown>): Promise<ChangePasswordResponse> {
    const caller = callerOf(metadata);
    if (caller.apiTokenId) throw permissionDenied('An API token cannot change the password: sign in with your password');
    const user = await this.currentUser(caller);
    // The cheap rule check first: a bad new password costs no hash verification.
    checkPasswordRules(request.newPassword, user.username, 'new_password');
    if (!(await verifyPassword(await this.users.passwordHashOf(user.id), request.currentPassword))) {
      await this.record(caller, metadata, call, { action: 'user.password_changed', outcome: 'failure', ...targetUser(user), details: { reason: 'current password incorrect' } });
      throw invalidArgument('Current password is incorrect', { current_password: 'is incorrect' });
    }
    if (request.newPassword === request.currentPassword) {
      throw invalidArgument('New password must differ from the current one', { new_password: 'must differ from the current one' });
    }
    await this.users.setPassword(user.id, request.newPassword);
    await this.tokens.revokeAllOfUser(user.id, sessionOf(caller));
    await this.record(caller, metadata, call, { action: 'user.password_changed', ...targetUser(user) });
    return {};
  }

  async createUser(request: CreateUserRequest, metadata?: Metadata, call?: ServerUnaryCall<unknown, unknown>): Promise<User> {
    const caller = await this.admin(metadata, call, 'Creating a user', 'user.created');
    const user = await this.users.create(request);
    await this.record(caller, metadata, call, { action: 'user.created', ...targetUser(user), details: { level: user.level, email: user.email } });
    return toUserMessage(user);
  }

  async getUser(request: GetUserRequest, metadata?: Metadata, call?: ServerUnaryCall<unknown, unknown>): Promise<User> {
    await this.admin(metadata, call, 'Viewing a user', 'user.viewed');
    return toUserMessage(await this.users.get(request.id));
  }

  async listUsers(request: ListUsersRequest, metadata?: Metadata, call?: ServerUnaryCall<unknown, unknown>): Promise<ListUsersResponse> {
    await this.admin(metadata, call, 'Listing users', 'user.listed');
    const page = await this.users.list(request.pageSize, request.pageToken, request.search);
    return { users: page.users.map(toUserMessage), nextPageToken: page.nextPageToken, totalSize: page.totalSize };
  }

  async updateUser(request: UpdateUserRequest, metadata?: Metadata, call?: ServerUnaryCall<unknown, unknown>): Promise<User> {
    const caller = await this.admin(metadata, call, 'Changing a user', 'user.updated');
    if (request.id === caller.userId && (request.active === false || (request.level !== undefined && request.level !== 'admin'))) {
      throw failedPrecondition('You cannot deactivate your own account or lower your own level; ask another administrator');
    }
    const before = await this.users.get(request.id);
    const user = await this.users.update(request.id, { level: request.level, email: request.email, active: request.active });
    if (request.active === false) {
      await this.tokens.revokeAllOfUser(user.id);
      await this.apiTokens.revokeAllOfUser(user.id);
    }
    const changes = changed(before, user, ['level', 'email', 'active']);
    const target = targetUser(user);
    if (changes.level) await this.record(caller, metadata, call, { action: 'user.level_changed', ...target, details: { level: changes.level } });
    if (changes.active) await this.record(caller, metadata, call, { action: user.active ? 'user.activated' : 'user.deactivated', ...target });
    if (changes.email) await this.record(caller, metadata, call, { action: 'user.email_changed', ...target, details: { email: changes.email } });
    return toUserMessage(user);
  }

  async resetPassword(request: ResetPasswordRequest, metadata?: Metadata, call?: ServerUnaryCall<unknown, unknown>): Promise<ResetPasswordResponse> {
    const caller = await this.admin(metadata, call, 'Resetting a password', 'user.password_reset');
    const user = await this.users.get(request.userId);
    await this.users.setPassword(request.userId, request.newPassword);
    await this.tokens.revokeAllOfUser(request.userId);
    await this.record(caller, metadata, call, { action: 'user.password_reset', ...targetUser(user) });
    return {};
  }

  async deleteUser(request: DeleteUserRequest, metadata?: Metadata, call?: ServerUnaryCall<unknown, unknown>): Promise<DeleteUserResponse> {
    const caller = await this.admin(metadata, call, 'Deleting a user', 'user.deleted');
    if (request.id === caller.userId) throw failedPrecondition('You cannot delete your own account; ask another administrator');
    const user = await this.users.anonymize(request.id);
    await this.tokens.revokeAllOfUser(user.id);
    const revokedTokens = await this.apiTokens.revokeAllOfUser(user.id);
    this.bus.publish(Subjects.userDeleted, { userId: user.id, deletedBy: caller.userId });
    await this.record(caller, metadata, call, { action: 'user.deleted', ...targetUser(user), details: { level: user.level, revokedApiTokens: revokedTokens } });
    return {};
  }

  async unlockUser(request: UnlockUserRequest, metadata?: Metadata, call?: ServerUnaryCall<unknown, unknown>): Promise<UnlockUserResponse> {
    const caller = await this.admin(metadata, call, 'Unlocking a user', 'user.unlocked');
    const { user, wasLocked, failedLoginCount } = await this.users.unlock(request.id);
    await this.record(caller, metadata, call, { action: 'user.unlocked', ...targetUser(user), details: { wasLocked, failedLoginCount } });
    return { user: toUserMessage(user), wasLocked };
  }

  async createApiToken(request: CreateApiTokenRequest, metadata?: Metadata, call?: ServerUnaryCall<unknown, unknown>): Promise<CreateApiTokenResponse> {
    const caller = callerOf(metadata);
    if (caller.apiTokenId) throw permissionDenied('An API token cannot create API tokens: sign in with your password');
    const user = await this.currentUser(caller);
    const { record, token } = await this.apiTokens.create(user, { name: request.name, level: request.level, expiresInDays: request.expiresInDays });
    await this.record(caller, metadata, call, {
      action: 'api_token.created',
      targetType: 'api_token',
      targetId: record.id,
      targetName: record.name,
      details: { level: record.level, expiresAt: record.expiresAt.toISOString(), owner: user.id },
    });
    return { apiToken: toApiTokenMessage(record), token };
  }

  async listApiTokens(request: ListApiTokensRequest, metadata?: Metadata): Promise<ListApiTokensResponse> {
    const caller = callerOf(metadata);
    let userId = caller.userId;
    if (request.userId && request.userId !== caller.userId) {
      requireLevel(caller, 'admin', "Listing another user's API tokens");
      userId = (await this.users.get(request.userId)).id;
    } else {
      await this.currentUser(caller);
    }
    return { apiTokens: (await this.apiTokens.list(userId, request.includeInactive)).map(toApiTokenMessage) };
  }

  async revokeApiToken(request: RevokeApiTokenRequest, metadata?: Metadata, call?: ServerUnaryCall<unknown, unknown>): Promise<RevokeApiTokenResponse> {
    const caller = callerOf(metadata);
    const token = await this.apiTokens.get(request.id);
    // Someone else's token is reported missing to non-admins, so ids cannot be probed.
    if (token.userId !== caller.userId && caller.level !== 'admin') throw notFound(`API token ${JSON.stringify(request.id)} does not exist`);
    await this.apiTokens.revoke(token.id);
    if (!token.revokedAt) {
      await this.record(caller, metadata, call, {
        action: 'api_token.revoked',
        targetType: 'api_token',
        targetId: token.id,
        targetName: token.name,
        details: { owner: token.userId, byApiToken: caller.apiTokenId === token.id },
      });
    }
    return {};
  }

  @Public()
  async verifyApiToken(request: VerifyApiTokenRequest): Promise<VerifyApiTokenResponse> {
    const identity = await this.apiTokens.verify(request.token);
    return { ...identity, expiresAt: identity.expiresAt.toISOString() };
  }

  async listAuditEvents(request: ListAuditEventsRequest, metadata?: Metadata, call?: ServerUnaryCall<unknown, unknown>): Promise<ListAuditEventsResponse> {
    await this.admin(metadata, call, 'Reading the audit trail', 'audit.listed');
    return this.audit.list(request);
  }

  /** The caller, who must be an admin; a refused attempt is itself recorded. */
  private async admin(metadata: Metadata | undefined, call: ServerUnaryCall<unknown, unknown> | undefined, what: string, action: string): Promise<Caller> {
    const caller = callerOf(metadata);
    try {
      requireLevel(caller, 'admin', what);
    } catch (error) {
      await this.record(caller, metadata, call, { action, outcome: 'failure', details: { reason: (error as Error).message } });
      throw error;
    }
    return caller;
  }

  private record(caller: Caller, metadata: Metadata | undefined, call: ServerUnaryCall<unknown, unknown> | undefined, entry: AuditEntry): Promise<void> {
    const actor: AuditActor = { actorId: caller.userId, actorUsername: caller.username, ip: clientAddressOf(metadata, call) };
    const details = caller.apiTokenId ? { ...entry.details, viaApiToken: caller.apiTokenId } : entry.details;
    return this.audit.record({ ...actor, ...entry, details });
  }

  /** The caller's account as stored now (levels and activity may have changed since the token was issued). */
  private async currentUser(caller: Caller): Promise<UserRecord> {
    const user = await this.users.get(caller.userId).catch(() => {
      throw notFound('Your account no longer exists');
    });
    if (!user.active) throw permissionDenied(ACCOUNT_DEACTIVATED);
    return user;
  }
}
