import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Message } from '@aws-sdk/client-bedrock-runtime';
import { describe, expect, it } from 'vitest';
import { awsError, FAKE_CLIENT_CONFIG, rejection, scripted } from '../test/fake-aws.ts';
import {
  boundHistory,
  conversationPrefix,
  ConversationMemory,
  isWholeTurn,
  MAX_HISTORY_CHARS,
  MAX_REMEMBERED_TURNS,
  MAX_TURN_CHARS,
  turnKey,
  turnToStore,
} from './conversation-memory.ts';
import { ErrorName } from './errors.ts';
import { CONVERSATION_TTL_SECONDS, TableNames } from './tables.ts';

const SECRETS: [string, string, string] = ['ASIASCOPEDUSER10001', 'scoped-secret-access-key/0123456789', 'scoped-session-token-0123456789abcdef'];

/** One whole turn: a question, a tool round, an answer. */
function turn(n: number, answer = `Answer ${n}.`): Message[] {
  return [
    { role: 'user', content: [{ text: `Question ${n}?` }] },
    { role: 'assistant', content: [{ toolUse: { toolUseId: `t${n}`, name: 'listMyOrders', input: {} } }] },
    { role: 'user', content: [{ toolResult: { toolUseId: `t${n}`, content: [{ json: { orders: [] } }], status: 'success' } }] },
    { role: 'assistant', content: [{ text: answer }] },
  ];
}

const ref = { tenantId: 'tenant1', userId: 'user-1', conversationId: 'conv-1', answerId: 'user-1.a9' };
const NOW = new Date('2030-01-01T00:00:00.000Z');

function memory() {
  const dynamo = scripted(new DynamoDBClient(FAKE_CLIENT_CONFIG));
  const logs: Record<string, unknown>[] = [];
  const m = new ConversationMemory(ref, { dynamodb: dynamo.client, tables: new TableNames(), log: (l) => logs.push(l), secrets: SECRETS, now: () => NOW });
  return { m, dynamo, logs };
}

const stored = (seq: number, messages: Message[], answerId = `user-1.a${seq}`) => ({
  askerKey: 'tenant1#user-1',
  turnKey: turnKey('conv-1', seq),
  seq,
  answerId,
  messages: JSON.stringify(messages),
});

describe('whole turns', () => {
  it('a turn starts with the question, alternates, answers every toolUse and ends with an answer', () => {
    expect(isWholeTurn(turn(1))).toBe(true);
    // Controls: each broken one.
    expect(isWholeTurn(turn(1).slice(1))).toBe(false); // starts with the assistant
    expect(isWholeTurn(turn(1).slice(0, 3))).toBe(false); // ends on a tool result
    expect(isWholeTurn([turn(1)[0]!, turn(1)[1]!, turn(1)[3]!])).toBe(false); // toolUse without its result (and two assistants in a row)
    const wrongId = structuredClone(turn(1));
    wrongId[2]!.content![0]!.toolResult!.toolUseId = 'other';
    expect(isWholeTurn(wrongId)).toBe(false);
    expect(isWholeTurn([])).toBe(false);
  });
});

describe('boundHistory', () => {
  it('keeps the newest MAX_REMEMBERED_TURNS turns, oldest first, and the list starts with a user message and alternates', () => {
    const newestFirst = Array.from({ length: MAX_REMEMBERED_TURNS + 3 }, (_, i) => turn(MAX_REMEMBERED_TURNS + 3 - i));
    const history = boundHistory(newestFirst);
    expect(history).toHaveLength(MAX_REMEMBERED_TURNS * 4);
    expect(history[0]!.content).toEqual([{ text: 'Question 4?' }]);
    expect(history.at(-1)!.content).toEqual([{ text: `Answer ${MAX_REMEMBERED_TURNS + 3}.` }]);
    for (let i = 1; i < history.length; i++) expect(history[i]!.role).not.toBe(history[i - 1]!.role);
    expect(history[0]!.role).toBe('user');
  });

  it('drops the oldest turns beyond MAX_HISTORY_CHARS, whole: never half a tool pair', () => {
    const big = 'x'.repeat(Math.floor(MAX_HISTORY_CHARS / 3));
    const newestFirst = [turn(4, big), turn(3, big), turn(2, big), turn(1, big)];
    const history = boundHistory(newestFirst);
    expect(history.length % 4).toBe(0);
    expect(history.length).toBeLessThan(16);
    expect(history[0]!.content).toEqual([{ text: `Question ${5 - history.length / 4}?` }]);
    expect(JSON.stringify(history).length).toBeLessThanOrEqual(MAX_HISTORY_CHARS);
    // Control: small turns all fit.
    expect(boundHistory([turn(2), turn(1)])).toHaveLength(8);
  });

  it('a newest turn larger than the budget alone leaves no history rather than a broken one', () => {
    expect(boundHistory([turn(1, 'x'.repeat(MAX_HISTORY_CHARS))])).toEqual([]);
  });
});

