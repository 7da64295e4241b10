import { createCipheriv, createDecipheriv, randomBytes, scrypt, type CipherGCM, type DecipherGCM } from 'node:crypto';
import { promisify } from 'node:util';

const scryptAsync = promisify(scrypt) as (password: string, salt: Buffer, keylen: number) => Promise<Buffer>;

/** The archive key: derived from the operator's BACKUP_ENCRYPTION_KEY and the archive's own salt (kept in its manifest). */
export async function archiveKey(passphrase: string, salt: Buffer): Promise<Buffer> {
  return scryptAsync(passphrase, salt, 32);
}

export const newSalt = () => randomBytes(16);

export function encryptor(key: Buffer): { cipher: CipherGCM; iv: Buffer } {
  const iv = randomBytes(12);
  return { cipher: createCipheriv('aes-256-gcm', key, iv), iv };
}

export function decryptor(key: Buffer, iv: string, authTag: string): DecipherGCM {
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64'));
  decipher.setAuthTag(Buffer.from(authTag, 'base64'));
  return decipher;
}
