import { describe, expect, it } from 'vitest';
import { ceilingOf, lowestCeiling } from './calls-model.ts';
import {
  DEFAULT_MODEL_QUOTAS,
  modelSecondsPerQuestion,
  optionalSetting,
  quotasFor,
  quotaTokens,
  reservedTokensPerCall,
  setting,
  tenantPartitionWriteUnits,
  type MeasuredQuestion,
  type QuotaSettings,
} from './quotas.ts';

/** Per-question counts of a warm question once issue 18's changes are in: no STS, no Cognito. */
const COUNTS: Readonly<Record<string, number>> = {
  'sts AssumeRole': 0,
  'cognito-idp AdminGetUser': 0,
  'states StartExecution': 1,
};

const measured = (over: Partial<MeasuredQuestion> = {}): MeasuredQuestion => ({
  calls: (service, operation) => COUNTS[`${service} ${operation}`] ?? 0,
  kmsCrypto: 2,
  publishes: 6,
  admissionTransactions: 1,
  meteringTransactions: 1,
  modelCalls: 2,
  inputTokens: 300,
  outputTokens: 240,
  successPath: ['ValidateContext', 'MintCredentials', 'InvokeAgent', 'PublishAnswer'],
  taskStates: 4,
  localWallS: 0.08,
  ...over,
});

const defaults = (over: Partial<QuotaSettings> = {}): QuotaSettings => ({
  tokensPerMinute: DEFAULT_MODEL_QUOTAS.tokensPerMinute,
  requestsPerMinute: DEFAULT_MODEL_QUOTAS.requestsPerMinute,
  outputBurndown: DEFAULT_MODEL_QUOTAS.outputBurndown,
  maxTokens: DEFAULT_MODEL_QUOTAS.maxOutputTokens,
  modelLatencyS: undefined,
  ...over,
});

const byName = (quotas: ReturnType<typeof quotasFor>, part: string) => {
  const q = quotas.find((x) => x.name.includes(part));
  if (!q) throw new Error(`no quota named like ${part}`);
  return q;
};

describe('quotas: the operator overrides the model figures', () => {
  const fallback = { value: 5_000_000, source: 'the default' };

  it('uses the environment value when set, and says so', () => {
    expect(setting({ BENCH_MODEL_TPM: '2000000' }, 'BENCH_MODEL_TPM', fallback)).toEqual({ value: 2_000_000, source: 'BENCH_MODEL_TPM=2000000 (set by the operator)' });
    expect(optionalSetting({ BENCH_MODEL_LATENCY_S: '4.5' }, 'BENCH_MODEL_LATENCY_S')).toMatchObject({ value: 4.5 });
  });

  it('keeps the default with its source when unset or empty (control: the same key set is used)', () => {
    expect(setting({}, 'BENCH_MODEL_TPM', fallback)).toBe(fallback);
    expect(setting({ BENCH_MODEL_TPM: ' ' }, 'BENCH_MODEL_TPM', fallback)).toBe(fallback);
    expect(optionalSetting({}, 'BENCH_MODEL_LATENCY_S')).toBeUndefined();
    expect(setting({ BENCH_MODEL_TPM: '1' }, 'BENCH_MODEL_TPM', fallback).value).toBe(1);
  });

  it('refuses a value that is not a positive number, rather than fall back to the default', () => {
    expect(() => setting({ BENCH_MODEL_TPM: '5M' }, 'BENCH_MODEL_TPM', fallback)).toThrow("BENCH_MODEL_TPM must be a positive number, not '5M'");
    expect(() => setting({ BENCH_MODEL_TPM: '0' }, 'BENCH_MODEL_TPM', fallback)).toThrow(/positive number/);
    expect(() => optionalSetting({ BENCH_MODEL_LATENCY_S: '-1' }, 'BENCH_MODEL_LATENCY_S')).toThrow(/positive number/);
  });

  it("the override changes the model rows' ceilings (control: the default gives another)", () => {
    const tpm = (s: QuotaSettings) => ceilingOf(byName(quotasFor(measured(), s), 'Bedrock tokens per minute, '));
    const own = tpm(defaults({ tokensPerMinute: setting({ BENCH_MODEL_TPM: '500000' }, 'BENCH_MODEL_TPM', DEFAULT_MODEL_QUOTAS.tokensPerMinute) }));
    expect(own).toBeCloseTo(tpm(defaults())! / 10, 6);
  });
});

