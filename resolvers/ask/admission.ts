/**
 * Admission of Mutation.ask, shared by the functions of its pipeline (bundled into each by esbuild):
 * the stash they pass along, the windows and their keys (tasks/usage.ts), the limits (tasks/plans.ts)
 * and the refusal each limit gives, with when to retry.
 *
 * Why a transaction (TransactWriteItems) and not one conditional UpdateItem: the user's windows
 * (minute, span, slots) and the tenant's (day, month) are different items. One item per tenant
 * holding every user's counters would turn each tenant into one hot, ever-growing item (every ask
 * of every user writes it; 400 KB caps it). The transaction is still one atomic, conditional
 * request: every counter moves, or none does, and the cancellation reasons say which limit refused.
 */
import { util, type DynamoDBTransactWriteItemsRequest } from '@aws-appsync/utils';
import { BURST_SPAN_MINUTES, SLOT_TTL_SECONDS, type PlanLimits } from '../../tasks/plans.ts';
import {
  INFLIGHT_SORT_KEY,
  TENANT_WINDOW_TTL_SECONDS,
  USER_WINDOW_TTL_SECONDS,
  daySortKey,
  minuteSortKey,
  monthSortKey,
  slotElement,
  tenantPartition,
  userPartition,
  type RefusalReason,
} from '../../tasks/usage.ts';

/** What the asker may ask with: from the verified token and the checked arguments only. */
export interface AskRequest {
  tenantId: string;
  userId: string;
  username: string;
  answerId: string;
  question: string;
  conversationId: string | null;
  /** The verified token's `exp` claim (epoch seconds), or null when it has none. */
  tokenExpiresAt: number | null;
}

export interface Refusal {
  reason: RefusalReason;
  errorType: 'Throttled' | 'QuotaExceeded';
  message: string;
  /** ISO 8601, UTC. */
  retryAfter: string;
}

/** The pipeline's stash (ctx.stash), written by the resolver's request handler and the functions. */
export interface AskStash {
  ask: AskRequest;
  /** One clock for the whole admission: epoch milliseconds and its ISO form. */
  nowMs: number;
  nowIso: string;
  plan: string;
  limits: PlanLimits;
  /** This ask's concurrency slot (`<expiry>#<answerId>`), set before the first attempt. */
  slot: string;
  admitted: boolean;
  /** Admission attempts made (at most two: the second after pruning expired slots, or after a conflict). */
  attempts: number;
  /** Set when an attempt failed on the concurrency condition alone: the slots are read and expired ones pruned. */
  concurrencyOnly: boolean;
  /** Set when the admission should be tried once more. */
  retry: boolean;
  /** Slot elements the slot-deleting function removes (expired ones, or this ask's when nothing started). */
  slotsToDelete: string[];
  /** The earliest expiry (epoch seconds) among the user's live slots, when they were read. */
  earliestLiveSlot: number | null;
  refusal: Refusal | null;
  /** Set when every attempt lost to concurrent transactions on the same windows (not a limit). */
  busy: boolean;
  /** StartExecution's outcome. */
  started: { answerId: string; executionId: string } | null;
  startError: { message: string; type: string; statusCode: number | null } | null;
}

/** The order of the admission transaction's items: a cancellation reason's index names the limit. */
export const ADMISSION_ITEMS: readonly RefusalReason[] = ['userPerMinute', 'userBurstSpan', 'userConcurrency', 'tenantPerDay', 'tenantTokensPerMonth'];

const MINUTE_MS = 60 * 1000;
const DAY_MS = 24 * 60 * MINUTE_MS;

/** `2026-12-03T13:05` for the span that holds `2026-12-03T13:08:55Z` (spans start at multiples of BURST_SPAN_MINUTES). */
export function spanSortKey(nowMs: number): string {
  const spanMs = BURST_SPAN_MINUTES * MINUTE_MS;
  const start = Math.floor(nowMs / spanMs) * spanMs;
  return `SPAN#${util.time.epochMilliSecondsToISO8601(start).slice(0, 16)}`;
}

function epochSeconds(ms: number): number {
  return Math.floor(ms / 1000);
}

/** The first instant of the next window of `windowMs` (minute, span, day), ISO. */
function nextWindow(nowMs: number, windowMs: number): string {
  return util.time.epochMilliSecondsToISO8601((Math.floor(nowMs / windowMs) + 1) * windowMs);
}

