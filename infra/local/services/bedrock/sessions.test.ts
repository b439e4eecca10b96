/**
 * The local agent's session registry is bounded by expiry, as a Bedrock agent's sessions are by
 * idleSessionTTLInSeconds: sessions idle for the TTL are forgotten and swept as others are used,
 * so it holds only the sessions used within the last TTL.
 */
import { describe, expect, it } from 'vitest';
import { AgentSessions } from './sessions.ts';

const TTL_MS = 600_000;

function registry(max = 10_000) {
  const clock = { now: Date.parse('2026-12-01T00:00:00Z') };
  const sessions = new AgentSessions<{ turns: string[] }>(TTL_MS, max, () => new Date(clock.now));
  return { clock, sessions, touch: (id: string) => sessions.touch(id, () => ({ turns: [] })) };
}

describe('AgentSessions', () => {
  it('keeps a session used within the TTL (control), forgets one idle for the TTL', () => {
    const { clock, sessions, touch } = registry();
    touch('a').turns.push('first question');
    clock.now += TTL_MS - 1;
    expect(sessions.get('a')?.turns).toEqual(['first question']);
    touch('a');
    clock.now += TTL_MS - 1;
    expect(sessions.get('a')?.turns).toEqual(['first question']);
    clock.now += 1;
    expect(sessions.get('a')).toBeUndefined();
    expect(touch('a').turns).toEqual([]);
  });

  it('sweeps expired sessions as others are used: many sessions, then past the TTL, one in use', () => {
    const { clock, sessions, touch } = registry();
    for (let i = 0; i < 5000; i++) touch(`s-${i}`);
    expect(sessions.size).toBe(5000);
    clock.now += TTL_MS;
    touch('new');
    expect(sessions.size).toBe(1);
    expect(sessions.get('s-0')).toBeUndefined();
  });

  it('in steady state (sessions used and expiring round after round) holds one round of sessions', () => {
    const { clock, sessions, touch } = registry();
    const held: number[] = [];
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 300; i++) touch(`r${round}-${i}`);
      held.push(sessions.size);
      clock.now += TTL_MS;
    }
    expect(held).toEqual([300, 300, 300, 300, 300]);
  });

  it('keeps the live sessions behind the expired ones, and still caps the count (least recently used dropped)', () => {
    const { clock, sessions, touch } = registry(3);
    touch('old');
    clock.now += TTL_MS / 2;
    touch('live');
    clock.now += TTL_MS / 2;
    touch('new');
    expect([sessions.get('old'), sessions.get('live'), sessions.get('new')].map(Boolean)).toEqual([false, true, true]);
    touch('x');
    touch('y');
    expect(sessions.size).toBe(3);
    expect(sessions.get('live')).toBeUndefined();
  });
});