describe('turnToStore: what is remembered', () => {
  it('stores the answer the asker was shown, tool calls with their declared parameters only, and no credential anywhere', () => {
    const run: Message[] = [
      { role: 'user', content: [{ text: 'Status of ord-2?' }] },
      {
        role: 'assistant',
        content: [
          { text: `thinking with ${SECRETS[1]}\u0007` },
          { toolUse: { toolUseId: 't1', name: 'getOrderStatus', input: { orderId: 'ord-2', tenantId: 'tenant2', userId: '*' } } },
        ],
      },
      { role: 'user', content: [{ toolResult: { toolUseId: 't1', content: [{ json: { orderId: 'ord-2', status: 'SHIPPED', note: SECRETS[2] } }], status: 'success' } }] },
      { role: 'assistant', content: [{ text: `raw model text with ${SECRETS[0]}` }] },
    ];
    const kept = turnToStore(run, 'Order ord-2 is SHIPPED.', SECRETS)!;
    expect(kept[1]!.content).toEqual([
      { text: 'thinking with [redacted]' },
      { toolUse: { toolUseId: 't1', name: 'getOrderStatus', input: { orderId: 'ord-2' } } },
    ]);
    expect(kept[2]!.content![0]!.toolResult!.content).toEqual([{ json: { orderId: 'ord-2', status: 'SHIPPED', note: '[redacted]' } }]);
    expect(kept.at(-1)).toEqual({ role: 'assistant', content: [{ text: 'Order ord-2 is SHIPPED.' }] });
    const text = JSON.stringify(kept);
    for (const secret of SECRETS) expect(text).not.toContain(secret);
    expect(text).not.toContain('tenant2');
    expect(isWholeTurn(kept)).toBe(true);
  });

  it('leaves out the tool results of a turn too large to store, keeping the pairs (control: a small turn keeps them)', () => {
    const huge = structuredClone(turn(1));
    huge[2]!.content![0]!.toolResult!.content = [{ json: { orders: [{ items: ['x'.repeat(MAX_TURN_CHARS)] }] } }];
    const kept = turnToStore(huge, 'Answer 1.', [])!;
    expect(kept[2]!.content![0]!.toolResult!.content).toEqual([{ json: { omitted: 'This tool result was too large to remember.' } }]);
    expect(isWholeTurn(kept)).toBe(true);
    expect(turnToStore(turn(1), 'Answer 1.', [])![2]!.content![0]!.toolResult!.content).toEqual([{ json: { orders: [] } }]);
  });

  it('refuses a run that is not a whole turn', () => {
    expect(turnToStore(turn(1).slice(0, 3), 'x', [])).toBeUndefined();
  });
});

