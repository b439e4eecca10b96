/**
 * Admission end to end on the local stack (issue 17 point 6): Mutation.ask's pipeline runs in the
 * local AppSync, its DynamoDB functions sign as the data sources' role through the edge, and the
 * workflow releases slots. Counters are planted and read as the operator. No test waits for time:
 * a window is chosen by the clock only when the counters it asserts on were planted in every window
 * the test could land in.
 */
import { DynamoDBClient, GetItemCommand, UpdateItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError, AssistantApi, refusalOf, type AnswerEvent } from '../client/api.ts';
import { signIn, type Tokens } from '../client/auth.ts';
import { listExecutions } from '../client/executions.ts';
import type { RealtimeConnection } from '../client/realtime.ts';
import { startLocalStack, type LocalStack } from '../infra/local/stack.ts';
import { PLANS, SLOT_TTL_SECONDS } from '../tasks/plans.ts';
import { daySortKey, INFLIGHT_SORT_KEY, minuteSortKey, monthSortKey, tenantPartition, userPartition, USER_WINDOW_TTL_SECONDS } from '../tasks/usage.ts';

let stack: LocalStack;
let dynamo: DynamoDBClient;
let sfn: SFNClient;
const tokens = new Map<string, Tokens>();
const NEW_PASSWORD = 'Correct-Horse-Battery-9!';
const QUESTION = "What's your return policy?";

const api = (username: string) => new AssistantApi({ graphqlUrl: stack.graphqlUrl, realtimeUrl: stack.realtimeUrl, idToken: tokens.get(username)!.idToken, answerTimeoutMs: 20_000 });
const sub = (username: string) => stack.user(username).sub;
const userPk = (username: string) => userPartition(stack.user(username).tenantId, sub(username));
const now = () => Math.floor(Date.now() / 1000);
/** The ISO time `minutes` from now: the windows a test may land in. */
const isoIn = (minutes: number) => new Date(Date.now() + minutes * 60_000).toISOString();

beforeAll(async () => {
  stack = await startLocalStack({ port: 0, seedOrdersPerUser: 0, retryIntervalOverrides: 0 });
  dynamo = new DynamoDBClient(stack.clientConfig('operator'));
  sfn = new SFNClient(stack.clientConfig('operator'));
  const pool = { region: stack.iam.location.region, clientId: stack.cognito.clientId, endpoint: stack.edgeUrl };
  const temporary = stack.cognito.temporaryPasswords();
  for (const u of stack.users) tokens.set(u.username, await signIn(pool, u.username, temporary[u.username]!, () => NEW_PASSWORD));
});
afterAll(() => stack?.stop());

/** The operator writes a usage item's attributes (SET), as a test plants counters. */
async function plant(pk: string, sk: string, values: Record<string, AttributeValue>): Promise<void> {
  const names = Object.keys(values);
  await dynamo.send(
    new UpdateItemCommand({
      TableName: stack.tables.usage,
      Key: { pk: { S: pk }, sk: { S: sk } },
      UpdateExpression: `SET ${names.map((_, i) => `#a${i} = :v${i}`).join(', ')}`,
      ExpressionAttributeNames: Object.fromEntries(names.map((n, i) => [`#a${i}`, n])),
      ExpressionAttributeValues: Object.fromEntries(names.map((n, i) => [`:v${i}`, values[n]!])),
    }),
  );
}

async function read(pk: string, sk: string): Promise<Record<string, AttributeValue> | undefined> {
  return (await dynamo.send(new GetItemCommand({ TableName: stack.tables.usage, Key: { pk: { S: pk }, sk: { S: sk } }, ConsistentRead: true }))).Item;
}

const numberOf = (item: Record<string, AttributeValue> | undefined, name: string) => Number(item?.[name]?.N ?? 0);
const executions = async () => (await listExecutions(sfn, stack.iam.resources.stateMachineArn, undefined, 1000)).length;

