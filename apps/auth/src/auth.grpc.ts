import { Controller, UseFilters, UseGuards } from '@nestjs/common';
import type { Metadata } from '@grpc/grpc-js';
import jwt from 'jsonwebtoken';
import {
  AuthServiceControllerMethods,
  type AuthServiceController,
  type ChangePasswordRequest,
  type ChangePasswordResponse,
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
  type UpdatePreferencesRequest,
  type UpdateUserRequest,
  type User,
} from '#contracts/generated/scriptorium/auth/v1/auth.js';
import { callerOf, GrpcAuthGuard, Public, requireLevel, TOKEN_ALGORITHM, TOKEN_ISSUER, type Caller } from '#common/auth.js';
import { failedPrecondition, invalidArgument, notFound, permissionDenied } from '#common/errors.js';
import { GrpcExceptionFilter } from '#common/grpc-errors.js';
import { KeyStore } from './keys/key-store.service.js';
import { SessionsService, ACCOUNT_DEACTIVATED, type Session } from './tokens/sessions.service.js';
import { TokensService } from './tokens/tokens.service.js';
import { verifyPassword } from './users/passwords.js';
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

function toLoginResponse(s: Session): LoginResponse {
  return { accessToken: s.accessToken, refreshToken: s.refreshToken, expiresIn: s.expiresIn, user: toUserMessage(s.user) };
}

/** The session (refresh-token family) the caller's access token belongs to. */
function sessionOf(caller: Caller): string | undefined {
  const claims = jwt.decode(caller.authorization.replace(/^Bearer\s+/i, ''));
  const sid = claims && typeof claims === 'object' ? claims.sid : undefined;
  return typeof sid === 'string' ? sid : undefined;
}

/*
 * The guard and the filter are also bound here, on the controller: startServiceApp
 * (libs/common/src/service-app.ts) connects the gRPC microservice without
 * `inheritAppConfig`, so with Nest 12 neither APP_GUARD nor its late useGlobalFilters
 * call reaches the gRPC handlers. Binding them here keeps this API correct either way.
 */
@Controller()
@UseGuards(GrpcAuthGuard)
@UseFilters(GrpcExceptionFilter)
@AuthServiceControllerMethods()
export class AuthGrpcController implements AuthServiceController {
  constructor(
    private readonly sessions: SessionsService,
    private readonly tokens: TokensService,
    private readonly users: UsersService,
    private readonly keys: KeyStore,
  ) {}

  @Public()
  async login(request: LoginRequest): Promise<LoginResponse> {
    return toLoginResponse(await this.sessions.login(request.username, request.password));
  }

  @Public()
  async refresh(request: RefreshRequest): Promise<LoginResponse> {
    return toLoginResponse(await this.sessions.refresh(request.refreshToken));
  }

  /** Public: the access token may already have expired when the user signs out. */
  @Public()
  async logout(request: LogoutRequest): Promise<LogoutResponse> {
    await this.sessions.logout(request.refreshToken);
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

  async updatePreferences(request: UpdatePreferencesRequest, metadata?: Metadata): Promise<User> {
    const user = await this.currentUser(callerOf(metadata));
    return toUserMessage(await this.users.updatePreferences(user.id, request.language, request.theme));
  }

  async changePassword(request: ChangePasswordRequest, metadata?: Metadata): Promise<ChangePasswordResponse> {
    const caller = callerOf(metadata);
    const user = await this.currentUser(caller);
    if (!(await verifyPassword(await this.users.passwordHashOf(user.id), request.currentPassword))) {
      throw invalidArgument('Current password is incorrect', { current_password: 'is incorrect' });
    }
    if (request.newPassword === request.currentPassword) {
      throw invalidArgument('New password must differ from the current one', { new_password: 'must differ from the current one' });
    }
    await this.users.setPassword(user.id, request.newPassword);
    await this.tokens.revokeAllOfUser(user.id, sessionOf(caller));
    return {};
  }

  async createUser(request: CreateUserRequest, metadata?: Metadata): Promise<User> {
    requireLevel(callerOf(metadata), 'admin', 'Creating a user');
    return toUserMessage(await this.users.create(request));
  }

  async getUser(request: GetUserRequest, metadata?: Metadata): Promise<User> {
    requireLevel(callerOf(metadata), 'admin', 'Viewing a user');
    return toUserMessage(await this.users.get(request.id));
  }

  async listUsers(request: ListUsersRequest, metadata?: Metadata): Promise<ListUsersResponse> {
    requireLevel(callerOf(metadata), 'admin', 'Listing users');
    const page = await this.users.list(request.pageSize, request.pageToken, request.search);
    return { users: page.users.map(toUserMessage), nextPageToken: page.nextPageToken, totalSize: page.totalSize };
  }

  async updateUser(request: UpdateUserRequest, metadata?: Metadata): Promise<User> {
    const caller = callerOf(metadata);
    requireLevel(caller, 'admin', 'Changing a user');
    if (request.id === caller.userId && (request.active === false || (request.level !== undefined && request.level !== 'admin'))) {
      throw failedPrecondition('You cannot deactivate your own account or lower your own level; ask another administrator');
    }
    const user = await this.users.update(request.id, { level: request.level, email: request.email, active: request.active });
    if (request.active === false) await this.tokens.revokeAllOfUser(user.id);
    return toUserMessage(user);
  }

  async resetPassword(request: ResetPasswordRequest, metadata?: Metadata): Promise<ResetPasswordResponse> {
    requireLevel(callerOf(metadata), 'admin', 'Resetting a password');
    await this.users.setPassword(request.userId, request.newPassword);
    await this.tokens.revokeAllOfUser(request.userId);
    return {};
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
