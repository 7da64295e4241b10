import { Inject, Injectable, Module, type DynamicModule, type OnModuleInit } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import type { ClientGrpc } from '@nestjs/microservices';
import { firstValueFrom } from 'rxjs';
import type { AuthServiceClient } from '#contracts/generated/scriptorium/auth/v1/auth.js';
import { GrpcPackages } from '#contracts/grpc-packages.js';
import { GrpcAuthGuard, TokenVerifier, VerificationKeySource, type VerificationKey } from './auth.js';
import { callMetadata, grpcClientToken, grpcClientsModule } from './grpc.js';

const REFRESH_AT_MOST_EVERY_MS = 10_000;

/** Fetches the verification keys from the auth service and caches them. */
@Injectable()
export class GrpcVerificationKeySource extends VerificationKeySource implements OnModuleInit {
  private auth: AuthServiceClient;
  private cached: VerificationKey[] = [];
  private fetchedAt = 0;

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
