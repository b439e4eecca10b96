/**
 * Token metering end to end on the local stack (tasks/meter.ts): after each answer, the tenant's
 * DAY and MONTH items of the usage table hold the tokens the answer reported (the local Bedrock's
 * deterministic usage), per model too, and answers add up; an answer is metered once however often
 * its meter runs (an InvokeAgent invocation delivered twice answers twice, meters once); a meter
 * that cannot write still answers; and IAM, not code, keeps the meter out
 * of a tenant's reach: the tenant-scoped session is denied UpdateItem on the usage table, the
 * invoke-agent role may write only tenant partitions.
 */
import { randomUUID } from 'node:crypto';
import { DynamoDBClient, GetItemCommand, UpdateItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnswerEventRecord } from '../infra/local/services/appsync/graphql.ts';
import { startLocalStack, type LocalStack } from '../infra/local/stack.ts';
import { AGENT_RUNTIMES } from '../tasks/config.ts';
import { UsageTableMeter, type AnswerMeter, type MeteredAnswer } from '../tasks/meter.ts';
import { assumeTenantRole } from '../tasks/tenant-credentials.ts';
import { answerMeterSortKey, daySortKey, monthSortKey, tenantPartition, userPartition } from '../tasks/usage.ts';
import { AnswerSchema, type TokenUsage } from '../tasks/workflow-input.ts';
import { localFunctionArn } from '../infra/local/services/lambda/functions.ts';
import { ask, historyOf, recordEvents, type Asked } from './workflow-helpers.ts';

type Item = Record<string, AttributeValue>;

const num = (item: Item | undefined, name: string): number => Number(item?.[name]?.N ?? 0);

async function usageItem(stack: LocalStack, pk: string, sk: string): Promise<Item | undefined> {
  const operator = new DynamoDBClient(stack.clientConfig('operator'));
  try {
    return (await operator.send(new GetItemCommand({ TableName: stack.tables.usage, Key: { pk: { S: pk }, sk: { S: sk } }, ConsistentRead: true }))).Item;
  } finally {
    operator.destroy();
  }
}

function usageOf(asked: Asked): TokenUsage {
  const answer = AnswerSchema.parse((JSON.parse(asked.output ?? '{}') as { answer?: unknown }).answer);
  if (!answer.usage) throw new Error('the answer reported no usage');
  return answer.usage;
}

/** The tenant's DAY and MONTH items of the answer's windows, read from the answer's own meter marker. */
async function windowsOf(stack: LocalStack, tenantId: string, answerId: string) {
  const marker = await usageItem(stack, tenantPartition(tenantId), answerMeterSortKey(answerId));
  if (!marker) throw new Error(`answer ${answerId} was not metered`);
  const at = marker.meteredAt!.S!;
  return {
    marker,
    day: await usageItem(stack, tenantPartition(tenantId), daySortKey(at)),
    month: await usageItem(stack, tenantPartition(tenantId), monthSortKey(at)),
  };
}

