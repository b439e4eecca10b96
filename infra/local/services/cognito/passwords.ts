/**
 * The local pool's passwords: salted scrypt hashes, the pool's password policy (the CDK pool's, from
 * tasks/user-pool-policy.ts), the temporary passwords of users yet to set their own, and the queue
 * that keeps sign-ins from taking every thread of the process (`HashingQueue`).
 */
import { randomBytes, randomInt, scrypt, timingSafeEqual } from 'node:crypto';
import { USER_POOL_PASSWORD_POLICY } from '../../../../tasks/user-pool-policy.ts';

/**
 * scrypt cost: N=2^12, r=8 (4 MiB), p=1. The stand-in protects demo passwords, and every sign-in
 * (an unknown name's too, against the decoy) pays it on a machine that also runs the rest of the
 * stack; a quarter of the 16 MiB it used before. Encoded in each hash, so hashes made with other
 * parameters (the earlier N=2^14) still verify, and it can be raised later.
 */
const SCRYPT = { N: 4096, r: 8, p: 1, keyLength: 32 };

function scryptAsync(password: string, salt: Buffer, N: number, r: number, p: number, keyLength: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFKC'), salt, keyLength, { N, r, p, maxmem: 256 * N * r }, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

/** `scrypt$N$r$p$<salt b64>$<hash b64>` */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, SCRYPT.N, SCRYPT.r, SCRYPT.p, SCRYPT.keyLength);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = encoded.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const actual = await scryptAsync(password, Buffer.from(salt, 'base64'), Number(n), Number(r), Number(p), expected.length);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

let decoy: Promise<string> | undefined;

/** A hash of no one's password, compared against when the user does not exist, so that both answers take as long. */
export function decoyHash(): Promise<string> {
  return (decoy ??= hashPassword(randomBytes(16).toString('base64url')));
}

/** Cognito's special characters for the "symbol" requirement. */
const SYMBOLS = `^$*.[]{}()?"!@#%&/\\,><':;|_~\`=+- `;

/** The pool's policy: at least 12 characters, with upper and lower case letters, a digit and a symbol. */
export function passwordPolicyViolation(password: string): string | undefined {
  const prefix = 'Password did not conform with policy: ';
  if ([...password].length < USER_POOL_PASSWORD_POLICY.minLength) return `${prefix}Password not long enough`;
  if ([...password].length > 256) return `${prefix}Password too long`;
  if (/^\s|\s$/.test(password)) return `${prefix}Password must not begin or end with a space`;
  if (!/[A-Z]/.test(password)) return `${prefix}Password must have uppercase characters`;
  if (!/[a-z]/.test(password)) return `${prefix}Password must have lowercase characters`;
  if (!/[0-9]/.test(password)) return `${prefix}Password must have numeric characters`;
  if (![...password].some((c) => SYMBOLS.includes(c))) return `${prefix}Password must have symbol characters`;
  return undefined;
}

/** A random password that meets the policy, with symbols that need no quoting in a shell. */
export function temporaryPassword(length = 20): string {
  const classes = ['ABCDEFGHJKLMNPQRSTUVWXYZ', 'abcdefghijkmnopqrstuvwxyz', '23456789', '-_.:+=@%'];
  const all = classes.join('');
  const chars = classes.map((c) => c[randomInt(c.length)]!);
  while (chars.length < length) chars.push(all[randomInt(all.length)]!);
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j]!, chars[i]!];
  }
  return chars.join('');
}

/** Thrown by `HashingQueue.run` when the queue is full: nothing was run. */
export class HashingQueueFull extends Error {
  constructor() {
    super('The password hashing queue is full.');
    this.name = 'HashingQueueFull';
  }
}

/**
 * Runs password hashing `concurrency` at a time, with at most `maxWaiting` more waiting their turn;
 * beyond that, `run` refuses at once (HashingQueueFull). scrypt runs on libuv's thread pool, which
 * the rest of the process (file system, other crypto, DNS) shares: without this bound, a flood of
 * sign-ins would take every pool thread and every core from the other tenants' requests.
 */
export class HashingQueue {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    readonly concurrency = 1,
    readonly maxWaiting = 8,
  ) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running < this.concurrency) {
      this.running++;
    } else {
      if (this.waiting.length >= this.maxWaiting) throw new HashingQueueFull();
      // The slot is handed over by the run that ends (`running` stays as it is).
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }

  /** Hashings running and waiting (tests, logs). */
  get depth(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }
}
