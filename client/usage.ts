/**
 * The usage report: per tenant and UTC month, what admission and metering counted on the usage
 * table (tasks/usage.ts: the tenant's MONTH item, and its DAY items for a breakdown), beside its
 * plan's limits, with the model cost estimated at the models table's on-demand prices. The same
 * SDK calls on the local stack and on AWS (client/cli/admin-target.ts), and in the web UI.
 *
 *   readUsage(target, { month, tenantId?, days? })   GetItem of MONTH#<month> per tenant listed in
 *   the config table (or the one named), Query of its DAY#<month>-* items when days are asked for.
 */
import { GetItemCommand, QueryCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import type { AdminTarget } from './cli/admin-target.ts';
import { mapLimited } from './concurrency.ts';
import { AdminError, DEFAULT_PLAN, isPlanName, type PlanName, type TenantRow } from './tenant-model.ts';
import { listTenants, requireTenant } from './tenants.ts';
import {
  COUNTERS, DAY_PREFIX, INPUT_TOKENS_PREFIX, MODEL_PRICES, MONTH_PREFIX, OUTPUT_TOKENS_PREFIX, PLANS, priceOf, REFUSAL_REASONS, REFUSED_PREFIX,
  tenantPartition, usageTableName, type ModelPrice, type PlanLimits, type RefusalReason,
} from './usage-model.ts';

/** Tokens of one model (as usage keys it: the id or profile the calls named), and their cost; null: price unknown. */
export interface ModelUsage {
  modelId: string;
  inputTokens: number;
  outputTokens: number;
  costUsd: number | null;
}

/** The counters of one day or month item, read; all zero when there is no item. */
export interface UsageCounters {
  questions: number;
  answered: number;
  refused: Record<RefusalReason, number>;
  refusedTotal: number;
  inputTokens: number;
  outputTokens: number;
  tokens: number;
  models: ModelUsage[];
  /** The estimated model cost in USD; null when some tokens have no known price (unpricedModels names them). */
  costUsd: number | null;
  unpricedModels: string[];
}

export interface DayUsage extends UsageCounters {
  /** yyyy-mm-dd (UTC). */
  day: string;
}

export interface TenantUsage extends UsageCounters {
  tenantId: string;
  name: string;
  status: string;
  plan: PlanName;
  /** yyyy-mm (UTC). */
  month: string;
  limits: Pick<PlanLimits, 'questionsPerTenantPerDay' | 'tokensPerTenantPerMonth'>;
  /** tokens as a share of the plan's monthly token budget, in percent. */
  tokensOfBudgetPercent: number;
  /** The days of the month that have an item, in order (only when asked for). */
  days?: DayUsage[];
}

/** Tokens the month's total has beyond the per-model counters (metered without a model id). */
export const UNATTRIBUTED = '(no model id)';

const MONTH = /^(\d{4})-(0[1-9]|1[0-2])$/;

/** A `--month` value (yyyy-mm), or the current UTC month; an AdminError for anything else. */
export function parseMonth(value: string | undefined, now: Date): string {
  if (value === undefined) return now.toISOString().slice(0, 7);
  if (!MONTH.test(value)) throw new AdminError(`Invalid month '${value}': give a UTC calendar month as YYYY-MM, e.g. ${now.toISOString().slice(0, 7)}.`);
  return value;
}

/** The days of `month` (yyyy-mm-dd), first to last. */
export function daysOfMonth(month: string): string[] {
  const [y, m] = month.split('-').map(Number) as [number, number];
  const count = new Date(Date.UTC(y, m, 0)).getUTCDate();
  return Array.from({ length: count }, (_, i) => `${month}-${String(i + 1).padStart(2, '0')}`);
}

const num = (v: AttributeValue | undefined): number => {
  const n = Number(v?.N ?? 0);
  return Number.isFinite(n) ? n : 0;
};

/** The counters of an item as tasks/usage.ts writes them, with the cost at `prices`. */
export function countersOf(item: Record<string, AttributeValue> | undefined, prices: readonly ModelPrice[] = MODEL_PRICES): UsageCounters {
  const it = item ?? {};
  const refused = Object.fromEntries(REFUSAL_REASONS.map((r) => [r, num(it[`${REFUSED_PREFIX}${r}`])])) as Record<RefusalReason, number>;
  const byModel = new Map<string, { inputTokens: number; outputTokens: number }>();
  for (const [name, value] of Object.entries(it)) {
    const input = name.startsWith(INPUT_TOKENS_PREFIX);
    if (!input && !name.startsWith(OUTPUT_TOKENS_PREFIX)) continue;
    const modelId = name.slice((input ? INPUT_TOKENS_PREFIX : OUTPUT_TOKENS_PREFIX).length);
    const entry = byModel.get(modelId) ?? { inputTokens: 0, outputTokens: 0 };
    entry[input ? 'inputTokens' : 'outputTokens'] += num(value);
    byModel.set(modelId, entry);
  }
  const inputTokens = num(it[COUNTERS.inputTokens]);
  const outputTokens = num(it[COUNTERS.outputTokens]);
  const models: ModelUsage[] = [...byModel.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([modelId, t]) => ({ modelId, ...t, costUsd: costOf(t, priceOf(modelId, prices)) }));
  const attributed = models.reduce((s, m) => ({ input: s.input + m.inputTokens, output: s.output + m.outputTokens }), { input: 0, output: 0 });
  if (inputTokens > attributed.input || outputTokens > attributed.output) {
    models.push({ modelId: UNATTRIBUTED, inputTokens: Math.max(0, inputTokens - attributed.input), outputTokens: Math.max(0, outputTokens - attributed.output), costUsd: null });
  }
  const unpricedModels = models.filter((m) => m.costUsd === null && m.inputTokens + m.outputTokens > 0).map((m) => m.modelId);
  return {
    questions: num(it[COUNTERS.questions]),
    answered: num(it[COUNTERS.answered]),
    refused,
    refusedTotal: Object.values(refused).reduce((a, b) => a + b, 0),
    inputTokens,
    outputTokens,
    tokens: num(it[COUNTERS.tokens]) || inputTokens + outputTokens,
    models,
    costUsd: unpricedModels.length > 0 ? null : models.reduce((s, m) => s + (m.costUsd ?? 0), 0),
    unpricedModels,
  };
}

function costOf(t: { inputTokens: number; outputTokens: number }, price: ModelPrice['price']): number | null {
  if (!price) return null;
  return (t.inputTokens / 1000) * price.inputPer1k + (t.outputTokens / 1000) * price.outputPer1k;
}

export interface UsageQuery {
  /** yyyy-mm (parseMonth). */
  month: string;
  /** One tenant (refused with an AdminError when the config table has none), or every tenant. */
  tenantId?: string;
  /** Read the DAY items of the month too. */
  days?: boolean;
  /** The prices to estimate with (tests); the models table's copy by default. */
  prices?: readonly ModelPrice[];
}

/** The month's usage of each tenant the query names, as the usage table holds it (strongly consistent reads). */
export async function readUsage(t: AdminTarget, q: UsageQuery): Promise<TenantUsage[]> {
  if (!MONTH.test(q.month)) throw new AdminError(`Invalid month '${q.month}': give a UTC calendar month as YYYY-MM.`);
  const tenants = q.tenantId !== undefined ? [await requireTenant(t, q.tenantId)] : await listTenants(t);
  return mapLimited(tenants, 8, (row) => readTenantUsage(t, row, q));
}

async function readTenantUsage(t: AdminTarget, row: TenantRow, q: UsageQuery): Promise<TenantUsage> {
  const TableName = usageTableName(t.tablePrefix);
  const pk = tenantPartition(row.tenantId);
  const [month, days] = await Promise.all([
    t.dynamodb.send(new GetItemCommand({ TableName, Key: { pk: { S: pk }, sk: { S: `${MONTH_PREFIX}${q.month}` } }, ConsistentRead: true })),
    q.days ? queryDays(t, TableName, pk, q.month) : Promise.resolve(undefined),
  ]);
  const plan = isPlanName(row.plan) ? row.plan : DEFAULT_PLAN;
  const limits = PLANS[plan];
  const counters = countersOf(month.Item, q.prices);
  return {
    tenantId: row.tenantId,
    name: row.name,
    status: row.status,
    plan,
    month: q.month,
    limits: { questionsPerTenantPerDay: limits.questionsPerTenantPerDay, tokensPerTenantPerMonth: limits.tokensPerTenantPerMonth },
    tokensOfBudgetPercent: (counters.tokens / limits.tokensPerTenantPerMonth) * 100,
    ...counters,
    ...(days ? { days: days.map((item) => ({ day: item.sk!.S!.slice(DAY_PREFIX.length), ...countersOf(item, q.prices) })) } : {}),
  };
}

async function queryDays(t: AdminTarget, TableName: string, pk: string, month: string): Promise<Record<string, AttributeValue>[]> {
  const items: Record<string, AttributeValue>[] = [];
  let ExclusiveStartKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await t.dynamodb.send(
      new QueryCommand({
        TableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :day)',
        ExpressionAttributeValues: { ':pk': { S: pk }, ':day': { S: `${DAY_PREFIX}${month}-` } },
        ConsistentRead: true,
        ExclusiveStartKey,
      }),
    );
    items.push(...(page.Items ?? []));
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return items.sort((a, b) => a.sk!.S!.localeCompare(b.sk!.S!));
}

