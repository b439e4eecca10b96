/**
 * The isolation matrix: tenant-scoped credentials, minted through STS exactly as the workflow
 * mints them, against every table, with keys that try every way across a boundary, and every
 * operation. IAM in the local edge (not our code) must deny each cross-boundary cell with
 * AccessDeniedException, while the own-data control cells return the caller's data.
 */
import { DynamoDBClient, GetItemCommand, PutItemCommand, QueryCommand, ScanCommand, TransactGetItemsCommand } from '@aws-sdk/client-dynamodb';
import { STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTable, startLocalStack, type LocalStack } from '../infra/local/stack.ts';
import { operatorPolicy, taskRolePolicies, tenantAccessRolePolicy, tenantAccessRoleTrustPolicy } from '../tasks/policies.ts';
import { SEED_TENANTS } from '../tasks/seed.ts';
import { conversationPartition, ORDERS_KEYS } from '../tasks/tables.ts';
import { assumeTenantRole } from '../tasks/tenant-credentials.ts';
import { CONTROL_CELLS_PER_CALLER, IsolationMatrix } from './isolation-matrix.ts';

const CALLERS = ['tenant1-user', 'tenant1-user2', 'tenant2-user'] as const;

let stack: LocalStack;
let operator: DynamoDBClient;
let matrix: IsolationMatrix;
const scopedClient = (username: string) => matrix.client(username);
const orderOf = (sub: string) => matrix.orderOf.get(sub)!;

beforeAll(async () => {
  stack = await startLocalStack({ port: 0, seedOrdersPerUser: 2 });
  operator = new DynamoDBClient(stack.clientConfig('operator'));
  matrix = await IsolationMatrix.prepare({ stack, operator, callers: CALLERS.map((u) => stack.user(u)), population: stack.users, tenants: ['tenant1', 'tenant2'] });
});

afterAll(async () => {
  await matrix?.cleanup();
  operator?.destroy();
  await stack?.stop();
});

describe('tenant isolation matrix', () => {
  it('denies every cross-boundary cell with AccessDeniedException and serves the own-data control cells', async () => {
    const r = await matrix.run();
    console.log(r.summary);
    expect(r.mismatches).toEqual([]);
    // 2 reads (GetItem, Query) x 2 tables (config row, own orders) x 3 callers, and GetItem, Query,
    // PutItem of each caller's own conversations.
    expect(r.total).toBe(3 * 6 * 7 * 7);
    expect(r.allowed).toBe(CALLERS.length * CONTROL_CELLS_PER_CALLER);
    expect(r.denied).toBe(r.total - r.allowed);
  });

  it('left every planted and seeded row in place (no write got through)', async () => {
    for (const username of CALLERS) {
      const u = stack.user(username);
      const got = await operator.send(new GetItemCommand({ TableName: stack.tables.orders(u.tenantId), Key: { userId: { S: u.sub }, orderId: { S: orderOf(u.sub) } } }));
      expect(got.Item?.note).toBeUndefined();
      expect(got.Item?.userId?.S).toBe(u.sub);
    }
    const config = await operator.send(new ScanCommand({ TableName: stack.tables.config }));
    expect(config.Items!.some((i) => i.note)).toBe(false);
    // Conversations: only the callers' own turns were written (their control cells), no one else's.
    const turns = await operator.send(new ScanCommand({ TableName: stack.tables.conversations }));
    const owners = new Set(CALLERS.map((c) => conversationPartition(stack.user(c).tenantId, stack.user(c).sub)));
    const written = turns.Items!.filter((i) => i.note).map((i) => i.askerKey!.S!);
    expect(new Set(written)).toEqual(owners);
    expect(turns.Items!.filter((i) => !owners.has(i.askerKey!.S!)).length).toBeGreaterThan(0);
  });

  it('control: the operator can read what the tenant sessions were denied, so the denials are not empty tables', async () => {
    const t10 = await operator.send(new GetItemCommand({ TableName: stack.tables.config, Key: { tenantId: { S: 'tenant10' } } }));
    expect(t10.Item?.name?.S).toBe('planted tenant10');
    const other = stack.user('tenant1-user2');
    const orders = await operator.send(
      new QueryCommand({ TableName: 'tenant1-orders', KeyConditionExpression: 'userId = :u', ExpressionAttributeValues: { ':u': { S: other.sub } } }),
    );
    expect(orders.Count).toBeGreaterThan(0);
  });
});

