/**
 * Cognito's lockout for failed password sign-ins, as its developer guide describes it: after five
 * failed attempts the user is locked out for 1 second, and each further failure doubles the lockout
 * (2^(n-5) seconds for n failures), up to about 15 minutes. An attempt during a lockout is answered
 * "Password attempts exceeded" and does not count. The count goes back to zero after a successful
 * sign-in, or after 15 minutes without any attempt once a lockout has happened.
 *
 * Pure functions over a small record, kept by the pool: with the user (persisted, as Cognito keeps it
 * across time) or, for names no user has, in a bounded map in memory, so that an unknown name gets
 * the same answers as a known one (no user enumeration).
 */

export interface FailedSignIns {
  /** Failed password attempts since the last reset (attempts refused during a lockout not counted). */
  failures: number;
  /** Epoch ms until which every attempt is refused; 0 before the first lockout. */
  lockedUntil: number;
  /** Epoch ms of the last attempt, refused ones included. */
  lastAttemptAt: number;
}

/** Failures allowed before the first lockout. */
export const FREE_FAILURES = 5;
/** The longest lockout ("about 15 minutes"). */
export const MAX_LOCKOUT_MS = 15 * 60 * 1000;
/** Without any attempt for this long after a lockout, the count starts again from zero. */
export const IDLE_RESET_MS = 15 * 60 * 1000;

export const PASSWORD_ATTEMPTS_EXCEEDED = 'Password attempts exceeded';

/** The record as it stands at `now`: undefined once the idle reset has passed. */
export function current(state: FailedSignIns | undefined, now: number): FailedSignIns | undefined {
  if (!state) return undefined;
  if (state.lockedUntil > 0 && now - state.lastAttemptAt >= IDLE_RESET_MS) return undefined;
  return state;
}

/** True when an attempt at `now` is refused without looking at the password. */
export function isLockedOut(state: FailedSignIns | undefined, now: number): boolean {
  return state !== undefined && now < state.lockedUntil;
}

/** The record after an attempt refused during a lockout: only the time of the last attempt moves. */
export function afterRefusedAttempt(state: FailedSignIns, now: number): FailedSignIns {
  return { ...state, lastAttemptAt: now };
}

/** The record after a wrong password at `now`. */
export function afterFailure(state: FailedSignIns | undefined, now: number): FailedSignIns {
  const failures = (state?.failures ?? 0) + 1;
  const lockedUntil = failures >= FREE_FAILURES ? now + Math.min(2 ** (failures - FREE_FAILURES) * 1000, MAX_LOCKOUT_MS) : (state?.lockedUntil ?? 0);
  return { failures, lockedUntil, lastAttemptAt: now };
}

/**
 * The failure records of names no user has, at most `limit` (the least recently tried go first), so
 * that a flood of made-up names cannot grow memory without bound.
 */
export class UnknownNameFailures {
  private readonly records = new Map<string, FailedSignIns>();

  constructor(private readonly limit = 10_000) {}

  get(key: string): FailedSignIns | undefined {
    return this.records.get(key);
  }

  set(key: string, state: FailedSignIns | undefined): void {
    this.records.delete(key);
    if (!state) return;
    this.records.set(key, state);
    if (this.records.size > this.limit) this.records.delete(this.records.keys().next().value!);
  }

  get size(): number {
    return this.records.size;
  }
}
