/**
 * Plans: what a tenant may use. One source, read by the admission resolver (bundled into the
 * resolver code by esbuild), the tenants CLI (`set-plan`), the seed, the usage report and the web
 * UI's Usage view (through a checked copy in client/tenant-model.ts).
 *
 * Every limit is enforced at admission (Mutation.ask's pipeline), before anything starts:
 * - questionsPerUserPerMinute, with burstPerUser: a user may ask `questionsPerUserPerMinute +
 *   burstPerUser` questions in any one clock minute (UTC), and `BURST_SPAN_MINUTES *
 *   questionsPerUserPerMinute` in any one clock span of BURST_SPAN_MINUTES minutes, so that the
 *   sustained rate is the per-minute figure and a short burst may exceed it by `burstPerUser`.
 *   Refused as `Throttled`, retry at the next minute (or span).
 * - concurrentAnswersPerUser: answers of one user in flight at once (admitted, not yet DONE or
 *   FAILED). Refused as `Throttled`; a slot is released when its answer ends, or expires
 *   SLOT_TTL_SECONDS after admission if its execution died without ending.
 * - questionsPerTenantPerDay: admitted questions of all the tenant's users in one UTC day.
 *   Refused as `QuotaExceeded`, retry after midnight UTC.
 * - tokensPerTenantPerMonth: model tokens (input + output) the tenant's answers used in one UTC
 *   calendar month, as metered by InvokeAgent. Admission refuses once the month's total has reached
 *   the budget (the answer that crosses it is finished: a budget is checked before an answer, not
 *   during it). Refused as `QuotaExceeded`, retry next month.
 */
export const PLAN_NAMES = ['basic', 'standard', 'premium'] as const;
export type PlanName = (typeof PLAN_NAMES)[number];

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

/** The plan of a tenant whose config row names none (rows written before plans existed). */
export const DEFAULT_PLAN: PlanName = 'standard';

/** The span over which the sustained per-minute rate holds (see questionsPerUserPerMinute). */
export const BURST_SPAN_MINUTES = 5;

/**
 * How long a concurrency slot lives if its answer never ends (the execution died): longer than the
 * workflow's timeout, so that a live answer never loses its slot.
 */
export const SLOT_TTL_SECONDS = 10 * 60;

export function isPlanName(value: unknown): value is PlanName {
  return typeof value === 'string' && (PLAN_NAMES as readonly string[]).includes(value);
}

/** The limits of a config row's plan; a row without one has the default plan's. */
export function planLimits(plan: string | undefined): PlanLimits {
  return PLANS[isPlanName(plan) ? plan : DEFAULT_PLAN];
}
