/**
 * Mutation.ask's admission as AppSync runs it (the bundled pipeline in the local APPSYNC_JS
 * runtime), against scripted data sources: which limit a cancelled transaction names, the refusal
 * the asker reads, what is counted, the prune-and-retry of expired slots, and that a refused ask
 * starts nothing. test/admission.test.ts runs the same pipeline against the local stack.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { DataSourceError, loadResolver, ResolverError, runResolver, type DataSourceCall, type LoadedResolver } from '../infra/local/services/appsync/resolver-runtime.ts';
import { RESOLVERS } from '../infra/resolvers.ts';
import { BURST_SPAN_MINUTES, PLANS, SLOT_TTL_SECONDS } from '../tasks/plans.ts';
import { REFUSAL_REASONS, type RefusalReason } from '../tasks/usage.ts';

let ask: LoadedResolver;
beforeAll(async () => {
  ask = await loadResolver(RESOLVERS.find((r) => r.fieldName === 'ask')!);
});

const env = { STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:000000000000:stateMachine:assistant', USAGE_TABLE: 'usage', CONFIG_TABLE: 'tenant-config' };
const identity = (sub: string, tenantId: string) => ({ sub, username: `${sub}-name`, claims: { sub, 'custom:tenantId': tenantId }, sourceIp: ['127.0.0.1'] });

type Req = { operation?: string; transactItems?: { operation?: string; key: { pk: { S: string }; sk: { S: string } }; update?: { expression: string; expressionNames: Record<string, string> }; condition?: { expressionNames?: Record<string, string>; expressionValues: Record<string, { N: string }> } }[]; key?: unknown; update?: { expressionValues: Record<string, { SS: string[] }> } };

/** A cancelled admission, as AppSync gives it: ctx.error, and ctx.result with one reason per item. */
function cancelled(codes: (string | null)[]) {
  return new DataSourceError('Transaction cancelled', 'DynamoDB:TransactionCanceledException', {
    keys: null,
    cancellationReasons: codes.map((c) => ({ type: c ?? 'None', message: c ? 'The conditional request failed' : null })),
  });
}

const refusedAt = (reason: RefusalReason) => REFUSAL_REASONS.map((r) => (r === reason ? 'ConditionalCheckFailed' : null));

/**
 * Scripted data sources: `admissions` answers each admission transaction in turn (undefined: admitted,
 * an error: thrown), `slots` is the INFLIGHT item's set. Records every call.
 */
function script(options: { plan?: string | null; admissions?: (DataSourceError | undefined)[]; slots?: string[]; startStatus?: number }) {
  const calls: { kind: string; request: Req }[] = [];
  const admissions = [...(options.admissions ?? [undefined])];
  const call: DataSourceCall = async (request, dataSource) => {
    const req = request as Req;
    if (dataSource.kind === 'HTTP') {
      calls.push({ kind: 'start', request: req });
      return { statusCode: options.startStatus ?? 200, headers: {}, body: JSON.stringify({ executionArn: 'arn:exec:1' }) };
    }
    if (dataSource.kind === 'DYNAMODB' && dataSource.table === 'config') {
      calls.push({ kind: 'plan', request: req });
      return options.plan === null ? null : { tenantId: 'tenant1', ...(options.plan ? { plan: options.plan } : {}) };
    }
    const isAdmission = req.operation === 'TransactWriteItems' && req.transactItems!.length === 5;
    const kind = isAdmission ? 'admit' : req.operation === 'TransactWriteItems' ? 'count' : req.operation === 'GetItem' ? 'readSlots' : 'deleteSlots';
    calls.push({ kind, request: req });
    if (kind === 'admit') {
      const outcome = admissions.shift();
      if (outcome) throw outcome;
      return { keys: [], cancellationReasons: null };
    }
    if (kind === 'readSlots') return options.slots ? { slots: options.slots } : null;
    return {};
  };
  return { calls, call, kinds: () => calls.map((c) => c.kind) };
}

async function run(s: ReturnType<typeof script>, who = identity('u1', 'tenant1')) {
  try {
    return { result: (await runResolver(ask, { args: { answerId: `${who.sub}.a1`, question: 'Hi?' }, identity: who, env }, s.call)).result, error: undefined };
  } catch (error) {
    if (!(error instanceof ResolverError)) throw error;
    return { result: undefined, error };
  }
}

const now = () => Math.floor(Date.now() / 1000);

