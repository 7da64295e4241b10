import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { SigningKeyRecord } from './signing-key.entity.js';

/** auth.signing_keys: the RSA key pairs that sign access tokens, by generation. */
@Injectable()
export class SigningKeysRepository {
  constructor(@InjectRepository(SigningKeyRecord) private readonly keys: Repository<SigningKeyRecord>) {}

  /** Every key, newest generation first. */
  all(): Promise<SigningKeyRecord[]> {
    return this.keys.find({ order: { generation: 'DESC' } });
  }

  /** Stores the first generation unless one exists (replicas starting together: one wins). Whether this one did. */
  async insertFirst(key: { kid: string; algorithm: string; privateKeyPem: string; publicKeyPem: string }): Promise<boolean> {
    const inserted: unknown[] = await this.keys.query(
      `INSERT INTO auth.signing_keys (kid, generation, algorithm, private_key_pem, public_key_pem)
       VALUES ($1, 1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING kid`,
      [key.kid, key.algorithm, key.privateKeyPem, key.publicKeyPem],
    );
    return inserted.length > 0;
  }
}