describe.each(AGENT_RUNTIMES)('with the %s agent runtime', (agentRuntime) => {
  let stack: LocalStack;
  let events: AnswerEventRecord[];
  beforeAll(async () => {
    stack = await startLocalStack({ port: 0, seedOrdersPerUser: 1, retryIntervalOverrides: 0, agentRuntime });
    events = recordEvents(stack);
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it("records an answer's reported tokens on the tenant's DAY and MONTH items, per model too; a second answer adds to them", async () => {
    const first = await ask(stack, events, 'tenant3-user', "What's your return policy?");
    expect(first.events.map((e) => e.status)).toEqual(['DONE']);
    const u1 = usageOf(first);
    expect(u1.inputTokens).toBeGreaterThan(0);
    const w1 = await windowsOf(stack, 'tenant3', first.answerId);
    for (const item of [w1.day, w1.month]) {
      expect({
        inputTokens: num(item, 'inputTokens'),
        outputTokens: num(item, 'outputTokens'),
        tokens: num(item, 'tokens'),
        answered: num(item, 'answered'),
        model: [num(item, `inputTokens#${u1.modelId}`), num(item, `outputTokens#${u1.modelId}`)],
      }).toEqual({ inputTokens: u1.inputTokens, outputTokens: u1.outputTokens, tokens: u1.totalTokens, answered: 1, model: [u1.inputTokens, u1.outputTokens] });
      // Kept for reports (400 days): TTL set on the first write.
      expect(num(item, 'expiresAt')).toBeGreaterThan(Date.now() / 1000 + 399 * 24 * 3600);
    }
    expect(w1.marker).toMatchObject({ modelId: { S: u1.modelId }, inputTokens: { N: String(u1.inputTokens) }, outputTokens: { N: String(u1.outputTokens) } });

    const second = await ask(stack, events, 'tenant3-user', 'Which orders did I place?');
    const u2 = usageOf(second);
    const w2 = await windowsOf(stack, 'tenant3', second.answerId);
    // Control: the two answers differ (a tool round), so a sum that ignored one would show.
    expect(u2.totalTokens).not.toBe(u1.totalTokens);
    if (w2.marker.meteredAt!.S!.slice(0, 10) === w1.marker.meteredAt!.S!.slice(0, 10)) {
      expect([num(w2.day, 'tokens'), num(w2.day, 'answered')]).toEqual([u1.totalTokens + u2.totalTokens, 2]);
    }
    if (w2.marker.meteredAt!.S!.slice(0, 7) === w1.marker.meteredAt!.S!.slice(0, 7)) {
      expect([num(w2.month, 'inputTokens'), num(w2.month, 'outputTokens'), num(w2.month, 'tokens')]).toEqual([
        u1.inputTokens + u2.inputTokens,
        u1.outputTokens + u2.outputTokens,
        u1.totalTokens + u2.totalTokens,
      ]);
    }
    // Another tenant's answers are not on this tenant's meter (control: tenant2's own meter has them).
    const other = await ask(stack, events, 'tenant2-user', "What's your return policy?");
    const w3 = await windowsOf(stack, 'tenant2', other.answerId);
    expect(num(w3.month, 'tokens')).toBe(usageOf(other).totalTokens);
    const after = await windowsOf(stack, 'tenant3', second.answerId);
    expect([num(after.month, 'tokens'), num(after.month, 'answered')]).toEqual([num(w2.month, 'tokens'), num(w2.month, 'answered')]);
  });

  it('an InvokeAgent invocation delivered again (the same payload, as Lambda may) answers again but meters the answer once', async () => {
    const asked = await ask(stack, events, 'tenant1-user', "What's your return policy?");
    expect(asked.events.map((e) => e.status)).toEqual(['DONE']);
    const history = await historyOf(stack, asked.executionArn);
    const arn = localFunctionArn(stack.iam, 'invoke-agent');
    const scheduled = history.find((e) => e.type === 'LambdaFunctionScheduled' && e.lambdaFunctionScheduledEventDetails?.resource === arn);
    if (!scheduled) throw new Error('no InvokeAgent function in the history');
    const payload = JSON.parse(scheduled.lambdaFunctionScheduledEventDetails!.input!) as unknown;
    const before = await windowsOf(stack, 'tenant1', asked.answerId);

    const handler = stack.functions.get(arn)!;
    const again = AnswerSchema.parse(await handler(payload));
    // Control: the redelivery really ran the model again, with tokens to count.
    expect(again.usage!.totalTokens).toBeGreaterThan(0);
    const after = await windowsOf(stack, 'tenant1', asked.answerId);
    for (const w of ['day', 'month'] as const) {
      expect([num(after[w], 'tokens'), num(after[w], 'answered')]).toEqual([num(before[w], 'tokens'), num(before[w], 'answered')]);
    }
    expect(after.marker).toEqual(before.marker);
  });
});

describe('the meter against the local DynamoDB, with the task role and with a tenant session', () => {
  let stack: LocalStack;
  let events: AnswerEventRecord[];
  /** What the invoke-agent task's meter does, switchable per test (a meter with another role's client). */
  let meterTarget: AnswerMeter | undefined;
  const meterLog: Record<string, unknown>[] = [];
  beforeAll(async () => {
    stack = await startLocalStack({
      port: 0,
      seedOrdersPerUser: 1,
      retryIntervalOverrides: 0,
      agentRuntime: 'converse',
      taskOverrides: {
        'invoke-agent': {
          meter: { record: (a: MeteredAnswer) => (meterTarget ? meterTarget.record(a) : Promise.reject(new Error('no meter set'))) } satisfies AnswerMeter,
          log: (line: Record<string, unknown>) => meterLog.push(line),
        },
      },
    });
    events = recordEvents(stack);
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const meterAs = (who: 'invoke-agent' | 'publish-answer') => new UsageTableMeter(new DynamoDBClient(stack.clientConfig(who)), stack.tables);
  const answer = (answerId: string, at: Date): MeteredAnswer => ({ tenantId: 'tenant1', answerId, modelId: 'model-x', usage: { inputTokens: 100, outputTokens: 7 }, at });

  it('meters an answer once: a second meter of the same answerId adds nothing (control: another answerId adds)', async () => {
    const meter = meterAs('invoke-agent');
    // A month of its own, so that no other answer shares these windows.
    const at = new Date('2031-02-14T10:00:00.000Z');
    const id = `sub-x.${randomUUID()}`;
    expect(await meter.record(answer(id, at))).toBe('metered');
    expect(await meter.record(answer(id, at))).toBe('duplicate');
    const month = await usageItem(stack, tenantPartition('tenant1'), monthSortKey(at.toISOString()));
    expect([num(month, 'tokens'), num(month, 'answered'), num(month, 'inputTokens#model-x')]).toEqual([107, 1, 100]);
    expect(await meter.record(answer(`sub-x.${randomUUID()}`, at))).toBe('metered');
    const day = await usageItem(stack, tenantPartition('tenant1'), daySortKey(at.toISOString()));
    expect([num(day, 'tokens'), num(day, 'answered'), num(day, 'outputTokens#model-x')]).toEqual([214, 2, 14]);
  });

  it('a meter that cannot write still answers DONE, and logs meter.failed (control: the task role meter records it)', async () => {
    meterTarget = meterAs('publish-answer');
    const failed = await ask(stack, events, 'tenant1-user', "What's your return policy?");
    expect(failed.events.map((e) => e.status)).toEqual(['DONE']);
    expect(meterLog.filter((l) => l.answerId === failed.answerId)).toEqual([
      { level: 'error', msg: 'meter.failed', tenantId: 'tenant1', answerId: failed.answerId, tokens: usageOf(failed).totalTokens, error: 'AccessDeniedException' },
    ]);
    expect(await usageItem(stack, tenantPartition('tenant1'), answerMeterSortKey(failed.answerId))).toBeUndefined();

    meterTarget = meterAs('invoke-agent');
    const metered = await ask(stack, events, 'tenant1-user', "What's your return policy?");
    expect(metered.events.map((e) => e.status)).toEqual(['DONE']);
    expect(meterLog.filter((l) => l.answerId === metered.answerId)).toMatchObject([{ msg: 'meter.recorded', tokens: usageOf(metered).totalTokens }]);
    expect(await usageItem(stack, tenantPartition('tenant1'), answerMeterSortKey(metered.answerId))).toBeDefined();
  });

  it("denies the tenant-scoped session UpdateItem on the usage table, even on its own tenant's partition (control: the task role may)", async () => {
    const u = stack.user('tenant1-user');
    const sts = new STSClient(stack.clientConfig('mint-credentials'));
    const creds = await assumeTenantRole(
      { tenantId: u.tenantId, userId: u.sub },
      { sts, tenantAccessRoleArn: stack.iam.resources.tenantAccessRoleArn, location: stack.iam.location, tables: stack.tables },
    ).finally(() => sts.destroy());
    const add = (client: DynamoDBClient, pk: string) =>
      client.send(
        new UpdateItemCommand({
          TableName: stack.tables.usage,
          Key: { pk: { S: pk }, sk: { S: 'MONTH#2031-03' } },
          UpdateExpression: 'ADD #t :n',
          ExpressionAttributeNames: { '#t': 'tokens' },
          ExpressionAttributeValues: { ':n': { N: '-1000000' } },
        }),
      );
    const tenant = new DynamoDBClient(stack.clientConfig(creds));
    const task = new DynamoDBClient(stack.clientConfig('invoke-agent'));
    try {
      await expect(add(tenant, tenantPartition('tenant1'))).rejects.toMatchObject({ name: 'AccessDeniedException' });
      await expect(add(task, tenantPartition('tenant1'))).resolves.toBeDefined();
      // The task role: tenant partitions only, never a user's admission windows.
      await expect(add(task, userPartition('tenant1', u.sub))).rejects.toMatchObject({ name: 'AccessDeniedException' });
    } finally {
      tenant.destroy();
      task.destroy();
    }
  });

  it("every Converse call of an answer's tool loop carries requestMetadata with the asker's tenant id", async () => {
    meterTarget = meterAs('invoke-agent');
    stack.bedrock.reset();
    const asked = await ask(stack, events, 'tenant2-user', 'Which orders did I place?');
    expect(asked.events.map((e) => e.status)).toEqual(['DONE']);
    const calls = stack.bedrock.calls();
    // A tool round, then the answer: two calls, both attributed.
    expect(calls.map((c) => [c.operation, c.outcome])).toEqual([
      ['ConverseStream', 'tool_use'],
      ['ConverseStream', 'end_turn'],
    ]);
    expect(calls.map((c) => c.requestMetadata)).toEqual([{ tenantId: 'tenant2' }, { tenantId: 'tenant2' }]);
  });
});
