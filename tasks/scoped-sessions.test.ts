import { describe, expect, it } from 'vitest';
import { ScopedSessions } from './scoped-sessions.ts';
import type { ScopedCredentials } from './tenant-credentials.ts';

const T0 = Date.parse('2030-01-01T00:00:00.000Z');
const session = (id: string, expiresAtMs: number): ScopedCredentials => ({ accessKeyId: id, secretAccessKey: 's', sessionToken: 't', expiration: new Date(expiresAtMs).toISOString() });

describe('ScopedSessions', () => {
  it('concurrent misses for one pair share one AssumeRole (control: another pair makes its own)', async () => {
    const sessions = new ScopedSessions({ minRemainingSeconds: 60, now: () => new Date(T0) });
    let assumed = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const assume = async () => {
      const n = ++assumed;
      await gate;
      return session(`K${n}`, T0 + 900_000);
    };
    const a = sessions.get({ tenantId: 't1', userId: 'u1' }, assume);
    const b = sessions.get({ tenantId: 't1', userId: 'u1' }, assume);
    const c = sessions.get({ tenantId: 't1', userId: 'u2' }, assume);
    release();
    const [ra, rb, rc] = await Promise.all([a, b, c]);
    expect(assumed).toBe(2);
    expect([ra.credentials.accessKeyId, rb.credentials.accessKeyId, rc.credentials.accessKeyId]).toEqual(['K1', 'K1', 'K2']);
    expect([ra.reused, rb.reused, rc.reused]).toEqual([false, true, false]);
  });

  it('keeps at most maxEntries pairs: expired ones go first, then the least recently used', async () => {
    let now = T0;
    const sessions = new ScopedSessions({ minRemainingSeconds: 60, maxEntries: 3, now: () => new Date(now) });
    const get = (userId: string, expiresAtMs = now + 900_000) => sessions.get({ tenantId: 't', userId }, async () => session(userId, expiresAtMs));
    await get('short', T0 + 100_000);
    await get('a');
    await get('b');
    expect(sessions.size).toBe(3);
    now = T0 + 50_000; // 'short' has 50 s left: no longer usable, so it is pruned first.
    await get('c');
    expect(sessions.size).toBe(3);
    expect((await get('a')).reused).toBe(true);
    expect((await get('b')).reused).toBe(true);
    // Full of usable sessions: the least recently used ('c') goes.
    await get('d');
    expect(sessions.size).toBe(3);
    expect((await get('a')).reused).toBe(true);
    expect((await get('c')).reused).toBe(false);
  });

  it('a session whose expiration cannot be read is never reused', async () => {
    const sessions = new ScopedSessions({ minRemainingSeconds: 60, now: () => new Date(T0) });
    const odd: ScopedCredentials = { ...session('X', T0), expiration: 'not a date' };
    await sessions.get({ tenantId: 't', userId: 'u' }, async () => odd);
    expect((await sessions.get({ tenantId: 't', userId: 'u' }, async () => session('Y', T0 + 900_000))).credentials.accessKeyId).toBe('Y');
  });
});