async function setPlan(tenantId: string, plan: string): Promise<void> {
  await dynamo.send(
    new UpdateItemCommand({ TableName: stack.tables.config, Key: { tenantId: { S: tenantId } }, UpdateExpression: 'SET #p = :p', ExpressionAttributeNames: { '#p': 'plan' }, ExpressionAttributeValues: { ':p': { S: plan } } }),
  );
}

/** Asks and settles: the final event, or the refusal. */
async function ask(username: string, onEvent?: (e: AnswerEvent) => void, connection?: RealtimeConnection) {
  try {
    const result = await api(username).ask(QUESTION, { ...(onEvent ? { onEvent } : {}), ...(connection ? { connection } : {}) });
    return { final: result.final, refusal: null, error: null };
  } catch (err) {
    return { final: null, refusal: refusalOf(err), error: err as Error };
  }
}

describe('admission at the limit', () => {
  it('50 concurrent asks by one user at the per-minute limit admit exactly what the minute windows had left', async () => {
    const user = 'tenant2-user';
    const limit = PLANS.premium.questionsPerUserPerMinute + PLANS.premium.burstPerUser;
    const planted = limit - 2;
    // Every minute the asks could land in starts 2 short of the limit (premium allows 4 in flight: concurrency never binds).
    const minutes = [...new Set([0, 1, 2].map((m) => minuteSortKey(isoIn(m))))];
    for (const sk of minutes) await plant(userPk(user), sk, { questions: { N: String(planted) } });
    const before = await executions();
    // One realtime connection for all 50 (the API allows a user 20 at once).
    const connection = await api(user).connect();
    const results = await Promise.all(Array.from({ length: 50 }, () => ask(user, undefined, connection))).finally(() => connection.close());
    const admitted = results.filter((r) => r.final);
    const refused = results.filter((r) => r.refusal);
    expect(results.filter((r) => !r.final && !r.refusal).map((r) => r.error?.message)).toEqual([]);
    expect(admitted.length + refused.length).toBe(50);
    expect(admitted.every((r) => r.final!.status === 'DONE')).toBe(true);
    expect(refused.every((r) => r.refusal!.errorType === 'Throttled' && r.refusal!.reason === 'userPerMinute')).toBe(true);
    // Exactly what the windows had left: each window the asks landed in is at the limit, none past it.
    const counts = await Promise.all(minutes.map(async (sk) => numberOf(await read(userPk(user), sk), 'questions')));
    expect(counts.every((c) => c >= planted && c <= limit)).toBe(true);
    expect(admitted.length).toBe(counts.reduce((sum, c) => sum + c - planted, 0));
    expect(admitted.length).toBeGreaterThanOrEqual(2);
    expect(counts.filter((c) => c > planted).every((c) => c === limit)).toBe(true);
    // A refused ask starts nothing: one execution per admitted ask.
    expect(await executions()).toBe(before + admitted.length);
    // Refusals are counted on the tenant's day and month; and every slot was released (DONE).
    const day = await read(tenantPartition('tenant2'), daySortKey(new Date().toISOString()));
    expect(numberOf(day, 'refused#userPerMinute')).toBe(refused.length);
    expect((await read(userPk(user), INFLIGHT_SORT_KEY))?.slots).toBeUndefined();
    // The month counts the admitted questions as the day does (what `npm run usage` reports as admitted).
    const month = await read(tenantPartition('tenant2'), monthSortKey(new Date().toISOString()));
    expect(numberOf(month, 'questions')).toBe(numberOf(day, 'questions'));
    expect(numberOf(month, 'questions')).toBeGreaterThanOrEqual(admitted.length);
  });

  it('user windows carry their expiry (TTL); counters are never negative', async () => {
    const user = 'tenant1-user2';
    const startedIn = minuteSortKey(new Date().toISOString());
    expect((await ask(user)).final?.status).toBe('DONE');
    // The minute the counter landed in (the clock may have turned a minute during the ask).
    const landed = [...new Set([startedIn, minuteSortKey(new Date().toISOString())])];
    const minute = (await Promise.all(landed.map((sk) => read(userPk(user), sk)))).find((item) => numberOf(item, 'questions') > 0);
    const expiry = numberOf(minute, 'expiresAt');
    expect(expiry).toBeGreaterThan(now());
    expect(expiry).toBeLessThanOrEqual(now() + USER_WINDOW_TTL_SECONDS + 1);
    const day = await read(tenantPartition('tenant1'), daySortKey(new Date().toISOString()));
    for (const item of [minute!, day!]) {
      for (const [name, value] of Object.entries(item)) if (value.N !== undefined) expect([name, Number(value.N) >= 0]).toEqual([name, true]);
    }
  });
});