/** `2026-12` -> `2027-01-01T00:00:00.000Z`. */
export function nextMonth(nowIso: string): string {
  const year = Number(nowIso.slice(0, 4));
  const month = Number(nowIso.slice(5, 7));
  const nextYear = month === 12 ? year + 1 : year;
  const next = month === 12 ? 1 : month + 1;
  return `${nextYear}-${next < 10 ? '0' : ''}${next}-01T00:00:00.000Z`;
}

/** `2026-12-03T13:09:00.000Z` -> `13:09 UTC` (the same day), or `2026-12-04 00:00 UTC`. */
function when(iso: string, nowIso: string): string {
  const time = `${iso.slice(11, 16)} UTC`;
  return iso.slice(0, 10) === nowIso.slice(0, 10) ? time : `${iso.slice(0, 10)} ${time}`;
}

const plural = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;

/** The refusal for a limit: which limit, on which plan, and when to retry. */
export function refusalFor(reason: RefusalReason, stash: AskStash): Refusal {
  const { limits, plan, nowMs, nowIso } = stash;
  const on = `(${plan} plan)`;
  if (reason === 'userPerMinute') {
    const retryAfter = nextWindow(nowMs, MINUTE_MS);
    const message = `You can ask ${plural(limits.questionsPerUserPerMinute + limits.burstPerUser, 'question', 'questions')} a minute ${on}; try again at ${when(retryAfter, nowIso)}.`;
    return { reason, errorType: 'Throttled', message, retryAfter };
  }
  if (reason === 'userBurstSpan') {
    const retryAfter = nextWindow(nowMs, BURST_SPAN_MINUTES * MINUTE_MS);
    const message = `You can ask ${plural(BURST_SPAN_MINUTES * limits.questionsPerUserPerMinute, 'question', 'questions')} in ${BURST_SPAN_MINUTES} minutes ${on}; try again at ${when(retryAfter, nowIso)}.`;
    return { reason, errorType: 'Throttled', message, retryAfter };
  }
  if (reason === 'userConcurrency') {
    const latest = stash.earliestLiveSlot !== null ? stash.earliestLiveSlot * 1000 : nowMs + SLOT_TTL_SECONDS * 1000;
    const retryAfter = util.time.epochMilliSecondsToISO8601(latest);
    const message = `You can have ${plural(limits.concurrentAnswersPerUser, 'answer', 'answers')} in progress at once ${on}; try again when one has ended (at the latest at ${when(retryAfter, nowIso)}).`;
    return { reason, errorType: 'Throttled', message, retryAfter };
  }
  if (reason === 'tenantPerDay') {
    const retryAfter = nextWindow(nowMs, DAY_MS);
    const message = `Your organisation can ask ${plural(limits.questionsPerTenantPerDay, 'question', 'questions')} a day ${on}, and has asked them today; try again after ${when(retryAfter, nowIso)}.`;
    return { reason, errorType: 'QuotaExceeded', message, retryAfter };
  }
  const retryAfter = nextMonth(nowIso);
  const message = `Your organisation has used its ${limits.tokensPerTenantPerMonth} model tokens for ${nowIso.slice(0, 7)} ${on}; try again after ${when(retryAfter, nowIso)}.`;
  return { reason, errorType: 'QuotaExceeded', message, retryAfter };
}

/**
 * Of several limits that refused at once, the one to report: the one whose retry is latest (retrying
 * earlier would be refused again).
 */
export function latestRefusal(reasons: RefusalReason[], stash: AskStash): Refusal | null {
  let chosen: Refusal | null = null;
  for (const reason of reasons) {
    const refusal = refusalFor(reason, stash);
    if (chosen === null || refusal.retryAfter > chosen.retryAfter) chosen = refusal;
  }
  return chosen;
}

/** The slot element of this ask: it expires SLOT_TTL_SECONDS after admission. */
export function askSlot(nowMs: number, answerId: string): string {
  return slotElement(epochSeconds(nowMs) + SLOT_TTL_SECONDS, answerId);
}

/** The expiry (epoch seconds) a slot element starts with; NaN if it has none. */
export function slotExpiry(element: string): number {
  return Number(element.split('#')[0]);
}

export function userKey(ask: AskRequest, sortKey: string) {
  return util.dynamodb.toMapValues({ pk: userPartition(ask.tenantId, ask.userId), sk: sortKey });
}

