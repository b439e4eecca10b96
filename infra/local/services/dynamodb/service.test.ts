import { describe, expect, it } from 'vitest';
import { checksFor, checkContext, leadingKeysFromExpression, resourceArn, type KeyResolver } from './service.ts';
import { PolicyEvaluator } from '../../iam/evaluator.ts';
import type { Principal } from '../../iam/principals.ts';
import type { PolicyDocument } from '../../../../tasks/policies.ts';

const keys: KeyResolver = {
  partitionKey: async (name) => ({ 'tenant-config': 'tenantId', 'tenant1-orders': 'userId', 'tenant1-orders/index/byDate': 'orderDate' })[name],
};
const loc = { partition: 'aws', region: 'us-east-1', accountId: '000000000000' };

describe('leadingKeysFromExpression', () => {
  it('reads the partition key from names, values and either operand order', () => {
    const values = { ':u': { S: 'u1' }, ':d': { S: '2026' } };
    expect(leadingKeysFromExpression('userId = :u', 'userId', {}, values)).toEqual(['u1']);
    expect(leadingKeysFromExpression('#p = :u AND begins_with(orderId, :d)', 'userId', { '#p': 'userId' }, values)).toEqual(['u1']);
    expect(leadingKeysFromExpression(':u = #p', 'userId', { '#p': 'userId' }, values)).toEqual(['u1']);
    expect(leadingKeysFromExpression('(userId = :u) and orderId > :d', 'userId', {}, values)).toEqual(['u1']);
  });

  it('reports every partition a condition names, and none when it pins no partition', () => {
    const values = { ':a': { S: 'a' }, ':b': { S: 'b' } };
    expect(leadingKeysFromExpression('userId = :a AND userId = :b', 'userId', {}, values)).toEqual(['a', 'b']);
    expect(leadingKeysFromExpression('userId = :a OR userId = :b', 'userId', {}, values)).toBeUndefined();
    expect(leadingKeysFromExpression('orderId = :a', 'userId', {}, values)).toBeUndefined();
    expect(leadingKeysFromExpression('userId = :missing', 'userId', {}, values)).toBeUndefined();
    expect(leadingKeysFromExpression('userId BETWEEN :a AND :b', 'userId', {}, values)).toBeUndefined();
  });
});

