import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

@Entity({ schema: 'auth', name: 'signing_keys' })
export class SigningKeyRecord {
  @PrimaryColumn({ type: 'text' })
  kid: string;

  /** 1 for the first key; a rotation would insert the next generation. The newest signs. */
  @Column({ type: 'integer' })
  generation: number;

  @Column({ type: 'text', default: 'RS256' })
  algorithm: string;

  @Column({ name: 'private_key_pem', type: 'text' })
  privateKeyPem: string;

  @Column({ name: 'public_key_pem', type: 'text' })
  publicKeyPem: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
