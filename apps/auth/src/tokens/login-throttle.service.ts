import { Inject, Injectable } from '@nestjs/common';
import { tooManyRequests, type DomainError } from '#common/errors.js';
import { rootLogger } from '#common/logger.js';
import type { AuthConfig } from '../auth.config.js';

interface Failure {
  at: number;
  /** The username tried, lower-cased: a successful sign-in forgives only that account's failures. */
  account: string;
}

interface AddressState {
  failures: Failure[];
  lockedUntil: number;
}

/** What a failed sign-in costs the address: a delay before answering, or the lockout it just caused. */
export type FailureOutcome = { delayMs: number; lockedOut?: undefined } | { delayMs: 0; lockedOut: DomainError };

/** How many entries past the least recently used one eviction looks for an address that is not locked out. */
const EVICTION_SCAN = 100;

/**
 * Login throttling per client address (on top of the per-account lock in UsersService).
 *
 * Failed sign-ins are counted per address within a sliding window (LOGIN_THROTTLE_WINDOW_SECONDS):
 * each failure beyond LOGIN_THROTTLE_FREE_FAILURES delays the answer by
 * LOGIN_THROTTLE_DELAY_STEP_MS × the extra failures (at most LOGIN_THROTTLE_MAX_DELAY_MS), and the
 * LOGIN_THROTTLE_LOCKOUT_FAILURES-th locks the address out for LOGIN_THROTTLE_LOCKOUT_SECONDS
 * (RESOURCE_EXHAUSTED with retry-after; the password is not even checked meanwhile).
 *
 * State is in memory and per auth replica: with N replicas behind a balancer an address gets
 * up to N times the budget, and a restart forgets it. The map holds at most
 * LOGIN_THROTTLE_MAX_ADDRESSES addresses (least recently failed evicted first, preferring ones
 * not locked out) and at most LOGIN_THROTTLE_LOCKOUT_FAILURES failures per address.
 */
@Injectable()
export class LoginThrottle {
  private readonly addresses = new Map<string, AddressState>();

  constructor(@Inject('SERVICE_CONFIG') private readonly config: AuthConfig) {}

  private get windowMs() {
    return this.config.LOGIN_THROTTLE_WINDOW_SECONDS * 1000;
  }

  /** Throws RESOURCE_EXHAUSTED while the address is locked out. */
  check(address: string, now = Date.now()): void {
    const state = this.addresses.get(address);
    if (state && state.lockedUntil > now) throw this.lockedError(state.lockedUntil, now);
  }

  /** Counts a failed sign-in from the address. */
  recordFailure(address: string, username: string, now = Date.now()): FailureOutcome {
    const state = this.addresses.get(address) ?? { failures: [], lockedUntil: 0 };
    this.addresses.delete(address); // re-inserted below: the Map's order is least recently failed first
    const since = now - this.windowMs;
    state.failures = state.failures.filter((f) => f.at > since);
    state.failures.push({ at: now, account: username.trim().toLowerCase().slice(0, 100) });
    const limit = this.config.LOGIN_THROTTLE_LOCKOUT_FAILURES;
    if (state.failures.length > limit) state.failures.splice(0, state.failures.length - limit);
    this.makeRoom();
    this.addresses.set(address, state);
    const count = state.failures.length;
    if (count >= limit) {
      state.lockedUntil = now + this.config.LOGIN_THROTTLE_LOCKOUT_SECONDS * 1000;
      state.failures = [];
      rootLogger().warn({ address, failures: count }, 'client address locked out after repeated failed logins');
      return { delayMs: 0, lockedOut: this.lockedError(state.lockedUntil, now) };
    }
    const extra = count - this.config.LOGIN_THROTTLE_FREE_FAILURES;
    return { delayMs: extra > 0 ? Math.min(extra * this.config.LOGIN_THROTTLE_DELAY_STEP_MS, this.config.LOGIN_THROTTLE_MAX_DELAY_MS) : 0 };
  }

  /** A successful sign-in forgives the address's failures for that account only, never other accounts'. */
  recordSuccess(address: string, username: string): void {
    const state = this.addresses.get(address);
    if (!state) return;
    const account = username.trim().toLowerCase();
    state.failures = state.failures.filter((f) => f.account !== account);
    if (!state.failures.length && state.lockedUntil <= Date.now()) this.addresses.delete(address);
  }

  /** Number of addresses tracked (for tests and metrics). */
  get size(): number {
    return this.addresses.size;
  }

  private makeRoom() {
    if (this.addresses.size < this.config.LOGIN_THROTTLE_MAX_ADDRESSES) return;
    const now = Date.now();
    let scanned = 0;
    let victim: string | undefined;
    for (const [address, state] of this.addresses) {
      if (state.lockedUntil <= now) {
        victim = address;
        break;
      }
      victim ??= address;
      if (++scanned >= EVICTION_SCAN) break;
    }
    if (victim !== undefined) this.addresses.delete(victim);
  }

  private lockedError(until: number, now: number): DomainError {
    const seconds = Math.max(1, Math.ceil((until - now) / 1000));
    const minutes = Math.ceil(seconds / 60);
    const at = new Date(until).toISOString().replace(/\.\d+Z$/, 'Z');
    return tooManyRequests(
      `Too many failed sign-in attempts from your address: sign-in from it is blocked for ${minutes} more minute${minutes === 1 ? '' : 's'}. Try again after ${at}`,
      seconds,
    );
  }
}
