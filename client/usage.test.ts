import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { countersOf, daysOfMonth, describeCost, formatUsage, parseMonth, UNATTRIBUTED, type TenantUsage } from './usage.ts';
import { MODEL_PRICES, type ModelPrice } from './usage-model.ts';

const N = (n: number): AttributeValue => ({ N: String(n) });
const HAIKU = 'us.anthropic.claude-haiku-4-5-20251001-v1:0';
const NOVA = 'us.amazon.nova-2-lite-v1:0';
/** A test price table: the models table's ids with made-up prices (the real table has none). */
const priced: ModelPrice[] = MODEL_PRICES.map((m) => ({ ...m, price: m.name === 'Claude Haiku 4.5' ? { inputPer1k: 0.001, outputPer1k: 0.005 } : { inputPer1k: 0.0003, outputPer1k: 0.0025 } }));
const item = {
  questions: N(12), answered: N(10), 'refused#userPerMinute': N(2), 'refused#tenantPerDay': N(1),
  inputTokens: N(5000), outputTokens: N(1500), tokens: N(6500),
  [`inputTokens#${HAIKU}`]: N(3000), [`outputTokens#${HAIKU}`]: N(1000),
  [`inputTokens#${NOVA}`]: N(2000), [`outputTokens#${NOVA}`]: N(500),
};

describe('countersOf: an item as tasks/usage.ts writes it', () => {
  it('reads the counters, refusals by reason, and each model; cost = tokens x price per 1,000, summed over models', () => {
    const c = countersOf(item, priced);
    expect(c).toMatchObject({ questions: 12, answered: 10, refusedTotal: 3, inputTokens: 5000, outputTokens: 1500, tokens: 6500, unpricedModels: [] });
    expect(c.refused).toEqual({ userPerMinute: 2, userBurstSpan: 0, userConcurrency: 0, tenantPerDay: 1, tenantTokensPerMonth: 0 });
    // Haiku: 3 x 0.001 + 1 x 0.005 = 0.008; Nova: 2 x 0.0003 + 0.5 x 0.0025 = 0.00185.
    expect(c.models.map((m) => [m.modelId, m.inputTokens, m.outputTokens])).toEqual([[NOVA, 2000, 500], [HAIKU, 3000, 1000]]);
    expect(c.models.find((m) => m.modelId === HAIKU)!.costUsd).toBeCloseTo(0.008, 12);
    expect(c.costUsd).toBeCloseTo(0.00985, 12);
    expect(describeCost(c)).toBe('$0.0099');
  });

  it('control: the models table as it is has no prices, so the cost is unknown and says which models', () => {
    const c = countersOf(item);
    expect(c.costUsd).toBeNull();
    expect(c.unpricedModels).toEqual([NOVA, HAIKU]);
    expect(describeCost(c)).toBe(`price unknown (${NOVA}, ${HAIKU}: no price in the models table)`);
  });

  it('a global profile is not priced as its model (it costs less); tokens without a model id are unpriced', () => {
    const c = countersOf({ inputTokens: N(1500), outputTokens: N(100), [`inputTokens#global.amazon.nova-2-lite-v1:0`]: N(1000), [`outputTokens#global.amazon.nova-2-lite-v1:0`]: N(100) }, priced);
    expect(c.models).toEqual([
      { modelId: 'global.amazon.nova-2-lite-v1:0', inputTokens: 1000, outputTokens: 100, costUsd: null },
      { modelId: UNATTRIBUTED, inputTokens: 500, outputTokens: 0, costUsd: null },
    ]);
    expect(c.costUsd).toBeNull();
    expect(c.tokens).toBe(1600);
  });

  it('no item: zeros, and a cost of $0 (nothing to price)', () => {
    const c = countersOf(undefined);
    expect(c).toMatchObject({ questions: 0, refusedTotal: 0, tokens: 0, models: [], costUsd: 0, unpricedModels: [] });
  });
});

describe('months', () => {
  const now = new Date('2026-12-03T13:00:00Z');
  it('default to the current UTC month; YYYY-MM only', () => {
    expect(parseMonth(undefined, now)).toBe('2026-12');
    expect(parseMonth('2026-02', now)).toBe('2026-02');
    for (const bad of ['2026-13', '2026-2', '26-02', '2026-02-01', 'december']) expect(() => parseMonth(bad, now)).toThrow(/^Invalid month '.*': give a UTC calendar month as YYYY-MM/);
  });
  it('have their calendar days', () => {
    expect(daysOfMonth('2026-02')).toHaveLength(28);
    expect(daysOfMonth('2028-02').at(-1)).toBe('2028-02-29');
    expect(daysOfMonth('2026-12')[0]).toBe('2026-12-01');
  });
});

describe('formatUsage', () => {
  it('prints a row per tenant, its refusals by reason, its budget, models and cost', () => {
    const row: TenantUsage = {
      tenantId: 'tenant1', name: 'T1', status: 'ACTIVE', plan: 'standard', month: '2026-12',
      limits: { questionsPerTenantPerDay: 5000, tokensPerTenantPerMonth: 20_000_000 }, tokensOfBudgetPercent: (6500 / 20_000_000) * 100,
      ...countersOf(item),
    };
    const lines = formatUsage([row], '2026-12');
    expect(lines[1]).toMatch(/^tenant +plan +admitted +answered +refused +input tok +output tok +tokens +of budget$/);
    expect(lines[2]).toMatch(/^tenant1 +standard +12 +10 +3 +5,000 +1,500 +6,500 +0\.03%$/);
    expect(lines).toContain('  refused: userPerMinute 2, tenantPerDay 1');
    expect(lines).toContain('tenant1 (standard plan: 5,000 questions a day, 20,000,000 tokens a month)');
    expect(lines.at(-1)).toMatch(/^ {2}estimated cost: price unknown/);
    expect(formatUsage([], '2026-12')).toContain('No tenants.');
  });
});
