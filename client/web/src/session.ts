/**
 * The signed-in user's tokens: who they are (read from the ID token, for display and for the
 * answer ids the API requires; the server verifies the token itself) and keeping the tokens fresh
 * with the refresh token, ahead of expiry and whenever the API refuses the current one.
 * Tokens live in memory only: a reload signs the user out.
 */
import { jwtClaims } from '../../api.ts';
import type { Tokens } from '../../auth.ts';

export interface Claims {
  sub: string;
  username: string;
  /** The store (tenant) the user belongs to: Cognito's immutable `custom:tenantId`. */
  tenantId: string;
}

/** The ID token's identity claims, read without verification (display only). */
export function claimsOf(idToken: string): Claims {
  const c = jwtClaims(idToken);
  const sub = c.sub;
  const username = c['cognito:username'] ?? c.username;
  const tenantId = c['custom:tenantId'];
  if (typeof sub !== 'string' || typeof username !== 'string' || typeof tenantId !== 'string') {
    throw new Error('The ID token lacks sub, username or custom:tenantId.');
  }
  return { sub, username, tenantId };
}

/** Refresh this long before expiry. */
export const REFRESH_MARGIN_MS = 60_000;

export interface TokenKeeperDeps {
  refresh(refreshToken: string): Promise<Tokens>;
  now(): number;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
  /** The session cannot be kept (no refresh token, or the refresh was refused). */
  onEnded(reason: unknown): void;
}

export class TokenKeeper {
  private timer: unknown;
  private expiresAt: number;
  private refreshing: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private tokens: Tokens,
    private readonly deps: TokenKeeperDeps,
  ) {
    this.expiresAt = deps.now() + tokens.expiresIn * 1000;
    this.schedule();
  }

  get idToken(): string {
    return this.tokens.idToken;
  }

  get claims(): Claims {
    return claimsOf(this.tokens.idToken);
  }

  /** Milliseconds until the scheduled refresh. */
  msUntilRefresh(): number {
    return Math.max(0, this.expiresAt - REFRESH_MARGIN_MS - this.deps.now());
  }

  /** Refreshes now (concurrent callers share one refresh). Rejects, and ends the session, when refused. */
  refreshNow(): Promise<void> {
    if (this.stopped) return Promise.reject(new Error('Signed out.'));
    this.refreshing ??= (async () => {
      const refreshToken = this.tokens.refreshToken;
      try {
        if (!refreshToken) throw new Error('There is no refresh token.');
        const next = await this.deps.refresh(refreshToken);
        if (this.stopped) return;
        this.tokens = { ...next, refreshToken: next.refreshToken ?? refreshToken };
        this.expiresAt = this.deps.now() + next.expiresIn * 1000;
        this.schedule();
      } catch (err) {
        if (!this.stopped) {
          this.stop();
          this.deps.onEnded(err);
        }
        throw err;
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.deps.clearTimer(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (this.timer !== undefined) this.deps.clearTimer(this.timer);
    this.timer = this.deps.setTimer(() => {
      this.timer = undefined;
      this.refreshNow().catch(() => undefined); // onEnded has told the UI
    }, this.msUntilRefresh());
  }
}
