/**
 * The isolation matrix: tenant-scoped credentials, minted through STS exactly as the workflow
 * mints them, against every table, with keys that try every way across a boundary, and every
 * operation. IAM in the local edge (not our code) must deny each cross-boundary cell with
 * AccessDeniedException, while the own-data control cells return the caller's data.
 */
import {
  BatchGetItemCommand,
  DeleteItemCommand,
  DynamoDBClient,
  ExecuteStatementCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ScanCommand,
  TransactGetItemsCommand,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import { STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalUser } from '../infra/local/services/cognito/service.ts';
import { ensureTable, startLocalStack, type LocalStack } from '../infra/local/stack.ts';
import { operatorPolicy, taskRolePolicies, tenantAccessRolePolicy, tenantAccessRoleTrustPolicy } from '../tasks/policies.ts';
import { SEED_TENANTS } from '../tasks/seed.ts';
import { conversationPartition, ORDERS_KEYS } from '../tasks/tables.ts';
import { assumeTenantRole } from '../tasks/tenant-credentials.ts';

const CALLERS = ['tenant1-user', 'tenant1-user2', 'tenant2-user'] as const;
const TABLES = ['config', 'tenant1-orders', 'tenant2-orders', 'runs', 'conversations'] as const;
const KEYS = ['own', 'other-tenant', 'other-user', 'prefix-collision', 'empty', 'star', 'lookalike'] as const;
const OPS = ['GetItem', 'Query', 'BatchGetItem', 'Scan', 'PutItem', 'DeleteItem', 'ExecuteStatement'] as const;
type TableRef = (typeof TABLES)[number];
type KeyKind = (typeof KEYS)[number];
type Op = (typeof OPS)[number];

const LOOKALIKES: Record<string, string> = { a: '\u0430', e: '\u0435', c: '\u0441', o: '\u043e', '1': '\uff11', '2': '\uff12' };

/** The same string with its first look-alike-able character swapped for a Cyrillic or full-width twin. */
function lookalike(value: string): string {
  const i = [...value].findIndex((ch) => ch in LOOKALIKES);
  if (i < 0) throw new Error(`no look-alike for ${value}`);
  return value.slice(0, i) + LOOKALIKES[value[i]!] + value.slice(i + 1);
}

let stack: LocalStack;
let operator: DynamoDBClient;
const scoped = new Map<string, DynamoDBClient>();
/** An existing order id per user, so that the control GetItem hits a real item. */
const orderOf = new Map<string, string>();

/** A turn every conversations cell addresses (planted behind every key, so that a wrong allow returns data). */
const PLANTED_TURN = 'planted#00000001';

function tableName(ref: TableRef): string {
  if (ref === 'conversations') return stack.tables.conversations;
  return ref === 'config' ? stack.tables.config : ref === 'runs' ? stack.tables.runs : ref;
}

function schema(ref: TableRef): { pk: string; sk?: string } {
  if (ref === 'config') return { pk: 'tenantId' };
  if (ref === 'runs') return { pk: 'tenantId', sk: 'answerId' };
  if (ref === 'conversations') return { pk: 'askerKey', sk: 'turnKey' };
  return { pk: 'userId', sk: 'orderId' };
}

function otherTenantUser(caller: LocalUser): LocalUser {
  return stack.users.find((u) => u.tenantId !== caller.tenantId && (u.tenantId === 'tenant1' || u.tenantId === 'tenant2'))!;
}

function otherUser(caller: LocalUser): LocalUser {
  return stack.users.find((u) => u.tenantId === caller.tenantId && u.username !== caller.username) ?? stack.users.find((u) => u.username === 'tenant1-user2')!;
}

/** The partition key value a cell uses. "own" is the caller's own partition of that table. */
function keyFor(caller: LocalUser, ref: TableRef, kind: KeyKind): string {
  if (ref === 'conversations') return conversationKeyFor(caller, kind);
  const perTenant = ref === 'config' || ref === 'runs';
  const own = perTenant ? caller.tenantId : caller.sub;
  switch (kind) {
    case 'own':
      return own;
    case 'other-tenant':
      return perTenant ? otherTenantUser(caller).tenantId : otherTenantUser(caller).sub;
    case 'other-user':
      return otherUser(caller).sub;
    case 'prefix-collision':
      return `${own}0`; // tenant1 vs tenant10; <sub> vs <sub>0
    case 'empty':
      return '';
    case 'star':
      return '*';
    case 'lookalike':
      return lookalike(own);
  }
}

/** Conversations are keyed `<tenantId>#<userId>`: another user's or tenant's asker key, or near misses of one's own. */
function conversationKeyFor(caller: LocalUser, kind: KeyKind): string {
  const own = conversationPartition(caller.tenantId, caller.sub);
  switch (kind) {
    case 'own':
      return own;
    case 'other-tenant': {
      const other = otherTenantUser(caller);
      return conversationPartition(other.tenantId, other.sub);
    }
    case 'other-user':
      return conversationPartition(caller.tenantId, otherUser(caller).sub);
    case 'prefix-collision':
      return `${own}0`;
    case 'empty':
      return '';
    case 'star':
      return '*';
    case 'lookalike':
      return lookalike(own);
  }
}

function keyItem(caller: LocalUser, ref: TableRef, pkValue: string): Record<string, AttributeValue> {
  const { pk, sk } = schema(ref);
  const key: Record<string, AttributeValue> = { [pk]: { S: pkValue } };
  if (sk) key[sk] = { S: ref === 'runs' ? `${caller.sub}.a1` : ref === 'conversations' ? PLANTED_TURN : (orderOf.get(pkValue) ?? 'ord-00000000-000000') };
  return key;
}

async function runCell(client: DynamoDBClient, caller: LocalUser, ref: TableRef, op: Op, pkValue: string): Promise<number> {
  const TableName = tableName(ref);
  const { pk } = schema(ref);
  const Key = keyItem(caller, ref, pkValue);
  switch (op) {
    case 'GetItem':
      return (await client.send(new GetItemCommand({ TableName, Key }))).Item ? 1 : 0;
    case 'Query':
      return (
        await client.send(
          new QueryCommand({
            TableName,
            KeyConditionExpression: '#pk = :pk',
            ExpressionAttributeNames: { '#pk': pk },
            ExpressionAttributeValues: { ':pk': { S: pkValue } },
          }),
        )
      ).Count!;
    case 'BatchGetItem':
      return (await client.send(new BatchGetItemCommand({ RequestItems: { [TableName]: { Keys: [Key] } } }))).Responses?.[TableName]?.length ?? 0;
    case 'Scan':
      return (await client.send(new ScanCommand({ TableName }))).Count!;
    case 'PutItem':
      await client.send(new PutItemCommand({ TableName, Item: { ...Key, note: { S: 'written by an attacker' } } }));
      return 1;
    case 'DeleteItem':
      await client.send(new DeleteItemCommand({ TableName, Key }));
      return 1;
    case 'ExecuteStatement':
      return (
        await client.send(new ExecuteStatementCommand({ Statement: `SELECT * FROM "${TableName}" WHERE "${pk}" = ?`, Parameters: [{ S: pkValue }] }))
      ).Items!.length;
  }
}

/**
 * The only cells that may succeed: GetItem and Query of the caller's own config row and own orders
 * partition, and GetItem, Query and PutItem of the caller's own conversations. The isolation policy
 * grants nothing else, not even BatchGetItem of the same keys, nor deleting one's own turns.
 */
function isControlCell(caller: LocalUser, ref: TableRef, kind: KeyKind, op: Op): boolean {
  if (ref === 'conversations') return kind === 'own' && (op === 'GetItem' || op === 'Query' || op === 'PutItem');
  const readable = ref === 'config' || ref === `${caller.tenantId}-orders`;
  return readable && kind === 'own' && (op === 'GetItem' || op === 'Query');
}

beforeAll(async () => {
  stack = await startLocalStack({ port: 0, seedOrdersPerUser: 2 });
  operator = new DynamoDBClient(stack.clientConfig('operator'));
  const sts = new STSClient(stack.clientConfig('mint-credentials'));
  for (const username of CALLERS) {
    const u = stack.user(username);
    const creds = await assumeTenantRole(
      { tenantId: u.tenantId, userId: u.sub },
      { sts, tenantAccessRoleArn: stack.iam.resources.tenantAccessRoleArn, location: stack.iam.location, tables: stack.tables },
    );
    scoped.set(username, new DynamoDBClient(stack.clientConfig(creds)));
  }
  // Rows behind every forbidden key, written by the operator, so that a wrongly allowed read would
  // return data rather than nothing.
  const put = (TableName: string, Item: Record<string, AttributeValue>) => operator.send(new PutItemCommand({ TableName, Item }));
  for (const username of CALLERS) {
    const u = stack.user(username);
    const table = stack.tables.orders(u.tenantId);
    const own = await operator.send(
      new QueryCommand({ TableName: table, KeyConditionExpression: 'userId = :u', ExpressionAttributeValues: { ':u': { S: u.sub } } }),
    );
    orderOf.set(u.sub, own.Items![0]!.orderId!.S!);
    for (const variant of [`${u.sub}0`, lookalike(u.sub), '*']) {
      for (const t of ['tenant1-orders', 'tenant2-orders']) {
        await put(t, { userId: { S: variant }, orderId: { S: 'ord-planted' }, total: { N: '1' } });
        orderOf.set(variant, 'ord-planted');
      }
    }
  }
  for (const tenantId of ['tenant1', 'tenant2', 'tenant10', 'tenant20', lookalike('tenant1'), lookalike('tenant2'), '*']) {
    await put(stack.tables.config, { tenantId: { S: tenantId }, name: { S: `planted ${tenantId}` }, status: { S: 'ACTIVE' } });
    for (const u of stack.users) await put(stack.tables.runs, { tenantId: { S: tenantId }, answerId: { S: `${u.sub}.a1` }, error: { S: 'x' } });
  }
  for (const u of stack.users) {
    await put(stack.tables.config, { tenantId: { S: u.sub }, name: { S: 'planted by sub' } });
  }
  for (const username of CALLERS) {
    for (const kind of KEYS.filter((k) => k !== 'empty')) {
      const askerKey = conversationKeyFor(stack.user(username), kind);
      await put(stack.tables.conversations, { askerKey: { S: askerKey }, turnKey: { S: PLANTED_TURN }, planted: { S: askerKey } });
    }
  }
});

afterAll(async () => {
  for (const c of scoped.values()) c.destroy();
  operator?.destroy();
  await stack?.stop();
});

describe('tenant isolation matrix', () => {
  it('denies every cross-boundary cell with AccessDeniedException and serves the own-data control cells', async () => {
    const mismatches: string[] = [];
    let allowed = 0;
    let denied = 0;
    for (const username of CALLERS) {
      const caller = stack.user(username);
      const client = scoped.get(username)!;
      for (const ref of TABLES) {
        for (const kind of KEYS) {
          const pkValue = keyFor(caller, ref, kind);
          for (const op of OPS) {
            const cell = `${username} ${op} ${ref} key=${kind}`;
            const control = isControlCell(caller, ref, kind, op);
            try {
              const count = await runCell(client, caller, ref, op, pkValue);
              if (!control) mismatches.push(`${cell}: ALLOWED (returned ${count})`);
              else if (count < 1) mismatches.push(`${cell}: control cell returned no data`);
              else allowed++;
            } catch (err) {
              const e = err as Error;
              if (control) mismatches.push(`${cell}: control cell failed: ${e.name}: ${e.message}`);
              else if (e.name !== 'AccessDeniedException' || !/ is not authorized to perform: dynamodb:/.test(e.message)) {
                mismatches.push(`${cell}: expected AccessDeniedException, got ${e.name}: ${e.message}`);
              } else denied++;
            }
          }
        }
      }
    }
    const total = CALLERS.length * TABLES.length * KEYS.length * OPS.length;
    console.log(`isolation matrix: ${total} cells (${CALLERS.length} callers x ${TABLES.length} tables x ${KEYS.length} keys x ${OPS.length} operations): ${allowed} own-data control cells allowed, ${denied} cross-boundary cells denied with AccessDeniedException, ${mismatches.length} mismatches`);
    expect(mismatches).toEqual([]);
    // 2 reads (GetItem, Query) x 2 tables (config row, own orders) x 3 callers, and GetItem, Query,
    // PutItem of each caller's own conversations.
    expect(allowed).toBe(12 + 9);
    expect(denied).toBe(total - 21);
  });

  it('left every planted and seeded row in place (no write got through)', async () => {
    for (const username of CALLERS) {
      const u = stack.user(username);
      const got = await operator.send(new GetItemCommand({ TableName: stack.tables.orders(u.tenantId), Key: { userId: { S: u.sub }, orderId: { S: orderOf.get(u.sub)! } } }));
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
    const client = scoped.get('tenant1-user')!;
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
    const client = scoped.get('tenant2-user')!;
    const ownConfig = { Get: { TableName: stack.tables.config, Key: { tenantId: { S: 'tenant2' } } } };
    const ownOrder = { Get: { TableName: 'tenant2-orders', Key: { userId: { S: me.sub }, orderId: { S: orderOf.get(me.sub)! } } } };
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
    const client = scoped.get('tenant1-user')!;
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
    const tenant1 = scoped.get('tenant1-user')!;
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