describe('admission: admitted', () => {
  it("reads the plan, then one transaction over the token's user and tenant windows, then starts", async () => {
    const s = script({ plan: 'basic' });
    const { result, error } = await run(s);
    expect(error).toBeUndefined();
    expect(result).toEqual({ answerId: 'u1.a1', executionId: 'arn:exec:1' });
    expect(s.kinds()).toEqual(['plan', 'admit', 'start']);
    const items = s.calls[1]!.request.transactItems!;
    expect(items.map((i) => [i.key.pk.S, i.key.sk.S.split('#')[0]])).toEqual([
      ['USER#tenant1#u1', 'MINUTE'],
      ['USER#tenant1#u1', 'SPAN'],
      ['USER#tenant1#u1', 'INFLIGHT'],
      ['TENANT#tenant1', 'DAY'],
      ['TENANT#tenant1', 'MONTH'],
    ]);
    // The basic plan's limits, in the conditions.
    const limits = items.map((i) => Number(Object.values(i.condition!.expressionValues)[0]!.N));
    const basic = PLANS.basic;
    expect(limits).toEqual([basic.questionsPerUserPerMinute + basic.burstPerUser, BURST_SPAN_MINUTES * basic.questionsPerUserPerMinute, basic.concurrentAnswersPerUser, basic.questionsPerTenantPerDay, basic.tokensPerTenantPerMonth]);
    // Every window carries its expiry (TTL); the day and the month count the admitted question
    // (the month on the condition of its tokens: `npm run usage` reports the month's questions).
    expect(items.every((i) => i.update!.expressionNames['#exp'] === 'expiresAt')).toBe(true);
    expect(items.slice(3).map((i) => [i.operation, i.update!.expression])).toEqual([
      ['UpdateItem', 'ADD #q :one SET #exp = if_not_exists(#exp, :exp)'],
      ['UpdateItem', 'ADD #q :one SET #exp = if_not_exists(#exp, :exp)'],
    ]);
    expect(items[4]!.condition!.expressionNames).toEqual({ '#t': 'tokens' });
  });

  it('a config row without a plan (or no row) has the default plan', async () => {
    for (const plan of [undefined, null, 'platinum']) {
      const s = script({ plan });
      await run(s);
      const minute = Number(Object.values(s.calls[1]!.request.transactItems![0]!.condition!.expressionValues)[0]!.N);
      expect(minute).toBe(PLANS.standard.questionsPerUserPerMinute + PLANS.standard.burstPerUser);
    }
  });

  it("keys come from the token only: another user's ask counts on that user's windows and tenant (control: u1's)", async () => {
    const s = script({});
    await run(s, identity('u2', 'tenant2'));
    expect(s.calls[1]!.request.transactItems!.map((i) => i.key.pk.S)).toEqual(['USER#tenant2#u2', 'USER#tenant2#u2', 'USER#tenant2#u2', 'TENANT#tenant2', 'TENANT#tenant2']);
  });
});

