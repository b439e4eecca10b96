/**
 * The usage table: admission counters and token metering, pooled, one table. One source for the
 * admission resolver (bundled), InvokeAgent's metering, the release of concurrency slots, the usage
 * report and the stand-ins. Windows are clock windows in UTC.
 *
 * Items (partition key `pk`, sort key `sk`):
 * - `USER#<tenantId>#<userId>` / `MINUTE#<yyyy-mm-ddThh:mm>`: `questions` admitted in that minute; TTL.
 * - `USER#<tenantId>#<userId>` / `SPAN#<yyyy-mm-ddThh:mm>` (start of the BURST_SPAN_MINUTES span): `questions`; TTL.
 * - `USER#<tenantId>#<userId>` / `INFLIGHT`: `slots`, a string set of `<expiresAtEpochSeconds>#<answerId>`
 *   (one per answer in flight; released on DONE or FAILED, ignored and pruned once expired).
 * - `TENANT#<tenantId>` / `DAY#<yyyy-mm-dd>`: `questions` admitted, `answered`, `refused#<reason>`,
 *   `inputTokens`, `outputTokens`, `tokens` (their sum), and per model `inputTokens#<modelId>`,
 *   `outputTokens#<modelId>`.
 * - `TENANT#<tenantId>` / `MONTH#<yyyy-mm>`: the same counters for the month; admission checks
 *   `tokens` against the plan's monthly budget.
 * - `TENANT#<tenantId>` / `ANSWER#<answerId>`: InvokeAgent's claim that it metered that answer
 *   (`modelId`, `inputTokens`, `outputTokens`, `meteredAt`), so that a retried task meters once
 *   (tasks/meter.ts); TTL a day. Not a window: reports read DAY# and MONTH# items by prefix.
 * Counters only ever grow (ADD of a positive number); windows past their use expire by TTL.
 */
import type { KeySchema } from './tables.ts';

export const USAGE_KEYS: KeySchema = { partitionKey: 'pk', sortKey: 'sk' };
/** The usage table's TTL attribute (epoch seconds). */
export const USAGE_EXPIRY_ATTRIBUTE = 'expiresAt';
/** Per-user windows are kept a little past their end (they are only read while current). */
export const USER_WINDOW_TTL_SECONDS = 60 * 60;
/** Tenant day and month items are kept for reports: 400 days. */
export const TENANT_WINDOW_TTL_SECONDS = 400 * 24 * 60 * 60;

/** Why admission refused an ask; each is counted on the tenant's day and month items as `refused#<reason>`. */
export const REFUSAL_REASONS = ['userPerMinute', 'userBurstSpan', 'userConcurrency', 'tenantPerDay', 'tenantTokensPerMonth'] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

export const userPartition = (tenantId: string, userId: string): string => `USER#${tenantId}#${userId}`;
export const tenantPartition = (tenantId: string): string => `TENANT#${tenantId}`;
export const INFLIGHT_SORT_KEY = 'INFLIGHT';

/** `2026-12-03T13:08:55.123Z` -> `MINUTE#2026-12-03T13:08`. */
export const minuteSortKey = (iso: string): string => `MINUTE#${iso.slice(0, 16)}`;
export const daySortKey = (iso: string): string => `DAY#${iso.slice(0, 10)}`;
export const monthSortKey = (iso: string): string => `MONTH#${iso.slice(0, 7)}`;
/** The marker of a metered answer (tasks/meter.ts). */
export const answerMeterSortKey = (answerId: string): string => `ANSWER#${answerId}`;

/** A concurrency slot's set element: its expiry first, so that an expired slot is recognisable without a lookup. */
export const slotElement = (expiresAtEpochSeconds: number, answerId: string): string => `${expiresAtEpochSeconds}#${answerId}`;
