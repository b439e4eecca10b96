/**
 * TransactWriteItems on the local DynamoDB (transact-write.ts), through the edge with the AWS SDK,
 * as the API's usage data source role (what admission signs as): all or nothing, one cancellation
 * reason per item, ConditionCheck writes nothing, two actions on one item refused, and each item
 * authorised as its own action.
 */
import { DynamoDBClient, GetItemCommand, TransactionCanceledException, TransactWriteItemsCommand, type TransactWriteItem } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../../stack.ts';

let stack: LocalStack;
let dynamo: DynamoDBClient;
let table: string;
beforeAll(async () => {
  stack = await startLocalStack({ port: 0, seedOrdersPerUser: 0 });
  dynamo = new DynamoDBClient(stack.clientConfig('appsync-usage-data-source'));
  table = stack.tables.usage;
});
afterAll(() => stack?.stop());

const key = (pk: string) => ({ pk: { S: pk }, sk: { S: 'X' } });
const add = (pk: string, below: number): TransactWriteItem => ({
  Update: {
    TableName: table,
    Key: key(pk),
    UpdateExpression: 'ADD #n :one',
    ConditionExpression: 'attribute_not_exists(#n) OR #n < :limit',
    ExpressionAttributeNames: { '#n': 'n' },
    ExpressionAttributeValues: { ':one': { N: '1' }, ':limit': { N: String(below) } },
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
  },
});
const n = async (pk: string) => (await dynamo.send(new GetItemCommand({ TableName: table, Key: key(pk), ConsistentRead: true }))).Item?.n?.N;

async function cancellation(items: TransactWriteItem[]) {
  try {
    await dynamo.send(new TransactWriteItemsCommand({ TransactItems: items }));
  } catch (err) {
    return err;
  }
  throw new Error('the transaction was not cancelled');
}

describe('TransactWriteItems on the local DynamoDB', () => {
  it('writes every item when every condition holds (control), and none when one fails, naming it in the cancellation reasons', async () => {
    await dynamo.send(new TransactWriteItemsCommand({ TransactItems: [add('a', 5), add('b', 1)] }));
    expect([await n('a'), await n('b')]).toEqual(['1', '1']);
    const err = await cancellation([add('a', 5), add('b', 1), add('c', 5)]);
    expect(err).toBeInstanceOf(TransactionCanceledException);
    const reasons = (err as TransactionCanceledException).CancellationReasons!;
    expect(reasons.map((r) => r.Code)).toEqual(['None', 'ConditionalCheckFailed', 'None']);
    expect(reasons[1]).toMatchObject({ Message: 'The conditional request failed', Item: { pk: { S: 'b' }, sk: { S: 'X' }, n: { N: '1' } } });
    expect((err as Error).message).toBe('Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed, None]');
    // All or nothing: a is unchanged, c was never created.
    expect([await n('a'), await n('b'), await n('c')]).toEqual(['1', '1', undefined]);
  });

  it('a ConditionCheck writes nothing, holding or failing', async () => {
    const operator = new DynamoDBClient(stack.clientConfig('operator'));
    const check = (pk: string, expression: string): TransactWriteItem => ({ ConditionCheck: { TableName: table, Key: key(pk), ConditionExpression: expression } });
    await operator.send(new TransactWriteItemsCommand({ TransactItems: [check('absent', 'attribute_not_exists(pk)'), add('d', 5)] }));
    expect((await dynamo.send(new GetItemCommand({ TableName: table, Key: key('absent') }))).Item).toBeUndefined();
    expect(await n('d')).toBe('1');
    const err = await operator.send(new TransactWriteItemsCommand({ TransactItems: [check('absent', 'attribute_exists(pk)'), add('d', 5)] })).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TransactionCanceledException);
    expect((err as TransactionCanceledException).CancellationReasons!.map((r) => r.Code)).toEqual(['ConditionalCheckFailed', 'None']);
    expect(await n('d')).toBe('1');
    operator.destroy();
  });

  it('authorises a ConditionCheck item as dynamodb:ConditionCheckItem: the admission data source role may not (it needs none; control: the operator may)', async () => {
    const operator = new DynamoDBClient(stack.clientConfig('operator'));
    const item: TransactWriteItem = { ConditionCheck: { TableName: table, Key: key('f'), ConditionExpression: 'attribute_not_exists(pk)' } };
    await expect(dynamo.send(new TransactWriteItemsCommand({ TransactItems: [item] }))).rejects.toMatchObject({
      name: 'AccessDeniedException',
      message: expect.stringContaining('dynamodb:ConditionCheckItem'),
    });
    await operator.send(new TransactWriteItemsCommand({ TransactItems: [item] }));
    operator.destroy();
  });

  it('refuses two actions on the same item (ValidationException), and writes nothing', async () => {
    await expect(dynamo.send(new TransactWriteItemsCommand({ TransactItems: [add('e', 5), add('e', 5)] }))).rejects.toMatchObject({
      name: 'ValidationException',
      message: 'Transaction request cannot include multiple operations on one item',
    });
    expect(await n('e')).toBeUndefined();
  });
});