describe('admission: refused', () => {
  const expected: Record<RefusalReason, [string, RegExp]> = {
    userPerMinute: ['Throttled', /^You can ask 15 questions a minute \(standard plan\); try again at \d\d:\d\d UTC\.$/],
    userBurstSpan: ['Throttled', /^You can ask 50 questions in 5 minutes \(standard plan\); try again at \d\d:\d\d UTC\.$/],
    userConcurrency: ['Throttled', /^You can have 2 answers in progress at once \(standard plan\); try again when one has ended/],
    tenantPerDay: ['QuotaExceeded', /^Your organisation can ask 5000 questions a day \(standard plan\), and has asked them today; try again after \d{4}-\d\d-\d\d 00:00 UTC\.$/],
    tenantTokensPerMonth: ['QuotaExceeded', /^Your organisation has used its 20000000 model tokens for \d{4}-\d\d \(standard plan\); try again after \d{4}-\d\d-01 00:00 UTC\.$/],
  };

  it.each(REFUSAL_REASONS)('%s: the error names the limit and when to retry, it is counted, and nothing starts', async (reason) => {
    // A concurrency refusal with live slots only (nothing to prune).
    const s = script({ admissions: [cancelled(refusedAt(reason))], slots: [`${now() + 60}#u1.other`] });
    const { error } = await run(s);
    const [type, message] = expected[reason];
    expect(error).toMatchObject({ errorType: type, errorInfo: { reason, retryAfter: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/) } });
    expect(error!.message).toMatch(message);
    expect(Date.parse((error!.errorInfo as { retryAfter: string }).retryAfter)).toBeGreaterThan(Date.now());
    expect(s.kinds()).not.toContain('start');
    const count = s.calls.find((c) => c.kind === 'count')!.request.transactItems!;
    expect(count.map((i) => [i.key.pk.S, i.key.sk.S.split('#')[0], i.update!.expressionNames['#refused']])).toEqual([
      ['TENANT#tenant1', 'DAY', `refused#${reason}`],
      ['TENANT#tenant1', 'MONTH', `refused#${reason}`],
    ]);
  });

  it('several limits at once: the one whose retry is latest is reported', async () => {
    const s = script({ admissions: [cancelled(['ConditionalCheckFailed', null, null, 'ConditionalCheckFailed', null])] });
    expect((await run(s)).error).toMatchObject({ errorType: 'QuotaExceeded', errorInfo: { reason: 'tenantPerDay' } });
  });

  it('concurrency, live slots only: refused without pruning, retry at the earliest live expiry at the latest', async () => {
    const soon = now() + 90;
    const s = script({ admissions: [cancelled(refusedAt('userConcurrency'))], slots: [`${soon + 100}#u1.b`, `${soon}#u1.a`] });
    const { error } = await run(s);
    expect(error).toMatchObject({ errorType: 'Throttled', errorInfo: { reason: 'userConcurrency', retryAfter: new Date(soon * 1000).toISOString() } });
    expect(s.kinds()).toEqual(['plan', 'admit', 'readSlots', 'count']);
  });

  it('a transaction that only lost to concurrent ones is tried once more; twice lost is Throttled "busy", not counted', async () => {
    const conflict = () => cancelled(['TransactionConflict', null, null, null, null]);
    const once = script({ admissions: [conflict(), undefined] });
    expect((await run(once)).error).toBeUndefined();
    expect(once.kinds()).toEqual(['plan', 'admit', 'admit', 'start']);
    const twice = script({ admissions: [conflict(), conflict()] });
    expect((await run(twice)).error).toMatchObject({ errorType: 'Throttled', errorInfo: { reason: 'busy' } });
    expect(twice.kinds()).toEqual(['plan', 'admit', 'admit']);
  });

  it('another DynamoDB error is no refusal: ServiceUnavailable, nothing counted, nothing started', async () => {
    const s = script({ admissions: [new DataSourceError('denied', 'DynamoDB:DynamoDbException')] });
    expect((await run(s)).error).toMatchObject({ errorType: 'ServiceUnavailable' });
    expect(s.kinds()).toEqual(['plan', 'admit']);
  });
});

describe('admission: expired slots', () => {
  it('concurrency refused by expired slots only: they are pruned (a live one is kept) and the ask is admitted on the second try', async () => {
    const expired = `${now() - 1}#u1.old`;
    const live = `${now() + SLOT_TTL_SECONDS}#u1.live`;
    const s = script({ plan: 'basic', admissions: [cancelled(refusedAt('userConcurrency')), undefined], slots: [expired, live] });
    const { error } = await run(s);
    expect(error).toBeUndefined();
    expect(s.kinds()).toEqual(['plan', 'admit', 'readSlots', 'deleteSlots', 'admit', 'start']);
    expect(s.calls[3]!.request.update!.expressionValues[':gone']).toEqual({ SS: [expired] });
  });

  it('pruned, but refused again on the second try: Throttled, counted once, nothing started', async () => {
    const s = script({ admissions: [cancelled(refusedAt('userConcurrency')), cancelled(refusedAt('userConcurrency'))], slots: [`${now() - 5}#u1.old`] });
    expect((await run(s)).error).toMatchObject({ errorType: 'Throttled', errorInfo: { reason: 'userConcurrency' } });
    expect(s.kinds()).toEqual(['plan', 'admit', 'readSlots', 'deleteSlots', 'admit', 'count']);
  });
});

describe('admission: StartExecution fails after admission', () => {
  it("gives this ask's slot back (ReleaseUnstarted) and reports the failure", async () => {
    const s = script({ startStatus: 400 });
    expect((await run(s)).error).toMatchObject({ errorType: 'StartExecutionFailed' });
    expect(s.kinds()).toEqual(['plan', 'admit', 'start', 'deleteSlots']);
    const slot = s.calls[1]!.request.transactItems![2]!;
    expect(s.calls[3]!.request.update!.expressionValues[':gone']!.SS).toEqual([expect.stringMatching(/^\d+#u1\.a1$/)]);
    expect(slot.key.sk.S).toBe('INFLIGHT');
  });
});
