import { Inject, Injectable, Module, type DynamicModule, type OnModuleInit } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import type { ClientGrpc } from '@nestjs/microservices';
import { createHash } from 'node:crypto';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { firstValueFrom } from 'rxjs';
import { isLevel } from '#contracts/levels.js';
import type { AuthServiceClient } from '#contracts/generated/scriptorium/auth/v1/auth.js';
import { GrpcPackages } from '#contracts/grpc-packages.js';
import { GrpcAuthGuard, TokenVerifier, VerificationKeySource, type ApiTokenIdentity, type VerificationKey } from './auth.js';
import { DomainError, unauthenticated } from './errors.js';
import { callMetadata, grpcClientToken, grpcClientsModule } from './grpc.js';

const REFRESH_AT_MOST_EVERY_MS = 10_000;
/**
 * How long an API token's answer (valid or not) is reused without asking auth again:
 * a revoked token stops working everywhere within this time.
 */
export const API_TOKEN_CACHE_MS = 5_000;
const API_TOKEN_CACHE_MAX = 10_000;

interface CachedApiToken {
  until: number;
  identity?: ApiTokenIdentity;
  error?: DomainError;
}

/** Keeps verified API tokens for a few seconds, keyed by the token's sha256 (never the token). */
export class ApiTokenCache {
  private readonly entries = new Map<string, CachedApiToken>();

  constructor(private readonly ttlMs = API_TOKEN_CACHE_MS) {}

  async resolve(token: string, ask: (token: string) => Promise<ApiTokenIdentity>): Promise<ApiTokenIdentity> {
    const key = createHash('sha256').update(token).digest('base64url');
    const now = Date.now();
    const hit = this.entries.get(key);
    if (hit && hit.until > now) {
      if (hit.error) throw hit.error;
      return hit.identity!;
    }
    this.entries.delete(key);
    try {
      const identity = await ask(token);
      this.put(key, { until: now + this.ttlMs, identity });
      return identity;
    } catch (error) {
      // Only definite refusals are remembered; an unreachable auth service is asked again.
      if (error instanceof DomainError && error.code === GrpcStatus.UNAUTHENTICATED) this.put(key, { until: now + this.ttlMs, error });
      throw error;
    }
  }

  private put(key: string, entry: CachedApiToken) {
    if (this.entries.size >= API_TOKEN_CACHE_MAX) {
      const now = Date.now();
      for (const [k, v] of this.entries) if (v.until <= now) this.entries.delete(k);
      if (this.entries.size >= API_TOKEN_CACHE_MAX) this.entries.delete(this.entries.keys().next().value!);
    }
    this.entries.set(key, entry);
  }
}

/** Fetches the verification keys from the auth service and caches them. */
@Injectable()
export class GrpcVerificationKeySource extends VerificationKeySource implements OnModuleInit {
  private auth: AuthServiceClient;
  private cached: VerificationKey[] = [];
  private fetchedAt = 0;
  private readonly apiTokens = new ApiTokenCache();

  constructor(@Inject(grpcClientToken('auth')) private readonly client: ClientGrpc) {
    super();
  }

  onModuleInit() {
    this.auth = this.client.getService<AuthServiceClient>(GrpcPackages.auth.service);
  }

  async getKeys(forceRefresh = false): Promise<VerificationKey[]> {
    const stale = Date.now() - this.fetchedAt > REFRESH_AT_MOST_EVERY_MS;
    if (this.cached.length === 0 || (forceRefresh && stale)) {
      const response = await firstValueFrom(this.auth.getVerificationKeys({}, callMetadata()));
      this.cached = response.keys.map((k) => ({ kid: k.kid, publicKeyPem: k.publicKeyPem }));
      this.fetchedAt = Date.now();
    }
    return this.cached;
  }

  /** Asks auth (VerifyApiToken) about an `sct_` token; answers are cached for API_TOKEN_CACHE_MS. */
  verifyApiToken(token: string): Promise<ApiTokenIdentity> {
    return this.apiTokens.resolve(token, async (t) => {
      let response;
      try {
        response = await firstValueFrom(this.auth.verifyApiToken({ token: t }, callMetadata()));
      } catch (error) {
        const e = error as { code?: number; details?: string };
        if (e?.code === GrpcStatus.UNAUTHENTICATED) throw unauthenticated(e.details || 'Invalid API token');
        throw new DomainError(GrpcStatus.UNAVAILABLE, 'Cannot verify the API token now: the auth service is unavailable');
      }
      if (!isLevel(response.level)) throw unauthenticated('Invalid API token');
      return {
        userId: response.userId,
        username: response.username,
        level: response.level,
        language: response.language,
        theme: response.theme,
        tokenId: response.tokenId,
      };
    });
  }
}

/** Token verification and the gRPC auth guard for services other than auth itself. */
@Module({})
export class ServiceAuthModule {
  static forRoot(authUrl: string): DynamicModule {
    return {
      module: ServiceAuthModule,
      global: true,
      imports: [grpcClientsModule({ auth: authUrl })],
      providers: [
        { provide: VerificationKeySource, useClass: GrpcVerificationKeySource },
        TokenVerifier,
        { provide: APP_GUARD, useClass: GrpcAuthGuard },
      ],
      exports: [TokenVerifier, VerificationKeySource],
    };
  }
}