export function tenantKey(ask: AskRequest, sortKey: string) {
  return util.dynamodb.toMapValues({ pk: tenantPartition(ask.tenantId), sk: sortKey });
}

export const inflightKey = (ask: AskRequest) => userKey(ask, INFLIGHT_SORT_KEY);

/**
 * The admission: one TransactWriteItems over the user's minute and span windows and slots, the
 * tenant's day and month (all counted; the month on the condition that its tokens are below the budget). Keys come from the stash's identity,
 * which the resolver took from the verified token only.
 */
export function admissionItems(stash: AskStash, table: string): DynamoDBTransactWriteItemsRequest['transactItems'] {
  const { ask, limits, nowMs, nowIso } = stash;
  const now = epochSeconds(nowMs);
  const userExpiry = now + USER_WINDOW_TTL_SECONDS;
  const tenantExpiry = now + TENANT_WINDOW_TTL_SECONDS;
  const names = { '#q': 'questions', '#exp': 'expiresAt' };
  const below = (limit: number) => ({
    expression: 'attribute_not_exists(#q) OR #q < :limit',
    expressionNames: { '#q': 'questions' },
    expressionValues: util.dynamodb.toMapValues({ ':limit': limit }),
    returnValuesOnConditionCheckFailure: false,
  });
  const countUser = {
    expression: 'ADD #q :one SET #exp = :exp',
    expressionNames: names,
    expressionValues: util.dynamodb.toMapValues({ ':one': 1, ':exp': userExpiry }),
  };
  return [
    { table, operation: 'UpdateItem' , key: userKey(ask, minuteSortKey(nowIso)), update: countUser, condition: below(limits.questionsPerUserPerMinute + limits.burstPerUser) },
    { table, operation: 'UpdateItem' , key: userKey(ask, spanSortKey(nowMs)), update: countUser, condition: below(BURST_SPAN_MINUTES * limits.questionsPerUserPerMinute) },
    {
      table,
      operation: 'UpdateItem',
      key: inflightKey(ask),
      // The item outlives its longest slot; slots themselves are judged by their own expiry.
      update: {
        expression: 'ADD #slots :slot SET #exp = :exp',
        expressionNames: { '#slots': 'slots', '#exp': 'expiresAt' },
        expressionValues: { ':slot': util.dynamodb.toStringSet([stash.slot]), ':exp': util.dynamodb.toDynamoDB(now + SLOT_TTL_SECONDS + USER_WINDOW_TTL_SECONDS) },
      },
      condition: {
        expression: 'attribute_not_exists(#slots) OR size(#slots) < :limit',
        expressionNames: { '#slots': 'slots' },
        expressionValues: util.dynamodb.toMapValues({ ':limit': limits.concurrentAnswersPerUser }),
        returnValuesOnConditionCheckFailure: false,
      },
    },
    {
      table,
      operation: 'UpdateItem',
      key: tenantKey(ask, daySortKey(nowIso)),
      update: { expression: 'ADD #q :one SET #exp = if_not_exists(#exp, :exp)', expressionNames: names, expressionValues: util.dynamodb.toMapValues({ ':one': 1, ':exp': tenantExpiry }) },
      condition: below(limits.questionsPerTenantPerDay),
    },
    {
      // Counted as the day is (the month's `questions`, which `npm run usage` reports), on the
      // condition that the month's metered tokens are below the budget: one operation per item.
      table,
      operation: 'UpdateItem',
      key: tenantKey(ask, monthSortKey(nowIso)),
      update: { expression: 'ADD #q :one SET #exp = if_not_exists(#exp, :exp)', expressionNames: names, expressionValues: util.dynamodb.toMapValues({ ':one': 1, ':exp': tenantExpiry }) },
      condition: {
        expression: 'attribute_not_exists(#t) OR #t < :budget',
        expressionNames: { '#t': 'tokens' },
        expressionValues: util.dynamodb.toMapValues({ ':budget': limits.tokensPerTenantPerMonth }),
        returnValuesOnConditionCheckFailure: false,
      },
    },
  ];
}

/** The usage table's name, from the API's environment variables (infra/resolvers.ts sets it). */
export function usageTable(env: Record<string, string>): string {
  const table = env.USAGE_TABLE;
  if (!table) util.error('The API has no usage table configured.', 'InternalFailure');
  return table;
}