describe('requests that try to smuggle a second key past LeadingKeys', () => {
  const expectDenied = async (p: Promise<unknown>) => {
    await expect(p).rejects.toMatchObject({ name: 'AccessDeniedException' });
  };

  it('a Query whose key condition names two partitions is denied', async () => {
    const me = stack.user('tenant1-user');
    const other = stack.user('tenant1-user2');
    const client = scopedClient('tenant1-user');
    for (const KeyConditionExpression of ['userId = :a AND userId = :b', 'userId = :a OR userId = :b']) {
      await expectDenied(
        client.send(
          new QueryCommand({
            TableName: 'tenant1-orders',
            KeyConditionExpression,
            ExpressionAttributeValues: { ':a': { S: me.sub }, ':b': { S: other.sub } },
          }),
        ),
      );
    }
  });

  it('TransactGetItems reaching another tenant is denied, even beside an own item; the same call on own data reads the rows', async () => {
    const me = stack.user('tenant2-user');
    expect(me.tenantId).toBe('tenant2');
    const client = scopedClient('tenant2-user');
    const ownConfig = { Get: { TableName: stack.tables.config, Key: { tenantId: { S: 'tenant2' } } } };
    const ownOrder = { Get: { TableName: 'tenant2-orders', Key: { userId: { S: me.sub }, orderId: { S: orderOf(me.sub) } } } };
    const own = await client.send(new TransactGetItemsCommand({ TransactItems: [ownConfig, ownOrder] }));
    expect(own.Responses?.map((r) => r.Item?.tenantId?.S ?? r.Item?.userId?.S)).toEqual(['tenant2', me.sub]);
    await expectDenied(
      client.send(new TransactGetItemsCommand({ TransactItems: [{ Get: { TableName: stack.tables.config, Key: { tenantId: { S: 'tenant1' } } } }] })),
    );
    await expectDenied(
      client.send(new TransactGetItemsCommand({ TransactItems: [ownConfig, { Get: { TableName: 'tenant1-orders', Key: { userId: { S: me.sub }, orderId: { S: 'ord-planted' } } } }] })),
    );
  });

  it("conversation keys that mix one's own user id with another tenant, or extend one's own key, are denied; one's own key is served (control)", async () => {
    const me = stack.user('tenant1-user');
    const client = scopedClient('tenant1-user');
    const query = (askerKey: string) =>
      client.send(
        new QueryCommand({
          TableName: stack.tables.conversations,
          KeyConditionExpression: 'askerKey = :k',
          ExpressionAttributeValues: { ':k': { S: askerKey } },
        }),
      );
    for (const askerKey of [conversationPartition('tenant2', me.sub), `${conversationPartition(me.tenantId, me.sub)}#x`, `tenant1#${me.sub.slice(0, -1)}`, me.sub]) {
      await expectDenied(query(askerKey));
    }
    expect((await query(conversationPartition(me.tenantId, me.sub))).Count).toBeGreaterThan(0);
  });
});