describe('concurrency slots', () => {
  it('with one slot, a second ask while the first is in flight is Throttled; after DONE the next is admitted', async () => {
    const user = 'tenant3-user'; // basic: one answer at a time
    expect(PLANS.basic.concurrentAnswersPerUser).toBe(1);
    let second: Promise<Awaited<ReturnType<typeof ask>>> | undefined;
    // The second ask goes out when the first's ACCEPTED event arrives: the first is in flight (not DONE).
    const first = await ask(user, (e) => {
      if (e.status === 'ACCEPTED' && !second) second = ask(user);
    });
    expect(first.final?.status).toBe('DONE');
    const refused = await second!;
    expect(refused.refusal).toMatchObject({ errorType: 'Throttled', reason: 'userConcurrency' });
    expect(refused.error!.message).toMatch(/^You can have 1 answer in progress at once \(basic plan\); try again when one has ended/);
    // Control: the slot was released with DONE.
    expect((await ask(user)).final?.status).toBe('DONE');
    expect((await read(userPk(user), INFLIGHT_SORT_KEY))?.slots).toBeUndefined();
  });

  it('an expired slot (a dead execution) does not block and is pruned; a live one does (and is kept)', async () => {
    const user = 'tenant1-user2'; // standard: two at a time
    const dead = [`${now() - 30}#${sub(user)}.dead1`, `${now() - 30}#${sub(user)}.dead2`];
    await plant(userPk(user), INFLIGHT_SORT_KEY, { slots: { SS: dead } });
    expect((await ask(user)).final?.status).toBe('DONE');
    expect((await read(userPk(user), INFLIGHT_SORT_KEY))?.slots).toBeUndefined();
    const live = [`${now() + SLOT_TTL_SECONDS}#${sub(user)}.live1`, `${now() + SLOT_TTL_SECONDS}#${sub(user)}.live2`];
    await plant(userPk(user), INFLIGHT_SORT_KEY, { slots: { SS: live } });
    const before = await executions();
    const refused = await ask(user);
    expect(refused.refusal).toMatchObject({ errorType: 'Throttled', reason: 'userConcurrency' });
    expect(await executions()).toBe(before);
    expect((await read(userPk(user), INFLIGHT_SORT_KEY))?.slots?.SS?.sort()).toEqual([...live].sort());
    await plant(userPk(user), INFLIGHT_SORT_KEY, { slots: { SS: [`${now() - 1}#${sub(user)}.gone`] } });
  });
});

describe('tenant quotas', () => {
  const today = () => [...new Set([0, 1].map((m) => daySortKey(isoIn(m))))];
  const thisMonth = () => [...new Set([0, 1].map((m) => monthSortKey(isoIn(m))))];

  it('a tenant whose day quota is spent is refused (QuotaExceeded), nothing starts and nothing is published; control: with one left, admitted', async () => {
    const perDay = PLANS.standard.questionsPerTenantPerDay;
    for (const sk of today()) await plant(tenantPartition('tenant1'), sk, { questions: { N: String(perDay) } });
    const before = await executions();
    const events: AnswerEvent[] = [];
    const refused = await ask('tenant1-user', (e) => events.push(e));
    expect(refused.refusal).toMatchObject({ errorType: 'QuotaExceeded', reason: 'tenantPerDay' });
    expect(refused.error!.message).toMatch(/^Your organisation can ask 5000 questions a day \(standard plan\)/);
    expect(await executions()).toBe(before);
    expect(events).toEqual([]);
    for (const sk of today()) await plant(tenantPartition('tenant1'), sk, { questions: { N: String(perDay - 1) } });
    expect((await ask('tenant1-user')).final?.status).toBe('DONE');
    for (const sk of today()) await plant(tenantPartition('tenant1'), sk, { questions: { N: '0' } });
  });

  it("a tenant whose month's token budget is spent is refused (QuotaExceeded); control: one token under, admitted", async () => {
    const budget = PLANS.standard.tokensPerTenantPerMonth;
    for (const sk of thisMonth()) await plant(tenantPartition('tenant1'), sk, { tokens: { N: String(budget) } });
    const refused = await ask('tenant1-user');
    expect(refused.refusal).toMatchObject({ errorType: 'QuotaExceeded', reason: 'tenantTokensPerMonth' });
    expect(refused.refusal!.retryAfter!.getUTCDate()).toBe(1);
    for (const sk of thisMonth()) await plant(tenantPartition('tenant1'), sk, { tokens: { N: String(budget - 1) } });
    expect((await ask('tenant1-user')).final?.status).toBe('DONE');
    for (const sk of thisMonth()) await plant(tenantPartition('tenant1'), sk, { tokens: { N: '0' } });
  });
});

