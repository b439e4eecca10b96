/**
 * What the operator's usage report (`npm run usage`, the web UI's Usage view) knows of plans, the
 * usage table and model prices, as copies: client/ imports no workflow code. test/client-schema.test.ts
 * proves each copy equal to its source (tasks/plans.ts, tasks/usage.ts, tasks/models.ts).
 */
import type { PlanName } from './tenant-model.ts';

/** tasks/plans.ts PlanLimits and PLANS. */
export interface PlanLimits {
  readonly questionsPerUserPerMinute: number;
  readonly burstPerUser: number;
  readonly concurrentAnswersPerUser: number;
  readonly questionsPerTenantPerDay: number;
  readonly tokensPerTenantPerMonth: number;
}

export const PLANS: Readonly<Record<PlanName, PlanLimits>> = {
  basic: { questionsPerUserPerMinute: 4, burstPerUser: 2, concurrentAnswersPerUser: 1, questionsPerTenantPerDay: 500, tokensPerTenantPerMonth: 2_000_000 },
  standard: { questionsPerUserPerMinute: 10, burstPerUser: 5, concurrentAnswersPerUser: 2, questionsPerTenantPerDay: 5_000, tokensPerTenantPerMonth: 20_000_000 },
  premium: { questionsPerUserPerMinute: 30, burstPerUser: 10, concurrentAnswersPerUser: 4, questionsPerTenantPerDay: 50_000, tokensPerTenantPerMonth: 200_000_000 },
};

/** tasks/tables.ts TableNames.usage. */
export const usageTableName = (prefix: string): string => `${prefix}usage`;

/** tasks/usage.ts USAGE_KEYS, tenantPartition, daySortKey, monthSortKey. */
export const USAGE_KEYS = { partitionKey: 'pk', sortKey: 'sk' } as const;
export const tenantPartition = (tenantId: string): string => `TENANT#${tenantId}`;
export const DAY_PREFIX = 'DAY#';
export const MONTH_PREFIX = 'MONTH#';

/** tasks/usage.ts REFUSAL_REASONS: counted on the tenant's day and month items as `refused#<reason>`. */
export const REFUSAL_REASONS = ['userPerMinute', 'userBurstSpan', 'userConcurrency', 'tenantPerDay', 'tenantTokensPerMonth'] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

/** The counters of a tenant's day and month items (tasks/usage.ts), and the per-model ones' prefixes. */
export const COUNTERS = { questions: 'questions', answered: 'answered', inputTokens: 'inputTokens', outputTokens: 'outputTokens', tokens: 'tokens' } as const;
export const REFUSED_PREFIX = 'refused#';
export const INPUT_TOKENS_PREFIX = 'inputTokens#';
export const OUTPUT_TOKENS_PREFIX = 'outputTokens#';

/** tasks/models.ts TokenPrice: on-demand USD per 1,000 tokens. */
export interface TokenPrice {
  readonly inputPer1k: number;
  readonly outputPer1k: number;
}

/**
 * tasks/models.ts MODELS, as priceOf reads them: the ids a price applies to (the model id and its
 * geographic profiles: cross-Region inference is priced as the model in the source Region; a
 * global profile is not), the model's name and its price (undefined: unknown, no page gave one).
 */
export interface ModelPrice {
  readonly modelId: string;
  readonly name: string;
  readonly ids: readonly string[];
  readonly price: TokenPrice | undefined;
}

export const MODEL_PRICES: readonly ModelPrice[] = [
  { modelId: 'anthropic.claude-3-haiku-20240307-v1:0', name: 'Claude 3 Haiku', ids: ['anthropic.claude-3-haiku-20240307-v1:0', 'us.anthropic.claude-3-haiku-20240307-v1:0'], price: undefined },
  {
    modelId: 'anthropic.claude-haiku-4-5-20251001-v1:0',
    name: 'Claude Haiku 4.5',
    ids: ['anthropic.claude-haiku-4-5-20251001-v1:0', 'us.anthropic.claude-haiku-4-5-20251001-v1:0', 'eu.anthropic.claude-haiku-4-5-20251001-v1:0'],
    price: undefined,
  },
  { modelId: 'amazon.nova-2-lite-v1:0', name: 'Amazon Nova 2 Lite', ids: ['amazon.nova-2-lite-v1:0', 'us.amazon.nova-2-lite-v1:0'], price: undefined },
];

/** The price of calls keyed by `identifier` (model id, profile id or either's ARN); undefined when unknown. */
export function priceOf(identifier: string, table: readonly ModelPrice[] = MODEL_PRICES): TokenPrice | undefined {
  const slash = identifier.startsWith('arn:') ? identifier.lastIndexOf('/') : -1;
  const id = slash >= 0 ? identifier.slice(slash + 1) : identifier;
  return table.find((m) => m.ids.includes(id))?.price;
}
