import { Module } from '@nestjs/common';
import { ServiceCoreModule, type ServiceApp } from '#common/service-app.js';
import { ApiTokensModule } from './api-tokens/api-tokens.module.js';
import { AuditModule } from './audit/audit.module.js';
import { AuthConfig } from './auth.config.js';
import { AuthGrpcController } from './auth.grpc.js';
import { KeysModule } from './keys/keys.module.js';
import { SigningKeyRecord } from './keys/signing-key.entity.js';
import { CreateAuth1764100000000 } from './migrations/1764100000000-create-auth.js';
import { ApiTokensAudit1764200000000 } from './migrations/1764200000000-api-tokens-audit.js';
import { LoginLocks1764610000000 } from './migrations/1764610000000-login-locks.js';
import { RefreshTokenRecord } from './tokens/refresh-token.entity.js';
import { TokensModule } from './tokens/tokens.module.js';
import { UserRecord } from './users/user.entity.js';
import { UsersModule } from './users/users.module.js';
import { SchemaTransferModule } from '#common/schema-transfer/schema-transfer.module.js';

@Module({
  imports: [KeysModule, UsersModule, TokensModule, ApiTokensModule, AuditModule],
  controllers: [AuthGrpcController],
})
class AuthApiModule {}

@Module({})
class AuthAppModule {}

/**
 * The auth service. It verifies its own callers' tokens from its key store (KeysModule),
 * not through ServiceAuthModule. After start-up, `app.get(BootstrapAdminService)` tells
 * whether a first administrator was created and, once, its generated password.
 */
export const authApp: ServiceApp<AuthConfig> = {
  name: 'auth',
  configClass: AuthConfig,
  required: [],
  schema: {
    schema: 'auth',
    entities: [UserRecord, SigningKeyRecord, RefreshTokenRecord],
    migrations: [CreateAuth1764100000000, ApiTokensAudit1764200000000, LoginLocks1764610000000],
  },
  module: (deps) => ({
    module: AuthAppModule,
    imports: [ServiceCoreModule.forRoot(deps), AuthApiModule, SchemaTransferModule.forService('auth', authApp.schema, { excludedTables: ['signing_keys'] })],
  }),
};

export { BootstrapAdminService, type BootstrapAdminResult } from './users/bootstrap-admin.service.js';