describe('plans and isolation', () => {
  it('a plan change (UpdateItem of the config row) takes effect on the next ask', async () => {
    const user = 'tenant3-user';
    const held = `${now() + SLOT_TTL_SECONDS}#${sub(user)}.held`;
    await plant(userPk(user), INFLIGHT_SORT_KEY, { slots: { SS: [held] } });
    expect((await ask(user)).refusal).toMatchObject({ reason: 'userConcurrency' }); // basic: 1 at a time
    await setPlan('tenant3', 'standard');
    try {
      expect((await ask(user)).final?.status).toBe('DONE'); // standard: 2 at a time
    } finally {
      await setPlan('tenant3', 'basic');
    }
    expect((await ask(user)).refusal).toMatchObject({ reason: 'userConcurrency' });
    await plant(userPk(user), INFLIGHT_SORT_KEY, { slots: { SS: [`${now() - 1}#${sub(user)}.gone`] } });
  });

  it("one user's spent window does not refuse another user of the same tenant, nor is it consumed by them", async () => {
    const full = 'tenant1-user';
    const other = 'tenant1-user2';
    const limit = PLANS.standard.questionsPerUserPerMinute + PLANS.standard.burstPerUser;
    const minutes = [...new Set([0, 1].map((m) => minuteSortKey(isoIn(m))))];
    for (const sk of minutes) await plant(userPk(full), sk, { questions: { N: String(limit) } });
    expect((await ask(full)).refusal).toMatchObject({ errorType: 'Throttled', reason: 'userPerMinute' });
    // Control: the other user, same tenant, same minute, is admitted; the full user's windows did not move.
    expect((await ask(other)).final?.status).toBe('DONE');
    for (const sk of minutes) expect(numberOf(await read(userPk(full), sk), 'questions')).toBe(limit);
  });

  it("the publish-answer role may release a user's slot and write no tenant's counters (control: the user's INFLIGHT item)", async () => {
    const publisher = new DynamoDBClient(stack.clientConfig('publish-answer'));
    const update = (pk: string, sk: string) =>
      publisher.send(new UpdateItemCommand({ TableName: stack.tables.usage, Key: { pk: { S: pk }, sk: { S: sk } }, UpdateExpression: 'DELETE #s :s', ExpressionAttributeNames: { '#s': 'slots' }, ExpressionAttributeValues: { ':s': { SS: ['1#x'] } } }));
    await update(userPk('tenant1-user'), INFLIGHT_SORT_KEY);
    await expect(update(tenantPartition('tenant1'), daySortKey(new Date().toISOString()))).rejects.toMatchObject({ name: 'AccessDeniedException' });
  });

  it('a refusal is a GraphQL error the client maps, with when to retry', async () => {
    const user = 'tenant1-user';
    const err = (await ask(user)).error;
    expect(err).toBeInstanceOf(ApiError);
    expect(refusalOf(err)!.retryAfter!.getTime()).toBeGreaterThan(Date.now());
  });
});
