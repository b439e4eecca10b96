import { afterEach, describe, expect, it, vi } from 'vitest';
import { EventOrder } from './event-order.ts';

type E = { seq: number; status: string };
const ev = (seq: number, status = 'PROGRESS'): E => ({ seq, status });

function ordered(gapMs = 500) {
  const out: number[] = [];
  const order = new EventOrder<E>((e) => out.push(e.seq), { gapMs });
  return { out, order };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('EventOrder', () => {
  it('passes events on in seq order, holding an early one until those before it arrive', () => {
    const { out, order } = ordered();
    order.accept(ev(1, 'ACCEPTED'));
    order.accept(ev(3, 'CHUNK'));
    expect(out).toEqual([1]);
    order.accept(ev(2));
    expect(out).toEqual([1, 2, 3]);
    order.close();
  });

  it('drops a repeated seq (a retried task) and anything after the terminal event', () => {
    const { out, order } = ordered();
    order.accept(ev(1, 'ACCEPTED'));
    order.accept(ev(1, 'ACCEPTED'));
    order.accept(ev(2));
    order.accept(ev(1000, 'DONE'));
    order.accept(ev(3, 'CHUNK'));
    order.accept(ev(1000, 'DONE'));
    expect(out).toEqual([1, 2, 1000]);
  });

  it('releases everything held, in order, before the terminal event', () => {
    const { out, order } = ordered();
    order.accept(ev(4, 'CHUNK'));
    order.accept(ev(3));
    order.accept(ev(1000, 'FAILED'));
    expect(out).toEqual([3, 4, 1000]);
  });

  it('skips a gap that stays open (an event that was never published)', () => {
    vi.useFakeTimers();
    const { out, order } = ordered(200);
    order.accept(ev(1, 'ACCEPTED'));
    order.accept(ev(3));
    order.accept(ev(5));
    vi.advanceTimersByTime(199);
    expect(out).toEqual([1]);
    vi.advanceTimersByTime(1);
    expect(out).toEqual([1, 3]);
    order.accept(ev(2)); // late: already skipped
    vi.advanceTimersByTime(200);
    expect(out).toEqual([1, 3, 5]);
    order.accept(ev(6));
    expect(out).toEqual([1, 3, 5, 6]);
    order.close();
  });
});
