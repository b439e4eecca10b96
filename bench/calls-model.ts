/**
 * The pure parts of `npm run bench -- calls`: naming each signed request the edge served (service,
 * operation, the role that signed it, why a question makes it), and the ceiling each AWS quota
 * sets on questions per second. No I/O: bench/calls.ts measures, this module classifies and
 * computes, bench/calls-model.test.ts checks it.
 */

/** One kind of request, as the edge logged it: `edge.request`'s service, operation and principal. */
export interface RequestKey {
  service: string;
  /** The short operation name (`GetItem`, `AssumeRole`, `ConverseStream`). */
  operation: string;
  /** The signing role's name (`validate-context`, `appsync-api`), or the principal's last segment. */
  role: string;
}

/** `DynamoDB_20120810.GetItem` -> `GetItem`; `AssumeRole` stays; REST paths name their operation. */
export function operationName(service: string, logged: string | undefined): string {
  if (!logged) return 'unknown';
  const dot = logged.lastIndexOf('.');
  if (!logged.includes(' ')) return dot >= 0 ? logged.slice(dot + 1) : logged;
  // REST: "POST /model/<id>/converse-stream" and the like (Bedrock runtime and agent runtime).
  const path = logged.slice(logged.indexOf(' ') + 1);
  if (service === 'bedrock' || path.startsWith('/model/') || path.startsWith('/agents/')) {
    if (path.endsWith('/converse-stream')) return 'ConverseStream';
    if (path.endsWith('/converse')) return 'Converse';
    if (path.endsWith('/invoke-with-response-stream')) return 'InvokeModelWithResponseStream';
    if (path.endsWith('/invoke')) return 'InvokeModel';
    if (path.startsWith('/agents/') && path.endsWith('/text')) return 'InvokeAgent';
    if (path.startsWith('/guardrail/')) return 'ApplyGuardrail';
  }
  return logged;
}

/** `arn:aws:sts::1:assumed-role/validate-context/validate-context` -> `validate-context`. */
export function roleName(principal: string | undefined): string {
  if (!principal) return 'anonymous';
  const m = principal.split(':').pop() ?? principal;
  const parts = m.split('/');
  if (parts[0] === 'assumed-role' && parts[1]) return parts[1];
  return parts[parts.length - 1] || m;
}

/** The pipeline resolver's data sources sign with `appsync-*` roles (infra/local/iam/principals.ts). */
export function isDataSourceRole(role: string): boolean {
  return role.startsWith('appsync-');
}

/** What each admission data source call is (resolvers/ask/). */
const ADMISSION: Readonly<Record<string, string>> = {
  GetItem: "read the tenant's plan (read-plan) or the user's slots (read-slots)",
  TransactWriteItems: "the user's minute, span and slot items, the tenant's DAY and MONTH counters (MONTH on its token budget)",
  UpdateItem: 'admission: UpdateItem',
};

/** Why a question makes this request: the table's purpose column. */
export function purposeOf(k: RequestKey): string {
  const { service, operation: op, role } = k;
  if (isDataSourceRole(role)) {
    if (service === 'states') return 'ask resolver (HTTP data source): start the workflow';
    return `admission (data source): ${ADMISSION[op] ?? op}`;
  }
  if (service === 'sts' && op === 'AssumeRole') {
    if (role === 'mint-credentials') return 'mint-credentials: the (tenant, user) scoped session';
    return `${role}: the publish role's session (per warm container)`;
  }
  if (service === 'cognito-idp' && op === 'AdminGetUser') return `${role}: the user still exists and is enabled`;
  if (service === 'kms' && op === 'Encrypt') return `${role}: seal the scoped session to the answer (KMS context)`;
  if (service === 'kms' && op === 'Decrypt') return `${role}: unseal the scoped session`;
  if (service === 'states' && op === 'StartExecution') return `${role}: start the workflow`;
  if (service === 'bedrock' && op === 'InvokeAgent') return `${role}: the agent's turn (a tool's result goes back in a second InvokeAgent: returnControl)`;
  if (service === 'bedrock') return `${role}: the model's answer`;
  if (service === 'dynamodb') {
    if (role === 'validate-context' && op === 'PutItem') return 'validate-context: claim the answerId (idempotency)';
    if (role === 'validate-context' && op === 'GetItem') return "validate-context: the tenant's config";
    if (op === 'TransactWriteItems') return `${role}: metering (the answer's marker, DAY and MONTH counters)`;
    if (role === 'publish-answer' || role === 'release-slot') return `${role}: release the admission slot`;
    if (role === 'record-failure') return `${role}: record the failure`;
    if (role === 'tenant-access' && op === 'GetItem') return "agent tool, with the (tenant, user) scoped session: the tenant's data";
    if (role === 'tenant-access' && op === 'Query') return "with the (tenant, user) scoped session: conversation memory's recall (converse runtime), or an agent tool's query";
    if (op === 'Query' || op === 'PutItem') return `${role}: conversation memory (${op})`;
    return `${role}: ${op}`;
  }
  return `${role}: ${op}`;
}

