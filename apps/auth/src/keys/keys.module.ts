import { Global, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { GrpcAuthGuard, TokenVerifier, VerificationKeySource } from '#common/auth.js';
import { KeyStore, KeyStoreVerificationKeySource } from './key-store.service.js';
import { SigningKeyRecord } from './signing-key.entity.js';
import { SigningKeysRepository } from './signing-keys.repository.js';

/** Signing keys, and token verification for this service's own gRPC methods (the APP_GUARD). */
@Global()
@Module({
  imports: [TypeOrmModule.forFeature([SigningKeyRecord])],
  providers: [
    SigningKeysRepository,
    KeyStore,
    { provide: VerificationKeySource, useClass: KeyStoreVerificationKeySource },
    TokenVerifier,
    { provide: APP_GUARD, useClass: GrpcAuthGuard },
  ],
  exports: [KeyStore, VerificationKeySource, TokenVerifier],
})
export class KeysModule {}
