import { describe, expect, it } from 'vitest';
import type { Tokens } from '../../auth.ts';
import { claimsOf, REFRESH_MARGIN_MS, TokenKeeper } from './session.ts';

const jwt = (claims: Record<string, unknown>) => `h.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.s`;
const tokens = (n: number, refreshToken?: string): Tokens => ({
  idToken: jwt({ sub: 'u1', 'cognito:username': 'tenant1-user', 'custom:tenantId': 'tenant1', n }),
  accessToken: `a${n}`,
  expiresIn: 3600,
  ...(refreshToken ? { refreshToken } : {}),
});

function harness(refresh: (rt: string) => Promise<Tokens>, initial = tokens(0, 'r0')) {
  let now = 0;
  const timers: { fn: () => void; at: number }[] = [];
  const ended: unknown[] = [];
  const keeper = new TokenKeeper(initial, {
    refresh,
    now: () => now,
    setTimer: (fn, ms) => timers.push({ fn, at: now + ms }) - 1,
    clearTimer: (i) => (timers[i as number]!.fn = () => undefined),
    onEnded: (reason) => ended.push(reason),
  });
  const advance = async (ms: number) => {
    now += ms;
    for (const t of timers.filter((x) => x.at <= now)) {
      const fn = t.fn;
      t.fn = () => undefined;
      fn();
    }
    await new Promise((r) => setTimeout(r, 0));
  };
  return { keeper, advance, ended };
}

describe('the signed-in session', () => {
  it('reads the user and the tenant from the ID token', () => {
    expect(claimsOf(tokens(0).idToken)).toEqual({ sub: 'u1', username: 'tenant1-user', tenantId: 'tenant1' });
    expect(() => claimsOf(jwt({ sub: 'u1', 'cognito:username': 'x' }))).toThrow('custom:tenantId');
  });

  it('refreshes a minute before expiry, keeps the refresh token, and schedules the next refresh', async () => {
    const calls: string[] = [];
    const { keeper, advance } = harness(async (rt) => {
      calls.push(rt);
      return tokens(calls.length);
    });
    await advance(3600_000 - REFRESH_MARGIN_MS - 1);
    expect(calls).toEqual([]);
    await advance(1);
    expect(calls).toEqual(['r0']);
    expect(claimsOf(keeper.idToken)).toMatchObject({ sub: 'u1' });
    expect(keeper.idToken).toBe(tokens(1).idToken);
    await advance(3600_000 - REFRESH_MARGIN_MS);
    expect(calls).toEqual(['r0', 'r0']);
    keeper.stop();
  });

  it('concurrent refreshes share one call; a refused refresh ends the session once', async () => {
    let calls = 0;
    const refused = Object.assign(new Error('Refresh Token has expired'), { name: 'NotAuthorizedException' });
    const { keeper, ended } = harness(async () => {
      calls++;
      throw refused;
    });
    const results = await Promise.allSettled([keeper.refreshNow(), keeper.refreshNow()]);
    expect(calls).toBe(1);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(ended).toEqual([refused]);
    await expect(keeper.refreshNow()).rejects.toThrow('Signed out.');
  });

  it('without a refresh token the session ends when it is due', async () => {
    const { advance, ended } = harness(async () => tokens(1), tokens(0));
    await advance(3600_000);
    expect(ended).toHaveLength(1);
  });
});
