import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';

/** Wrong passwords in a row that lock an account for the address they came from. */
export const MAX_FAILED_LOGINS = 5;
export const LOCK_SECONDS = 15 * 60;
/** Counts of an address that stopped trying are forgotten after this long. */
const FORGET_AFTER_SECONDS = 24 * 3600;

/**
 * auth.login_locks: failed sign-ins and locks per (account, client address). An account is
 * locked only for the address its wrong passwords came from; its owner elsewhere still signs in.
 */
@Injectable()
export class LoginLocks {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /** When the account is locked for this address, the end of the lock. */
  async lockedUntil(userId: string, address: string): Promise<Date | undefined> {
    const rows: { locked_until: Date }[] = await this.db.query(
      'SELECT locked_until FROM auth.login_locks WHERE user_id = $1 AND address = $2 AND locked_until > now()',
      [userId, address],
    );
    return rows[0]?.locked_until;
  }

  /** Counts a wrong password from the address; the MAX_FAILED_LOGINS-th in a row locks it. Returns the lock end, if locked now. */
  async recordFailure(userId: string, address: string): Promise<Date | undefined> {
    const rows: { locked_until: Date | null }[] = await this.db.query(
      `INSERT INTO auth.login_locks AS l (user_id, address, failed_count, locked_until)
       VALUES ($1, $2, 1, NULL)
       ON CONFLICT (user_id, address) DO UPDATE SET
         failed_count = CASE WHEN l.failed_count + 1 >= $3 THEN 0 ELSE l.failed_count + 1 END,
         locked_until = CASE WHEN l.failed_count + 1 >= $3 THEN now() + make_interval(secs => $4) ELSE l.locked_until END,
         updated_at = now()
       RETURNING locked_until`,
      [userId, address, MAX_FAILED_LOGINS, LOCK_SECONDS],
    );
    const lockedUntil = rows[0]?.locked_until;
    return lockedUntil && lockedUntil.getTime() > Date.now() ? lockedUntil : undefined;
  }

  /** A right password from the address clears its count (other addresses keep theirs). */
  async recordSuccess(userId: string, address: string): Promise<void> {
    await this.db.query('DELETE FROM auth.login_locks WHERE user_id = $1 AND address = $2', [userId, address]);
  }

  /** Clears every count and lock of the account; says whether it was locked anywhere and how many failures were counted. */
  async clear(userId: string): Promise<{ wasLocked: boolean; failedLoginCount: number }> {
    // TypeORM answers a DELETE … RETURNING with [rows, affected].
    const [rows] = (await this.db.query(
      'DELETE FROM auth.login_locks WHERE user_id = $1 RETURNING failed_count, locked_until IS NOT NULL AND locked_until > now() AS locked',
      [userId],
    )) as [{ failed_count: number; locked: boolean }[], number];
    return { wasLocked: rows.some((r) => r.locked), failedLoginCount: rows.reduce((n, r) => n + r.failed_count, 0) };
  }

  /** Forgets counts of addresses that stopped trying long ago (the table would otherwise grow with every address ever seen). */
  async purgeStale(): Promise<void> {
    await this.db.query(
      `DELETE FROM auth.login_locks WHERE updated_at < now() - make_interval(secs => $1) AND (locked_until IS NULL OR locked_until < now())`,
      [FORGET_AFTER_SECONDS],
    );
  }
}
