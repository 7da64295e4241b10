import { createCipheriv, createDecipheriv, createHmac, randomBytes, scrypt, timingSafeEqual, type CipherGCM, type DecipherGCM } from 'node:crypto';
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

/** Kept in the manifest: tells a wrong key from damaged data without revealing the key. */
export function keyCheck(key: Buffer): string {
  return createHmac('sha256', key).update('scriptorium-backup-key-check').digest('base64');
}

/** The key of an archive from the operator's passphrase; undefined when the passphrase is not the one it was made with. */
export async function keyOfArchive(passphrase: string, encryption: { salt: string; keyCheck?: string }): Promise<Buffer | undefined> {
  const key = await archiveKey(passphrase, Buffer.from(encryption.salt, 'base64'));
  const expected = Buffer.from(encryption.keyCheck ?? '', 'base64');
  const actual = Buffer.from(keyCheck(key), 'base64');
  return expected.length === actual.length && timingSafeEqual(expected, actual) ? key : undefined;
}