describe('ConversationMemory with the scoped client', () => {
  it("queries the asker's partition for this conversation, newest first, and recalls the turns oldest first", async () => {
    const { m, dynamo } = memory();
    dynamo.on('QueryCommand', { Items: [stored(2, turn(2)), stored(1, turn(1))] });
    const history = await m.recall();
    expect(dynamo.calls[0]!.input).toEqual({
      TableName: 'conversations',
      KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :conversation)',
      ExpressionAttributeNames: { '#pk': 'askerKey', '#sk': 'turnKey' },
      ExpressionAttributeValues: { ':pk': 'tenant1#user-1', ':conversation': conversationPrefix('conv-1') },
      ScanIndexForward: false,
      Limit: MAX_REMEMBERED_TURNS + 1,
    });
    expect(history).toEqual([...turn(1), ...turn(2)]);
    dynamo.assertDone();
  });

  it('writes the turn after the newest with a TTL, on condition that the seq is free or its own', async () => {
    const { m, dynamo } = memory();
    dynamo.on('QueryCommand', { Items: [stored(2, turn(2))] }).on('PutItemCommand', {});
    await m.recall();
    await m.remember(turn(3), 'Answer 3.');
    const put = dynamo.calls[1]!.input as { Item: Record<string, unknown>; ConditionExpression: string };
    expect(put.Item).toEqual({
      askerKey: 'tenant1#user-1',
      turnKey: turnKey('conv-1', 3),
      seq: 3,
      answerId: 'user-1.a9',
      messages: JSON.stringify(turn(3)),
      writtenAt: NOW.toISOString(),
      expiresAt: NOW.getTime() / 1000 + CONVERSATION_TTL_SECONDS,
    });
    expect(put.ConditionExpression).toBe('attribute_not_exists(#sk) OR answerId = :answerId');
    dynamo.assertDone();
  });

  it('a retry of the same answer rewrites its own turn instead of recalling it (control: another answer is recalled)', async () => {
    const { m, dynamo } = memory();
    dynamo.on('QueryCommand', { Items: [stored(2, turn(2), ref.answerId), stored(1, turn(1))] }).on('PutItemCommand', {});
    expect(await m.recall()).toEqual(turn(1));
    await m.remember(turn(2), 'Answer 2.');
    expect((dynamo.calls[1]!.input as { Item: { seq: number } }).Item.seq).toBe(2);
  });

  it('a seq taken meanwhile by another answer of the conversation moves the turn to the next one', async () => {
    const { m, dynamo } = memory();
    dynamo.on('QueryCommand', { Items: [] }).on('PutItemCommand', awsError('ConditionalCheckFailedException', 400)).on('PutItemCommand', {});
    expect(await m.recall()).toEqual([]);
    await m.remember(turn(1), 'Answer 1.');
    expect(dynamo.calls.slice(1).map((c) => (c.input as { Item: { seq: number } }).Item.seq)).toEqual([1, 2]);
    dynamo.assertDone();
  });

  it('skips (and logs) a stored item that is not a whole turn of ours', async () => {
    const { m, dynamo, logs } = memory();
    dynamo.on('QueryCommand', { Items: [stored(3, turn(3)), { ...stored(2, turn(2)), messages: '{not json' }, stored(1, turn(1).slice(1))] });
    expect(await m.recall()).toEqual(turn(3));
    expect(logs).toEqual([{ level: 'warn', msg: 'conversation_memory.turn_skipped', turns: 2 }]);
  });

  it.each([
    ['denied (a policy bug must not pass as "no memory")', awsError('AccessDeniedException', 400), ErrorName.AgentFailed],
    ['throttled (retried by the state machine)', awsError('ProvisionedThroughputExceededException', 400), ErrorName.Throttled],
    ['unavailable', awsError('InternalServerError', 500), ErrorName.ServiceUnavailable],
  ])('fails the run when the read is %s', async (_, error, name) => {
    const { m, dynamo } = memory();
    dynamo.on('QueryCommand', error);
    const err = await rejection(m.recall());
    expect(err.name).toBe(name);
    expect(err.message).toMatch(/^Reading the conversation failed/);
  });

  it('a failed write is logged and the answer stands; a denied write fails the run', async () => {
    const throttled = memory();
    throttled.dynamo.on('QueryCommand', { Items: [] }).on('PutItemCommand', awsError('ProvisionedThroughputExceededException', 400));
    await throttled.m.recall();
    await throttled.m.remember(turn(1), 'Answer 1.');
    expect(throttled.logs).toEqual([{ level: 'warn', msg: 'conversation_memory.write_failed', error: 'ProvisionedThroughputExceededException' }]);

    const denied = memory();
    denied.dynamo.on('QueryCommand', { Items: [] }).on('PutItemCommand', awsError('AccessDeniedException', 400));
    await denied.m.recall();
    expect((await rejection(denied.m.remember(turn(1), 'Answer 1.'))).name).toBe(ErrorName.AgentFailed);
  });
});

describe('keys', () => {
  it('one prefix per conversation id, whatever it holds: `a` is not a prefix of `a#00000001`', () => {
    expect(conversationPrefix('a')).not.toBe(conversationPrefix('a#00000001'));
    expect(turnKey('a#00000001', 1).startsWith(conversationPrefix('a'))).toBe(false);
    expect(turnKey('a', 12)).toBe(`${conversationPrefix('a')}00000012`);
    // Keys sort by seq as strings.
    expect(turnKey('a', 9) < turnKey('a', 10)).toBe(true);
  });
});
