/**
 * The Usage view's chart arithmetic, apart from React: a month's days with zeros where the usage
 * table has no item, the running total of tokens, round axis maxima and ticks, compact numbers.
 */
import { daysOfMonth, type DayUsage } from '../../usage.ts';

export interface ChartDay {
  /** yyyy-mm-dd */
  day: string;
  /** Day of the month, 1-based. */
  date: number;
  answered: number;
  /** Admitted but not (yet) answered: questions - answered. */
  unanswered: number;
  refused: number;
  inputTokens: number;
  outputTokens: number;
  tokens: number;
  /** Tokens of the month up to and including this day. */
  cumulativeTokens: number;
}

/** Every day of `month`, in order, with the counters of its DAY item (zeros where there is none). */
export function chartDays(month: string, days: readonly DayUsage[]): ChartDay[] {
  const byDay = new Map(days.map((d) => [d.day, d]));
  let cumulative = 0;
  return daysOfMonth(month).map((day, i) => {
    const d = byDay.get(day);
    const tokens = d?.tokens ?? 0;
    cumulative += tokens;
    return {
      day,
      date: i + 1,
      answered: d?.answered ?? 0,
      unanswered: Math.max(0, (d?.questions ?? 0) - (d?.answered ?? 0)),
      refused: d?.refusedTotal ?? 0,
      inputTokens: d?.inputTokens ?? 0,
      outputTokens: d?.outputTokens ?? 0,
      tokens,
      cumulativeTokens: cumulative,
    };
  });
}

/** The smallest 1, 2, 2.5 or 5 x 10^k at or above `value` (1 for nothing). */
export function niceMax(value: number): number {
  if (!(value > 0)) return 1;
  const exp = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * exp >= value) return step * exp;
  return 10 * exp;
}

/** Evenly spaced ticks from 0 to `max` (a niceMax) at round steps: 4 for a 2 x 10^k, else 5. */
export function ticks(max: number): number[] {
  const lead = max / 10 ** Math.floor(Math.log10(max));
  const count = lead === 2 ? 4 : 5;
  return Array.from({ length: count + 1 }, (_, i) => (max * i) / count);
}

/** 1234 -> 1.2k, 20000000 -> 20M: for axis labels (the totals table gives exact figures). */
export function compact(n: number): string {
  const abs = Math.abs(n);
  const fmt = (v: number, unit: string) => `${Number(v.toFixed(v < 10 ? 1 : 0))}${unit}`;
  if (abs >= 1e9) return fmt(n / 1e9, 'G');
  if (abs >= 1e6) return fmt(n / 1e6, 'M');
  if (abs >= 1e3) return fmt(n / 1e3, 'k');
  return String(Math.round(n * 10) / 10);
}
