import { describe, expect, it } from 'vitest';
import { countersOf, type DayUsage } from '../../usage.ts';
import { chartDays, compact, niceMax, ticks } from './usage-chart.ts';

const dayOf = (day: string, questions: number, answered: number, tokens: number): DayUsage => ({
  day,
  ...countersOf({ questions: { N: String(questions) }, answered: { N: String(answered) }, inputTokens: { N: String(tokens) }, 'refused#tenantPerDay': { N: '2' } }),
});

describe('the usage chart arithmetic', () => {
  it('fills every day of the month, with a running total of tokens', () => {
    const days = chartDays('2026-11', [dayOf('2026-11-03', 10, 8, 1000), dayOf('2026-11-05', 4, 4, 500)]);
    expect(days).toHaveLength(30);
    expect(days[2]).toMatchObject({ day: '2026-11-03', date: 3, answered: 8, unanswered: 2, refused: 2, tokens: 1000, cumulativeTokens: 1000 });
    expect(days[3]).toMatchObject({ answered: 0, tokens: 0, cumulativeTokens: 1000 });
    expect(days[29]!.cumulativeTokens).toBe(1500);
    // Control: no days, all zeros.
    expect(chartDays('2026-02', []).every((d) => d.cumulativeTokens === 0)).toBe(true);
  });

  it('rounds axis maxima up to 1, 2, 2.5 or 5 x 10^k, with round ticks', () => {
    expect([0, 1, 7, 12, 22, 480, 5_400, 21_600_000].map(niceMax)).toEqual([1, 1, 10, 20, 25, 500, 10_000, 25_000_000]);
    expect(ticks(25_000_000)).toEqual([0, 5e6, 10e6, 15e6, 20e6, 25e6]);
    expect(ticks(2000)).toEqual([0, 500, 1000, 1500, 2000]);
    expect([0, 950, 1_500, 20_000_000, 2.5e9].map(compact)).toEqual(['0', '950', '1.5k', '20M', '2.5G']);
  });
});