/** The short services of the last line, in its order. */
export const LAST_LINE_SERVICES = ['sts', 'cognito-idp', 'kms', 'dynamodb', 'bedrock', 'states'] as const;

/**
 * `platform`: the account's, per Region, shared by every tenant. `tenant`: one tenant's, whatever
 * the others do (its own TENANT# counter partition): it bounds a tenant, not the platform.
 */
export type QuotaScope = 'platform' | 'tenant';

export interface Quota {
  /** As Service Quotas names it (or the documentation page). */
  name: string;
  scope: QuotaScope;
  /** The default, per second (or per minute for Bedrock); undefined when the docs found give none. */
  defaultValue: number | undefined;
  unit: string;
  /** The page the default was read on, or why not. */
  source: string;
  /** What one question consumes of it, in the quota's unit. */
  perQuestion: number;
  /** How perQuestion was obtained, when it is not a plain count. */
  note?: string;
}

/**
 * Questions per second a quota allows: default / per question (per-minute quotas divided by 60).
 * A quota of what is held at once (`concurrent` executions, `tokens held`) divides by what one
 * question holds times how long (function-seconds, token-seconds): the same division.
 */
export function ceilingOf(q: Pick<Quota, 'defaultValue' | 'perQuestion' | 'unit'>): number | undefined {
  if (q.defaultValue === undefined || !(q.perQuestion > 0)) return undefined;
  const perSecond = q.unit.endsWith('/min') ? q.defaultValue / 60 : q.defaultValue;
  return perSecond / q.perQuestion;
}

/** The states an execution enters when every state succeeds: from StartAt along Next until End (or a terminal state). */
export function successPath(definition: { StartAt: string; States: Readonly<Record<string, { Type: string; Next?: string; End?: boolean }>> }): string[] {
  const path: string[] = [];
  let name: string | undefined = definition.StartAt;
  while (name !== undefined && !path.includes(name)) {
    const state: { Type: string; Next?: string; End?: boolean } | undefined = definition.States[name];
    if (!state) break;
    path.push(name);
    name = state.End ? undefined : state.Next;
  }
  return path;
}

/** The quota of `scope` (the platform's by default) with the lowest ceiling among those with a known default. */
export function lowestCeiling(quotas: readonly Quota[], scope: QuotaScope = 'platform'): { quota: Quota; ceiling: number } | undefined {
  let best: { quota: Quota; ceiling: number } | undefined;
  for (const quota of quotas) {
    if (quota.scope !== scope) continue;
    const ceiling = ceilingOf(quota);
    if (ceiling !== undefined && (!best || ceiling < best.ceiling)) best = { quota, ceiling };
  }
  return best;
}

/** The line before the last: the lowest ceiling of one tenant's own quotas. */
export function tenantCeilingLine(ceiling: { quota: Quota; ceiling: number } | undefined): string {
  if (!ceiling) return "one tenant's ceiling: unknown (no tenant-scoped quota with a default)";
  const { quota } = ceiling;
  const unit = quota.unit.replace(/\/s$/, '');
  return `one tenant's ceiling: ${ceiling.ceiling.toFixed(0)} questions/s, set by ${quota.name}: ${quota.perQuestion.toFixed(0)} ${unit} per question, ${quota.defaultValue?.toLocaleString('en-US')} ${quota.unit}`;
}

/** The benchmark's last line (issue 18's format): the ceiling is the lowest of the platform's quotas. */
export function lastLine(perService: ReadonlyMap<string, number>, publishes: number, ceiling: { quota: Quota; ceiling: number } | undefined): string {
  const n = (s: string) => perService.get(s) ?? 0;
  const fmt = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(2));
  let total = 0;
  for (const v of perService.values()) total += v;
  const parts = LAST_LINE_SERVICES.map((s) => `${s} ${fmt(n(s))}`).join(', ');
  const set = ceiling ? `ceiling ${ceiling.ceiling.toFixed(0)} questions/s, set by ${ceiling.quota.name}` : 'ceiling unknown (no default found in the docs)';
  return `calls per warm question: ${fmt(total)} (${parts}); publishes ${fmt(publishes)}; ${set}`;
}
