import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { RefreshTokenRecord } from './refresh-token.entity.js';

/** auth.refresh_tokens: refresh tokens (as sha256 hashes) in families, one family per sign-in. */
@Injectable()
export class RefreshTokensRepository {
  constructor(@InjectRepository(RefreshTokenRecord) private readonly tokens: Repository<RefreshTokenRecord>) {}

  async insert(token: { id: string; familyId: string; userId: string; tokenHash: string; ttlSeconds: number }): Promise<void> {
    await this.tokens.query(
      `INSERT INTO auth.refresh_tokens (id, family_id, user_id, token_hash, expires_at)
       VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))`,
      [token.id, token.familyId, token.userId, token.tokenHash, token.ttlSeconds],
    );
  }

  async findByHash(tokenHash: string): Promise<RefreshTokenRecord | undefined> {
    return (await this.tokens.findOneBy({ tokenHash })) ?? undefined;
  }

  /**
   * Marks the token revoked and replaced by `replacedBy` in one conditional UPDATE, so of two
   * concurrent replacements only one wins. Whether this one did.
   */
  async markReplaced(id: string, replacedBy: string): Promise<boolean> {
    const [, affected] = (await this.tokens.query(
      `UPDATE auth.refresh_tokens SET revoked_at = now(), replaced_by = $2 WHERE id = $1 AND revoked_at IS NULL`,
      [id, replacedBy],
    )) as [unknown, number];
    return affected === 1;
  }

  async revokeFamily(familyId: string): Promise<void> {
    await this.tokens.query(`UPDATE auth.refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL`, [familyId]);
  }

  /** Revokes every still-valid token of the user, but those of `exceptFamilyId`. */
  async revokeAllOfUser(userId: string, exceptFamilyId?: string): Promise<void> {
    await this.tokens.query(
      `UPDATE auth.refresh_tokens SET revoked_at = now()
       WHERE user_id = $1 AND revoked_at IS NULL AND ($2::uuid IS NULL OR family_id <> $2::uuid)`,
      [userId, exceptFamilyId ?? null],
    );
  }

  /** Deletes tokens that expired more than a day ago; returns how many. */
  async purgeExpired(): Promise<number> {
    const [, affected] = (await this.tokens.query(`DELETE FROM auth.refresh_tokens WHERE expires_at < now() - interval '1 day'`)) as [unknown, number];
    return affected;
  }
}