describe('quotas: the model tokens a question counts', () => {
  it('counts output tokens burndown times, input tokens once', () => {
    expect(quotaTokens({ inputTokens: 300, outputTokens: 240 }, 5)).toBe(1_500);
    // Control: with a burndown of 1 it is the plain sum the meter records.
    expect(quotaTokens({ inputTokens: 300, outputTokens: 240 }, 1)).toBe(540);
  });

  it('holds input + maxTokens per call while it runs', () => {
    expect(reservedTokensPerCall(150, 64_000)).toBe(64_150);
    expect(reservedTokensPerCall(150, 1_000)).toBe(1_150);
  });

  it('takes the model time from the operator when given, else the local wall time', () => {
    expect(modelSecondsPerQuestion({ localWallS: 0.08 }, { modelLatencyS: { value: 5, source: 'x' } })).toBe(5);
    expect(modelSecondsPerQuestion({ localWallS: 0.08 }, { modelLatencyS: undefined })).toBe(0.08);
  });

  it("burns the tokens-per-minute quota 5x for output: the ceiling is TPM / 60 / (input + 5 x output)", () => {
    const q = byName(quotasFor(measured(), defaults()), 'Bedrock tokens per minute, ');
    expect(q.perQuestion).toBe(1_500);
    expect(ceilingOf(q)).toBeCloseTo(5_000_000 / 60 / 1_500, 6);
  });

  it('bounds the calls in flight by what they hold: TPM / ((input + maxTokens) x model seconds)', () => {
    const q = byName(quotasFor(measured(), defaults({ modelLatencyS: { value: 5, source: 'x' } })), 'held while calls run');
    // 150 input tokens a call (300 over 2 calls) + 64,000 maxTokens, held for the question's 5 s of model time.
    expect(ceilingOf(q)).toBeCloseTo(5_000_000 / (64_150 * 5), 6);
    // Control: a request that sets maxTokens 1,000 holds far less.
    const small = byName(quotasFor(measured(), defaults({ modelLatencyS: { value: 5, source: 'x' }, maxTokens: { value: 1_000, source: 'x' } })), 'held while calls run');
    expect(ceilingOf(small)).toBeCloseTo(5_000_000 / (1_150 * 5), 6);
  });
});

describe("quotas: one tenant's partition", () => {
  it('spends 2 WCU per transactional item write: 2 items at admission, 3 at metering', () => {
    expect(tenantPartitionWriteUnits(1, 1)).toBe(10);
    expect(tenantPartitionWriteUnits(1, 0)).toBe(4);
    expect(tenantPartitionWriteUnits(0, 0)).toBe(0);
  });

  it("is the tenant's ceiling (1,000 WCU / 10 = 100 questions/s), never the platform's", () => {
    const quotas = quotasFor(measured(), defaults());
    const partition = byName(quotas, 'per-partition');
    expect(partition.scope).toBe('tenant');
    expect(lowestCeiling(quotas, 'tenant')).toEqual({ quota: partition, ceiling: 100 });
    expect(lowestCeiling(quotas)?.quota).not.toBe(partition);
  });
});

describe('quotas: the platform ceiling, once STS and Cognito are off the warm path', () => {
  it("is set by the model's quota", () => {
    const quotas = quotasFor(measured(), defaults());
    expect(byName(quotas, 'AssumeRole').perQuestion).toBe(0);
    expect(byName(quotas, 'AdminGetUser').perQuestion).toBe(0);
    const lowest = lowestCeiling(quotas);
    expect(lowest?.quota.name).toMatch(/^Bedrock /);
    // input 300 + 5 x 240 output = 1,500 tokens: 5,000,000 / 60 / 1,500 = 55.6 questions/s.
    expect(lowest?.quota.name).toMatch(/^Bedrock tokens per minute, /);
    expect(lowest?.ceiling).toBeCloseTo(55.56, 1);
  });

  it('with a real model latency, the tokens held at request start set it (maxTokens unset)', () => {
    const lowest = lowestCeiling(quotasFor(measured(), defaults({ modelLatencyS: { value: 5, source: 'x' } })));
    expect(lowest?.quota.name).toMatch(/held while calls run/);
    expect(lowest?.ceiling).toBeCloseTo(15.59, 1);
  });

  it('control: the selection is not fixed on the model; a costlier call elsewhere sets it', () => {
    const quotas = quotasFor(measured({ kmsCrypto: 1_000 }), defaults());
    expect(lowestCeiling(quotas)?.quota.name).toMatch(/^KMS /);
    expect(lowestCeiling(quotas)?.ceiling).toBe(10);
  });

  it('control: Lambda sets it when the model waits long and the token quota is raised', () => {
    const quotas = quotasFor(measured(), defaults({ modelLatencyS: { value: 20, source: 'x' }, tokensPerMinute: { value: 1e12, source: 'x' }, requestsPerMinute: { value: 1e9, source: 'x' } }));
    const lowest = lowestCeiling(quotas);
    expect(lowest?.quota.name).toBe('Lambda concurrent executions');
    expect(lowest?.ceiling).toBeCloseTo(1_000 / 20.08, 6);
  });
});