describe('a tenant created after start (tenant4), with the policies unchanged', () => {
  const TENANT4_USER = 'tenant4-user-sub';
  let tenant4: DynamoDBClient;

  const mint = async (tenantId: string, userId: string) => {
    const sts = new STSClient(stack.clientConfig('mint-credentials'));
    try {
      const creds = await assumeTenantRole({ tenantId, userId }, { sts, tenantAccessRoleArn: stack.iam.resources.tenantAccessRoleArn, location: stack.iam.location, tables: stack.tables });
      return new DynamoDBClient(stack.clientConfig(creds));
    } finally {
      sts.destroy();
    }
  };
  const queryOrders = (client: DynamoDBClient, tenantId: string, userId: string) =>
    client.send(new QueryCommand({ TableName: stack.tables.orders(tenantId), KeyConditionExpression: 'userId = :u', ExpressionAttributeValues: { ':u': { S: userId } } }));

  beforeAll(async () => {
    // What onboarding does, as the operator: the table by the orders name, the config row, an order.
    expect(await ensureTable(operator, stack.tables.orders('tenant4'), ORDERS_KEYS)).toBe(true);
    await operator.send(new PutItemCommand({ TableName: stack.tables.config, Item: { tenantId: { S: 'tenant4' }, name: { S: 'Tenant Four' }, status: { S: 'ACTIVE' } } }));
    await operator.send(new PutItemCommand({ TableName: stack.tables.orders('tenant4'), Item: { userId: { S: TENANT4_USER }, orderId: { S: 'ord-t4' }, total: { N: '4' } } }));
    tenant4 = await mint('tenant4', TENANT4_USER);
  });
  afterAll(() => tenant4?.destroy());

  it('names no tenant in any policy: the tenant access role, the task roles and the operator work for tenants not yet created', () => {
    const documents = [tenantAccessRolePolicy(stack.iam.resources), tenantAccessRoleTrustPolicy(stack.iam.resources), operatorPolicy(stack.iam.resources), ...Object.values(taskRolePolicies(stack.iam.resources))];
    const text = JSON.stringify(documents);
    for (const { tenantId } of [...SEED_TENANTS, { tenantId: 'tenant4' }]) expect(text).not.toContain(tenantId);
    // Control: the text is the policies' (the orders tables are named by their pattern).
    expect(text).toContain(`table/${stack.tables.orders('*')}`);
  });

  it("serves tenant4's credentials their own orders and config row", async () => {
    expect((await queryOrders(tenant4, 'tenant4', TENANT4_USER)).Items?.map((i) => i.orderId?.S)).toEqual(['ord-t4']);
    const config = await tenant4.send(new GetItemCommand({ TableName: stack.tables.config, Key: { tenantId: { S: 'tenant4' } } }));
    expect(config.Item?.name?.S).toBe('Tenant Four');
  });

  it("denies tenant1's credentials tenant4's table, whatever the key", async () => {
    const tenant1 = scopedClient('tenant1-user');
    const me = stack.user('tenant1-user');
    for (const userId of [TENANT4_USER, me.sub]) {
      await expect(queryOrders(tenant1, 'tenant4', userId)).rejects.toMatchObject({ name: 'AccessDeniedException' });
    }
    // Control: the same credentials read their own tenant's orders.
    expect((await queryOrders(tenant1, 'tenant1', me.sub)).Count).toBeGreaterThan(0);
  });

  it("denies tenant4's credentials tenant1's table and config row", async () => {
    const other = stack.user('tenant1-user');
    for (const userId of [other.sub, TENANT4_USER]) {
      await expect(queryOrders(tenant4, 'tenant1', userId)).rejects.toMatchObject({ name: 'AccessDeniedException' });
    }
    await expect(tenant4.send(new GetItemCommand({ TableName: stack.tables.config, Key: { tenantId: { S: 'tenant1' } } }))).rejects.toMatchObject({ name: 'AccessDeniedException' });
  });

  it('lets the operator administer orders tables by their name pattern only', async () => {
    // Control for the pattern: a table outside it (no -orders suffix) is refused to the operator.
    await expect(ensureTable(operator, 'tenant4-archive', ORDERS_KEYS)).rejects.toMatchObject({ name: 'AccessDeniedException' });
    const got = await operator.send(new GetItemCommand({ TableName: stack.tables.orders('tenant4'), Key: { userId: { S: TENANT4_USER }, orderId: { S: 'ord-t4' } } }));
    expect(got.Item?.total?.N).toBe('4');
  });
});
