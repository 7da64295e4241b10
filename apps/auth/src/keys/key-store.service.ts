import { createHash, createPublicKey, generateKeyPair } from 'node:crypto';
import { promisify } from 'node:util';
import { Injectable, type OnModuleInit } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { TOKEN_ALGORITHM, VerificationKeySource, type ApiTokenIdentity, type VerificationKey } from '#common/auth.js';
import { ApiTokensService } from '../api-tokens/api-tokens.service.js';
import { rootLogger } from '#common/logger.js';
import type { SigningKeyRecord } from './signing-key.entity.js';
import { SigningKeysRepository } from './signing-keys.repository.js';

const generateKeyPairAsync = promisify(generateKeyPair);
const RELOAD_AT_MOST_EVERY_MS = 10_000;

export interface SigningKey {
  kid: string;
  privateKeyPem: string;
}

/** A key id derived from the public key: sha256 of its SPKI DER, base64url, shortened. */
export function keyIdOf(publicKeyPem: string): string {
  const der = createPublicKey(publicKeyPem).export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('base64url').slice(0, 22);
}

/**
 * The RSA keys that sign access tokens, stored in auth.signing_keys.
 * On first start a 2048-bit pair is generated and inserted if absent; every replica
 * then uses whatever is stored, so they all sign with (and publish) the same key.
 */
@Injectable()
export class KeyStore implements OnModuleInit {
  private keys: SigningKeyRecord[] = [];
  private loadedAt = 0;
  private ready: Promise<void> | undefined;

  constructor(private readonly stored: SigningKeysRepository) {}

  /**
   * Also awaited by every use: startServiceApp opens the gRPC port before the
   * init hooks run, so a call may arrive before onModuleInit.
   */
  onModuleInit(): Promise<void> {
    this.ready ??= this.ensureKey().catch((error) => {
      this.ready = undefined;
      throw error;
    });
    return this.ready;
  }

  private async ensureKey() {
    await this.reload();
    if (this.keys.length === 0) {
      const { publicKey, privateKey } = await generateKeyPairAsync('rsa', {
        modulusLength: 2048,
        publicKeyEncoding: { type: 'spki', format: 'pem' },
        privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      });
      const kid = keyIdOf(publicKey);
      const inserted = await this.stored.insertFirst({ kid, algorithm: TOKEN_ALGORITHM, privateKeyPem: privateKey, publicKeyPem: publicKey });
      if (inserted) rootLogger().info({ kid }, 'generated the token signing key');
      await this.reload();
    }
    if (this.keys.length === 0) throw new Error('no token signing key could be stored or read');
  }

  private async reload() {
    this.keys = await this.stored.all();
    this.loadedAt = Date.now();
  }

  /** The key new tokens are signed with: the newest generation. */
  async signingKey(): Promise<SigningKey> {
    await this.onModuleInit();
    const [newest] = this.keys;
    if (!newest) throw new Error('KeyStore used before it was initialised');
    return { kid: newest.kid, privateKeyPem: newest.privateKeyPem };
  }

  /** Every stored public key. `forceRefresh` re-reads the table (at most every 10 s). */
  async publicKeys(forceRefresh = false): Promise<VerificationKey[]> {
    await this.onModuleInit();
    if (forceRefresh && Date.now() - this.loadedAt > RELOAD_AT_MOST_EVERY_MS) await this.reload();
    return this.keys.map((k) => ({ kid: k.kid, publicKeyPem: k.publicKeyPem }));
  }
}

/**
 * The auth service verifies its own tokens straight from its key store, and API tokens
 * straight from its table (no cache: a revocation takes effect at once here).
 */
@Injectable()
export class KeyStoreVerificationKeySource extends VerificationKeySource {
  private apiTokens: ApiTokensService | undefined;

  constructor(
    private readonly store: KeyStore,
    private readonly moduleRef: ModuleRef,
  ) {
    super();
  }

  getKeys(forceRefresh = false): Promise<VerificationKey[]> {
    return this.store.publicKeys(forceRefresh);
  }

  async verifyApiToken(token: string): Promise<ApiTokenIdentity> {
    const apiTokens: ApiTokensService = (this.apiTokens ??= this.moduleRef.get(ApiTokensService, { strict: false })!);
    const { expiresAt: _expiresAt, ...identity } = await apiTokens.verify(token);
    return identity;
  }
}
