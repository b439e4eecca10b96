/**
 * The (tenant, user) scoped sessions a warm mint-credentials function keeps, so that a user's next
 * question within the session's life needs no AssumeRole. Kept in the function's memory only: never
 * in the state, the execution history or a table. Each answer still gets its own sealed copy (KMS,
 * with the answer's encryption context), so the reuse changes nothing of what an answer can unseal.
 *
 * Rules:
 * - The key is the pair (tenantId, userId), never one of them alone: two users, or one user id in
 *   two stores, never share a session (the session policy and tags name both).
 * - A session is handed out only while more than `minRemainingSeconds` of its life remain: the
 *   workflow's timeout plus the clock skew, so that every state after MintCredentials, including
 *   retries, runs with credentials that have not expired. Below that, the caller assumes a new one.
 * - Concurrent misses for one pair share one AssumeRole (one promise), and a failed AssumeRole is
 *   not kept.
 * - At most `maxEntries` pairs: expired sessions go first, then the least recently used.
 */
import type { Asker, ScopedCredentials } from './tenant-credentials.ts';

export interface ScopedSessionsOptions {
  /** A session is used only while more than this many seconds of its life remain. */
  minRemainingSeconds: number;
  /** @default 5000 (a session is about 2 KB: about 10 MB at most) */
  maxEntries?: number;
  /** @default the system clock */
  now?: () => Date;
}

interface Entry {
  credentials?: ScopedCredentials;
  pending?: Promise<ScopedCredentials>;
}

export class ScopedSessions {
  readonly #entries = new Map<string, Entry>();
  readonly #minRemainingMs: number;
  readonly #maxEntries: number;
  readonly #now: () => Date;

  constructor(options: ScopedSessionsOptions) {
    this.#minRemainingMs = options.minRemainingSeconds * 1000;
    this.#maxEntries = options.maxEntries ?? 5000;
    this.#now = options.now ?? (() => new Date());
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The pair's session if it has enough life left, or a new one from `assume` (which is then kept). */
  async get(asker: Asker, assume: () => Promise<ScopedCredentials>): Promise<{ credentials: ScopedCredentials; reused: boolean }> {
    const key = JSON.stringify([asker.tenantId, asker.userId]);
    const entry = this.#entries.get(key);
    if (entry?.credentials && this.#usable(entry.credentials)) {
      // Most recently used last.
      this.#entries.delete(key);
      this.#entries.set(key, entry);
      return { credentials: entry.credentials, reused: true };
    }
    if (entry?.pending) return { credentials: await entry.pending, reused: true };
    const pending = assume();
    const fresh: Entry = { pending };
    this.#entries.delete(key);
    this.#make(key, fresh);
    try {
      const credentials = await pending;
      if (this.#entries.get(key) === fresh) {
        fresh.credentials = credentials;
        delete fresh.pending;
      }
      return { credentials, reused: false };
    } catch (err) {
      if (this.#entries.get(key) === fresh) this.#entries.delete(key);
      throw err;
    }
  }

  #usable(c: ScopedCredentials): boolean {
    const expires = Date.parse(c.expiration);
    return Number.isFinite(expires) && expires - this.#now().getTime() > this.#minRemainingMs;
  }

  #make(key: string, entry: Entry): void {
    if (this.#entries.size >= this.#maxEntries) {
      for (const [k, e] of this.#entries) {
        if (e.credentials && !this.#usable(e.credentials)) this.#entries.delete(k);
      }
    }
    while (this.#entries.size >= this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done) break;
      this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, entry);
  }
}