describe('checksFor', () => {
  it('maps item operations to their action, table ARN and leading key', async () => {
    const [get] = await checksFor('GetItem', { TableName: 'tenant1-orders', Key: { userId: { S: 'u1' }, orderId: { S: 'o' } } }, keys);
    expect(get).toEqual({ action: 'dynamodb:GetItem', table: 'tenant1-orders', leadingKeys: ['u1'] });
    expect(resourceArn(loc, get!)).toBe('arn:aws:dynamodb:us-east-1:000000000000:table/tenant1-orders');
    expect(checkContext(get!)).toEqual({ 'dynamodb:LeadingKeys': ['u1'] });
    const [put] = await checksFor('PutItem', { TableName: 'tenant-config', Item: { tenantId: { S: 't1' }, x: { N: '1' } } }, keys);
    expect(put!.leadingKeys).toEqual(['t1']);
  });

  it('collects every key of a batch per table, so one foreign key taints the whole table check', async () => {
    const checks = await checksFor(
      'BatchGetItem',
      {
        RequestItems: {
          'tenant1-orders': { Keys: [{ userId: { S: 'me' }, orderId: { S: '1' } }, { userId: { S: 'you' }, orderId: { S: '2' } }] },
          'tenant-config': { Keys: [{ tenantId: { S: 'tenant1' } }] },
        },
      },
      keys,
    );
    expect(checks).toEqual([
      { action: 'dynamodb:BatchGetItem', table: 'tenant1-orders', leadingKeys: ['me', 'you'] },
      { action: 'dynamodb:BatchGetItem', table: 'tenant-config', leadingKeys: ['tenant1'] },
    ]);
  });

  it('gives Scan and PartiQL no leading keys, and names PartiQL tables and actions', async () => {
    expect(await checksFor('Scan', { TableName: 'tenant1-orders' }, keys)).toEqual([{ action: 'dynamodb:Scan', table: 'tenant1-orders' }]);
    expect(await checksFor('ExecuteStatement', { Statement: 'SELECT * FROM "tenant1-orders" WHERE userId = ?' }, keys)).toEqual([
      { action: 'dynamodb:PartiQLSelect', table: 'tenant1-orders' },
    ]);
    expect(await checksFor('ExecuteStatement', { Statement: 'delete from tenant-config where tenantId = ?' }, keys)).toEqual([
      { action: 'dynamodb:PartiQLDelete', table: 'tenant-config' },
    ]);
  });

  it('authorises a Query on an index against the index ARN and its own partition key', async () => {
    const [q] = await checksFor(
      'Query',
      { TableName: 'tenant1-orders', IndexName: 'byDate', KeyConditionExpression: 'orderDate = :d', ExpressionAttributeValues: { ':d': { S: '2026-01-01' } } },
      keys,
    );
    expect(q).toMatchObject({ index: 'byDate', leadingKeys: ['2026-01-01'] });
    expect(resourceArn(loc, q!)).toBe('arn:aws:dynamodb:us-east-1:000000000000:table/tenant1-orders/index/byDate');
  });

  it('maps transactions to per-item actions', async () => {
    const checks = await checksFor(
      'TransactWriteItems',
      { TransactItems: [{ Put: { TableName: 'tenant-config', Item: { tenantId: { S: 'a' } } } }, { Delete: { TableName: 'tenant-config', Key: { tenantId: { S: 'b' } } } }] },
      keys,
    );
    expect(checks.map((c) => [c.action, c.leadingKeys])).toEqual([
      ['dynamodb:PutItem', ['a']],
      ['dynamodb:DeleteItem', ['b']],
    ]);
  });

  it.each([
    ['a number for TableName', 'GetItem', { TableName: 5, Key: { tenantId: { S: 'a' } } }],
    ['a string for Key', 'GetItem', { TableName: 'tenant-config', Key: 'tenantId=a' }],
    ['a list for KeyConditions', 'Query', { TableName: 'tenant1-orders', KeyConditions: [] }],
    ['a number among ExpressionAttributeNames', 'Query', { TableName: 'tenant1-orders', KeyConditionExpression: '#p = :u', ExpressionAttributeNames: { '#p': 1 } }],
    ['an object for TransactItems', 'TransactWriteItems', { TransactItems: { Put: {} } }],
    ['a string in TransactItems', 'TransactWriteItems', { TransactItems: ['Put'] }],
    ['a number for a batch write list', 'BatchWriteItem', { RequestItems: { 'tenant-config': 5 } }],
    ['a string for a Statement', 'BatchExecuteStatement', { Statements: ['SELECT * FROM "tenant-config"'] }],
  ])('refuses %s with SerializationException, before looking up any table', async (_what, operation, body) => {
    const looked: string[] = [];
    const recording: KeyResolver = { partitionKey: async (name) => (looked.push(name), keys.partitionKey(name)) };
    await expect(checksFor(operation, body, recording)).rejects.toMatchObject({ name: 'SerializationException', status: 400 });
    expect(looked).toEqual([]);
  });

  it('reads null nested members as absent (no leading key), never as a crash', async () => {
    const [get] = await checksFor('TransactGetItems', { TransactItems: [null] }, keys);
    expect(get).toMatchObject({ action: 'dynamodb:GetItem', table: '', leadingKeys: undefined });
    const [batch] = await checksFor('BatchGetItem', { RequestItems: { 'tenant-config': null } }, keys);
    expect(batch).toMatchObject({ action: 'dynamodb:BatchGetItem', table: 'tenant-config', leadingKeys: [] });
  });
});

describe('LeadingKeys evaluation of a batch (policy that allows BatchGetItem on one partition)', () => {
  const policy: PolicyDocument = {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: 'dynamodb:BatchGetItem',
        Resource: 'arn:aws:dynamodb:us-east-1:000000000000:table/tenant1-orders',
        Condition: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['me'] }, Null: { 'dynamodb:LeadingKeys': 'false' } },
      },
    ],
  };
  const principal: Principal = {
    arn: 'arn:aws:sts::000000000000:assumed-role/r/s',
    ownerArn: 'arn:aws:iam::000000000000:role/r',
    userId: 'AROATEST:s',
    identityPolicies: [{ name: 'p', policy }],
    tags: {},
  };
  const evaluator = new PolicyEvaluator();
  const decide = async (leadingKeys: string[]) =>
    (
      await evaluator.evaluate({
        principal,
        action: 'dynamodb:BatchGetItem',
        resource: 'arn:aws:dynamodb:us-east-1:000000000000:table/tenant1-orders',
        context: { 'dynamodb:LeadingKeys': leadingKeys },
      })
    ).allowed;

  it('allows the own partition alone (control) and denies it mixed with another', async () => {
    expect(await decide(['me'])).toBe(true);
    expect(await decide(['me', 'you'])).toBe(false);
    expect(await decide(['me0'])).toBe(false);
  });
});