const int = (n: number) => Math.round(n).toLocaleString('en-US');

/** A cost as the report prints it: dollars, or "price unknown" naming the models without one. */
export function describeCost(u: Pick<UsageCounters, 'costUsd' | 'unpricedModels'>): string {
  if (u.costUsd !== null) return `$${u.costUsd.toFixed(4)}`;
  return `price unknown (${u.unpricedModels.join(', ')}: no price in the models table)`;
}

/** The report as text: a line per tenant, its refusals by reason, its models, and its days when read. */
export function formatUsage(rows: readonly TenantUsage[], month: string): string[] {
  const out = [`Usage in ${month} (UTC month). Cost: estimated at the on-demand prices of the models table (tasks/models.ts).`];
  if (rows.length === 0) return [...out, 'No tenants.'];
  const header = ['tenant', 'plan', 'admitted', 'answered', 'refused', 'input tok', 'output tok', 'tokens', 'of budget'];
  const table = rows.map((r) => [r.tenantId, r.plan, int(r.questions), int(r.answered), int(r.refusedTotal), int(r.inputTokens), int(r.outputTokens), int(r.tokens), `${r.tokensOfBudgetPercent.toFixed(2)}%`]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  out.push(line(header));
  table.forEach((cells) => out.push(line(cells)));
  for (const r of rows) {
    out.push('', `${r.tenantId} (${r.plan} plan: ${int(r.limits.questionsPerTenantPerDay)} questions a day, ${int(r.limits.tokensPerTenantPerMonth)} tokens a month)`);
    const refused = REFUSAL_REASONS.filter((reason) => r.refused[reason] > 0).map((reason) => `${reason} ${int(r.refused[reason])}`);
    if (refused.length > 0) out.push(`  refused: ${refused.join(', ')}`);
    for (const m of r.models) out.push(`  model ${m.modelId}: input ${int(m.inputTokens)}, output ${int(m.outputTokens)}, ${m.costUsd === null ? 'price unknown' : `$${m.costUsd.toFixed(4)}`}`);
    for (const d of r.days ?? []) {
      out.push(`  ${d.day}: admitted ${int(d.questions)}, answered ${int(d.answered)}, refused ${int(d.refusedTotal)}, tokens ${int(d.tokens)}`);
    }
    out.push(`  estimated cost: ${r.tokens === 0 ? '$0.0000' : describeCost(r)}`);
  }
  return out;
}
