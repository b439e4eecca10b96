/**
 * The AWS quotas one question touches, with their defaults and sources, built from what
 * `npm run bench -- calls` measured (bench/calls.ts). Pure: no I/O, no environment read except
 * through `setting(env, …)`; bench/quotas.test.ts checks it.
 *
 * Two scopes: a `platform` quota is the account's, per Region, shared by every tenant (the last
 * line's ceiling is the lowest of these); a `tenant` quota bounds one tenant whatever the others do
 * (its TENANT# counter partition), printed on its own line.
 */
import type { Quota } from './calls-model.ts';

/** A figure the benchmark uses, and where it came from (an operator's override, or the default's source). */
export interface Setting {
  value: number;
  source: string;
}

/**
 * `env[key]` as a positive number when set (the operator's own figure, e.g. their account's quota
 * from Service Quotas), else the fallback with its source. A value that is not a positive number is
 * refused with a sentence: a typo must not quietly become the default.
 */
export function setting(env: Readonly<Record<string, string | undefined>>, key: string, fallback: Setting): Setting {
  const raw = env[key];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${key} must be a positive number, not '${raw}'`);
  return { value, source: `${key}=${raw} (set by the operator)` };
}

/** `env[key]` as a positive number when set, else undefined (the figure then comes from a measurement). */
export function optionalSetting(env: Readonly<Record<string, string | undefined>>, key: string): Setting | undefined {
  const raw = env[key];
  if (raw === undefined || raw.trim() === '') return undefined;
  return setting(env, key, { value: Number.NaN, source: '' });
}

/**
 * What the bench assumes of the default model (tasks/models.ts: Claude Haiku 4.5, called through
 * its US cross-Region inference profile) unless told otherwise. Each says what is from an AWS
 * documentation page and what is a Service Quotas value recorded elsewhere.
 */
export const DEFAULT_MODEL_QUOTAS = {
  model: 'Anthropic Claude Haiku 4.5, cross-Region inference profile',
  tokensPerMinute: {
    value: 5_000_000,
    source:
      'Service Quotas default of L-58BE175A "Cross-region model inference tokens per minute for Anthropic Claude Haiku 4.5" (us-east-1), ' +
      'as the Service Quotas API returned it and public repositories recorded it (2026-09-29; RequestServiceQuotaIncrease: "default quota value of 5000000.0"); ' +
      'not read on an AWS documentation page: https://docs.aws.amazon.com/bedrock/latest/userguide/quotas-runtime.html names the quota ' +
      '(per model and Region, input + output combined, shared by InvokeModel, Converse and the other inference APIs) and puts the values in the General Reference table, not in the search index',
  },
  requestsPerMinute: {
    value: 10_000,
    source:
      'Service Quotas default of L-CCA5DF70 "Cross-region model inference requests per minute for Anthropic Claude Haiku 4.5", recorded in public repositories ' +
      '(RequestServiceQuotaIncrease: "default quota value of 10000.0"); https://docs.aws.amazon.com/bedrock/latest/userguide/quotas.html names ' +
      '"Cross-Region InvokeModel requests per minute for ${model}" among the quotas raised together, while quotas-runtime.html lists only token quotas for bedrock-runtime',
  },
  outputBurndown: {
    value: 5,
    source:
      'https://docs.aws.amazon.com/bedrock/latest/userguide/quotas-token-burndown.html: "1 output token consumes 5 tokens from your quotas" for the models it lists ' +
      '(the excerpt found lists Claude Opus 4 and Sonnet 4 and is cut; the list AWS printed in late 2025: Opus 4, Sonnet 4.5, Sonnet 4, 3.7 Sonnet); ' +
      'Haiku 4.5 is not named in the excerpts found: 5 is assumed (public quota tooling uses 5 for it), the lower ceiling if wrong',
  },
  maxOutputTokens: {
    value: 64_000,
    source: "Claude Haiku 4.5's maximum output, 64k tokens (Anthropic's models overview, as quoted on public pages; the Bedrock model card was not in the excerpts found)",
  },
} as const;

/** Where the reservation at request start is described. */
export const RESERVATION_SOURCE =
  'https://docs.aws.amazon.com/bedrock/latest/userguide/quotas-token-burndown.html defines max_tokens among the quota terms; ' +
  'the reservation itself (input + max_tokens at request start, the model maximum when max_tokens is unset; settled at the end as input + burndown x output) ' +
  'is described in https://www.repost.aws/articles/ARfUsSkaWeSLiWZbv0OVSG1Q and aws/agent-toolkit-for-aws skills/core-skills/amazon-bedrock/references/quota-health.md';

/** DynamoDB transactions: two underlying writes per item (prepare, commit), so 2 WCU per item up to 1 KB. */
export const TRANSACTION_WCU_PER_ITEM = 2;

export const TRANSACTION_WCU_SOURCE =
  'https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html ("Capacity management for transactions": two underlying writes per item, ' +
  'prepare and commit; that section was not in the excerpts the search returned, its wording is as public material quoting the page gives it; ' +
  'read-write-operations.html states the same 2x for transactional reads); kept at 2x, the conservative reading';

/**
 * Model tokens one question counts toward the tokens-per-minute quota: input + burndown x output
 * (the settlement of quotas-token-burndown.html; cache writes would add, the runtimes use none).
 */
export function quotaTokens(tokens: { inputTokens: number; outputTokens: number }, burndown: number): number {
  return tokens.inputTokens + burndown * tokens.outputTokens;
}

/**
 * Tokens a model call holds from its start to its end: its input + maxTokens (the model's maximum
 * when the request sets none). While held they count against the same per-minute quota, so at most
 * TPM / held calls are in flight at once.
 */
export function reservedTokensPerCall(inputTokensPerCall: number, maxTokens: number): number {
  return inputTokensPerCall + maxTokens;
}

/** What `npm run bench -- calls` measured, per question (one at a time, warm functions). */
export interface MeasuredQuestion {
  /** Signed calls per question by `service` and `operation` (any signing role). */
  calls(service: string, operation: string): number;
  /** KMS Encrypt, Decrypt, GenerateDataKey and ReEncrypt per question. */
  kmsCrypto: number;
  publishes: number;
  /** TransactWriteItems per question: the ask pipeline's admission, and the metering. */
  admissionTransactions: number;
  meteringTransactions: number;
  /** Bedrock runtime requests per question (ConverseStream, or InvokeAgent: at least one model request each). */
  modelCalls: number;
  /** Model tokens per question, as metered (input and output apart). */
  inputTokens: number;
  outputTokens: number;
  /** The states of the success path (names), and how many are Task states (a Lambda each). */
  successPath: readonly string[];
  taskStates: number;
  /** The question's mean local wall time, ask -> DONE, seconds. */
  localWallS: number;
}

/** The figures the operator may set (their account's quota, their model's latency), with the defaults. */
export interface QuotaSettings {
  tokensPerMinute: Setting;
  requestsPerMinute: Setting;
  outputBurndown: Setting;
  /** maxTokens a model call reserves: what the runtime sends, or the model's maximum when it sends none. */
  maxTokens: Setting;
  /** The model's time per question (all its calls), seconds; undefined: the local wall time stands in. */
  modelLatencyS: Setting | undefined;
}

/** Item writes one question makes on its tenant's TENANT# partition (tasks/usage.ts, resolvers/ask/admission.ts, tasks/meter.ts). */
export const TENANT_ITEM_WRITES = { admission: 2, metering: 3 } as const;

/** Write units one question spends on its tenant's TENANT# partition: item writes x 2 (all of them transactional). */
export function tenantPartitionWriteUnits(admissionTransactions: number, meteringTransactions: number): number {
  return (admissionTransactions * TENANT_ITEM_WRITES.admission + meteringTransactions * TENANT_ITEM_WRITES.metering) * TRANSACTION_WCU_PER_ITEM;
}

/** Seconds the model takes per question: the operator's figure, else the local wall time (an upper bound of the stand-in's). */
export function modelSecondsPerQuestion(m: Pick<MeasuredQuestion, 'localWallS'>, s: Pick<QuotaSettings, 'modelLatencyS'>): number {
  return s.modelLatencyS?.value ?? m.localWallS;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/** The quota table's rows for one measured question. */
export function quotasFor(m: MeasuredQuestion, s: QuotaSettings): Quota[] {
  const modelS = modelSecondsPerQuestion(m, s);
  const lambdaS = m.localWallS + (s.modelLatencyS?.value ?? 0);
  const latencyNote = s.modelLatencyS
    ? `the model's ${s.modelLatencyS.value} s per question (${s.modelLatencyS.source})`
    : `no model latency given (BENCH_MODEL_LATENCY_S): the local wall time stands in (${(m.localWallS * 1000).toFixed(0)} ms; the stand-in answers at once, a real model takes seconds)`;
  const inputPerCall = m.modelCalls > 0 ? m.inputTokens / m.modelCalls : 0;
  const reserved = reservedTokensPerCall(inputPerCall, s.maxTokens.value);
  return [
    {
      name: 'Cognito user pools UserRead category (AdminGetUser)',
      scope: 'platform',
      defaultValue: undefined,
      unit: 'requests/s',
      source: 'not found in docs (https://docs.aws.amazon.com/cognito/latest/developerguide/quotas.html lists it; the excerpts found give no number)',
      perQuestion: m.calls('cognito-idp', 'AdminGetUser'),
    },
    {
      name: 'STS AssumeRole request rate',
      scope: 'platform',
      defaultValue: undefined,
      unit: 'requests/s',
      source: 'not found in docs (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html gives no request rate in the excerpts found)',
      perQuestion: m.calls('sts', 'AssumeRole'),
    },
    {
      name: 'KMS cryptographic operations (symmetric) request rate, shared',
      scope: 'platform',
      defaultValue: 10_000,
      unit: 'requests/s',
      source: 'https://docs.aws.amazon.com/kms/latest/developerguide/requests-per-second.html (10,000 shared; 20,000 or more in the Regions it lists)',
      perQuestion: m.kmsCrypto,
    },
    {
      name: 'Step Functions StartExecution (Express)',
      scope: 'platform',
      defaultValue: undefined,
      unit: 'requests/s',
      source: 'not found in docs (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html: the excerpts found give no number)',
      perQuestion: m.calls('states', 'StartExecution'),
    },
    {
      name: 'Step Functions Express state transitions',
      scope: 'platform',
      defaultValue: undefined,
      unit: 'transitions/s',
      source: 'not found in docs (same page: the excerpts found give no number for Express)',
      perQuestion: m.successPath.length,
      note: `the states of the success path (${m.successPath.join(' -> ')}), states/definition.ts`,
    },
    {
      name: 'AppSync rate of request tokens (per account, Region)',
      scope: 'platform',
      defaultValue: undefined,
      unit: 'tokens/s',
      source: 'not found in docs (https://docs.aws.amazon.com/general/latest/gr/appsync.html names the quota; the excerpts found give no number)',
      perQuestion: 1 + m.publishes,
      note: '1 ask + the publishes, at >= 1 token each',
    },
    {
      name: 'Lambda concurrent executions',
      scope: 'platform',
      defaultValue: 1_000,
      unit: 'concurrent',
      source: 'https://docs.aws.amazon.com/lambda/latest/dg/limits.html',
      perQuestion: lambdaS,
      note:
        `function-seconds per question: ${m.taskStates} invocations (the Task states of the success path), one at a time; ` +
        `the local wall time (${(m.localWallS * 1000).toFixed(0)} ms, ask -> DONE, an upper bound of the tasks' own time) + the time InvokeAgent holds its Lambda waiting on the model: ` +
        (s.modelLatencyS ? latencyNote : 'none given (BENCH_MODEL_LATENCY_S), so the local wall time alone'),
    },
    {
      name: "DynamoDB per-partition writes (one tenant's TENANT# counter partition)",
      scope: 'tenant',
      defaultValue: 1_000,
      unit: 'WCU/s',
      source: `https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/warm-throughput-scenarios.html (1,000 write units/s per partition); 2 WCU per transactional item write: ${TRANSACTION_WCU_SOURCE}`,
      perQuestion: tenantPartitionWriteUnits(m.admissionTransactions, m.meteringTransactions),
      note:
        "item writes on the asking tenant's TENANT# partition (admission: DAY, MONTH; metering: the answer's marker, MONTH, DAY), all in transactions, " +
        `${TRANSACTION_WCU_PER_ITEM} WCU each (items under 1 KB); one tenant's ceiling, not the platform's: every tenant has its own partition`,
    },
    {
      name: `Bedrock requests per minute, ${DEFAULT_MODEL_QUOTAS.model}`,
      scope: 'platform',
      defaultValue: s.requestsPerMinute.value,
      unit: 'requests/min',
      source: s.requestsPerMinute.source,
      perQuestion: m.modelCalls,
      note: 'Bedrock runtime requests per question (an InvokeAgent makes at least one model request)',
    },
    {
      name: `Bedrock tokens per minute, ${DEFAULT_MODEL_QUOTAS.model}`,
      scope: 'platform',
      defaultValue: s.tokensPerMinute.value,
      unit: 'tokens/min',
      source: s.tokensPerMinute.source,
      perQuestion: quotaTokens(m, s.outputBurndown.value),
      note:
        `input + ${s.outputBurndown.value} x output, as metered (${fmt(m.inputTokens)} in, ${fmt(m.outputTokens)} out per question: the local stand-in's, 4 characters a token; a real model's differ); ` +
        `burndown: ${s.outputBurndown.source}`,
    },
    {
      name: `Bedrock tokens per minute held while calls run (input + maxTokens), ${DEFAULT_MODEL_QUOTAS.model}`,
      scope: 'platform',
      defaultValue: s.tokensPerMinute.value,
      unit: 'tokens held',
      source: `the same quota, reserved at each call's start: ${RESERVATION_SOURCE}`,
      perQuestion: m.modelCalls > 0 ? reserved * modelS : 0,
      note:
        `token-seconds held per question: ${fmt(reserved)} tokens per call (${fmt(inputPerCall)} input + maxTokens ${fmt(s.maxTokens.value)}: ${s.maxTokens.source}) ` +
        `x ${modelS.toFixed(3)} s of model time per question (${m.modelCalls.toFixed(2)} calls, one at a time); ${latencyNote}; ` +
        `so at most ${Math.floor(s.tokensPerMinute.value / reserved).toLocaleString('en-US')} model calls in flight`,
    },
  ];
}
