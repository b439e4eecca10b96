/**
 * Checking a password sign-in (USER_PASSWORD_AUTH) as Cognito does, before any token is issued:
 * the lockout after failed attempts (lockout.ts), the same answers for a name no user has, a
 * disabled user, a temporary password past the pool's TemporaryPasswordValidityDays, and hashing
 * that waits its turn (HashingQueue) and is refused with TooManyRequestsException when the queue
 * is full. Issuing tokens and challenges stays with CognitoService.
 */
import { USER_POOL_PASSWORD_POLICY } from '../../../../tasks/user-pool-policy.ts';
import { AwsError } from '../../edge/aws-error.ts';
import type { Logger } from '../../edge/log.ts';
import { afterFailure, afterRefusedAttempt, isLockedOut, PASSWORD_ATTEMPTS_EXCEEDED, type FailedSignIns } from './lockout.ts';
import { decoyHash, HashingQueue, HashingQueueFull, verifyPassword } from './passwords.ts';
import type { StoredUser, UserPool } from './pool.ts';

export const SIGN_IN_MESSAGES = {
  incorrect: 'Incorrect username or password.',
  disabled: 'User is disabled.',
  temporaryExpired: 'Temporary password has expired and must be reset by an administrator.',
  rateExceeded: 'Rate exceeded',
} as const;

const DAY_MS = 24 * 3600 * 1000;

export function notAuthorized(message: string): AwsError {
  return new AwsError('NotAuthorizedException', message, 400);
}

export interface PasswordSignInOptions {
  pool: UserPool;
  clock: () => Date;
  logger: Logger;
  /** Hashings at once, and waiting, before sign-ins are refused. */
  hashing: { concurrency: number; maxWaiting: number };
}

export class PasswordSignIn {
  private readonly pool: UserPool;
  private readonly clock: () => Date;
  private readonly logger: Logger;
  private readonly queue: HashingQueue;

  constructor(options: PasswordSignInOptions) {
    this.pool = options.pool;
    this.clock = options.clock;
    this.logger = options.logger;
    this.queue = new HashingQueue(options.hashing.concurrency, options.hashing.maxWaiting);
  }

  /** The user whose password this is, or the AwsError Cognito answers. */
  async check(username: string, password: string): Promise<[string, StoredUser]> {
    const found = this.pool.findUser(username);
    // The attempted name of an unknown user is never logged: people type passwords into that field.
    const who = found ? { username: found[1].username } : { user: 'unknown' };
    // Locked out: refused before the password is looked at, and not counted. A name no user has is
    // locked out as a user would be, so the answers do not tell them apart.
    const before = this.pool.signInFailures(username);
    if (before && isLockedOut(before, this.now())) {
      this.record(username, afterRefusedAttempt(before, this.now()));
      this.logger.log('info', 'cognito.sign_in_refused', { ...who, reason: 'locked-out' });
      throw notAuthorized(PASSWORD_ATTEMPTS_EXCEEDED);
    }
    // An unknown user costs one scrypt too, and gets the wrong password's answer (no user enumeration).
    const encoded = found?.[1].passwordHash || (await decoyHash());
    const ok = await this.hashInTurn('InitiateAuth', () => verifyPassword(password, encoded));
    if (!found || !ok) {
      // Read again: other attempts may have counted while this one hashed.
      this.record(username, afterFailure(this.pool.signInFailures(username), this.now()));
      this.logger.log('info', 'cognito.sign_in_failed', { ...who, reason: found ? 'password' : 'unknown-user' });
      throw notAuthorized(SIGN_IN_MESSAGES.incorrect);
    }
    const [, user] = found;
    if (user.signInFailures) this.record(username, undefined);
    if (!user.enabled) throw notAuthorized(SIGN_IN_MESSAGES.disabled);
    if (user.status === 'FORCE_CHANGE_PASSWORD' && this.temporaryPasswordExpired(user)) {
      this.logger.log('info', 'cognito.sign_in_refused', { ...who, reason: 'temporary-password-expired' });
      throw notAuthorized(SIGN_IN_MESSAGES.temporaryExpired);
    }
    return found;
  }

  /** Runs hashing work in its turn; a full queue is Cognito's TooManyRequestsException. */
  async hashInTurn<T>(operation: string, work: () => Promise<T>): Promise<T> {
    try {
      return await this.queue.run(work);
    } catch (err) {
      if (!(err instanceof HashingQueueFull)) throw err;
      // debug: under a flood, a line per refused request would be a flood of its own.
      this.logger.log('debug', 'cognito.throttled', { operation, ...this.queue.depth });
      throw new AwsError('TooManyRequestsException', SIGN_IN_MESSAGES.rateExceeded, 400);
    }
  }

  private now(): number {
    return this.clock().getTime();
  }

  /** Keeps the failure record; a user's is persisted without holding up the answer, which then takes as long as for a name no user has. */
  private record(username: string, failures: FailedSignIns | undefined): void {
    this.pool.setSignInFailures(username, failures);
    if (!this.pool.findUser(username)) return;
    this.pool.persist().catch((err: unknown) => this.logger.log('error', 'cognito.persist_failed', { error: err instanceof Error ? err.message : String(err) }));
  }

  /** A temporary password lasts the pool's TemporaryPasswordValidityDays from when it was set. */
  private temporaryPasswordExpired(user: StoredUser): boolean {
    const setAt = user.passwordSetAt ?? user.updatedAt;
    return this.now() >= setAt + USER_POOL_PASSWORD_POLICY.temporaryPasswordValidityDays * DAY_MS;
  }
}
