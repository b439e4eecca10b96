/**
 * Seeding the local stack's store, resumable: a start adds what the seed lists (tasks/seed.ts) and
 * the store lacks, and records each entry in stack.json's `seeded` as soon as that entry is complete,
 * with the orders still owed to the users being added in `seeding` (the journal). Every step is
 * idempotent (a table is created unless it exists, a config row is put unless it exists, a user's
 * orders are topped up to the planned count), so a start killed at any point leaves a state the next
 * start completes, whatever its own options: it finishes the entries not yet recorded.
 */
import { ConditionalCheckFailedException, CreateTableCommand, DescribeTableCommand, DynamoDBClient, ResourceNotFoundException, type CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DynamoDBDocumentClient, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { randomOrder, tenantConfigItem, type SeedTenant, type SeedUser } from '../../tasks/seed.ts';
import { CLAIMS_KEYS, CONFIG_KEYS, CONVERSATIONS_KEYS, ORDERS_KEYS, RUNS_KEYS, type KeySchema, type TableNames } from '../../tasks/tables.ts';
import { USAGE_KEYS } from '../../tasks/usage.ts';
import type { LocalUser } from './services/cognito/service.ts';

/** The seed entries added to a data directory, each recorded once complete (stack.json's `seeded`). */
export interface SeededRecord {
  tenants: string[];
  users: string[];
}

/** The seeding in progress (stack.json's `seeding`): the orders each seed user being added is to have. */
export interface SeedingJournal {
  orders: Record<string, number>;
}

/** What a start seeds: the tenants not yet recorded, and the seed users not yet recorded with their orders. */
export interface SeedPlan {
  tenants: readonly SeedTenant[];
  users: readonly { user: LocalUser; orders: number }[];
}

/**
 * The entries of the seed lists not in `seeded`: tenants (orders table, config row), and users of
 * the pool (`users`: added at this start, or at an interrupted one) with the orders they are owed:
 * the journal's count (an interrupted start's plan), else `ordersPerUser`.
 */
export function seedPlan(
  lists: { tenants: readonly SeedTenant[]; users: readonly SeedUser[] },
  users: readonly LocalUser[],
  seeded: SeededRecord,
  journal: SeedingJournal | undefined,
  ordersPerUser: number,
): SeedPlan {
  return {
    tenants: lists.tenants.filter((t) => !seeded.tenants.includes(t.tenantId)),
    users: users
      .filter((u) => lists.users.some((s) => s.username === u.username) && !seeded.users.includes(u.username))
      .map((user) => ({ user, orders: journal?.orders[user.username] ?? ordersPerUser })),
  };
}

/** A finished step: a table ensured, a tenant or a user complete, or a batch of a user's orders written. */
export type SeedStep =
  | { kind: 'table'; table: string }
  | { kind: 'tenant'; tenantId: string }
  | { kind: 'orders'; username: string; written: number }
  | { kind: 'user'; username: string };

/** The step's name, as `npm start`'s LOCAL_STACK_PAUSE_AT names it: `table:<name>`, `tenant:<id>`, `orders:<username>:<n>`, `user:<username>`. */
export function seedStepName(step: SeedStep): string {
  switch (step.kind) {
    case 'table':
      return `table:${step.table}`;
    case 'tenant':
      return `tenant:${step.tenantId}`;
    case 'orders':
      return `orders:${step.username}:${step.written}`;
    default:
      return `user:${step.username}`;
  }
}

function tableInput(name: string, keys: KeySchema): CreateTableCommandInput {
  const attrs = [keys.partitionKey, ...(keys.sortKey ? [keys.sortKey] : [])];
  return {
    TableName: name,
    BillingMode: 'PAY_PER_REQUEST',
    KeySchema: [
      { AttributeName: keys.partitionKey, KeyType: 'HASH' },
      ...(keys.sortKey ? [{ AttributeName: keys.sortKey, KeyType: 'RANGE' as const }] : []),
    ],
    AttributeDefinitions: attrs.map((a) => ({ AttributeName: a, AttributeType: 'S' as const })),
  };
}

/** Creates a table unless it exists; true when it was created. */
export async function ensureTable(ddb: DynamoDBClient, name: string, keys: KeySchema): Promise<boolean> {
  try {
    await ddb.send(new DescribeTableCommand({ TableName: name }));
    return false;
  } catch (err) {
    if (!(err instanceof ResourceNotFoundException)) throw err;
  }
  await ddb.send(new CreateTableCommand(tableInput(name, keys)));
  return true;
}

/**
 * Adds what the plan holds and the store lacks, as the operator through the edge: the tables, each
 * planned tenant's orders table and config row (a conditional put: an existing row, which operators
 * may have changed since, is never overwritten), and each planned user's orders up to their count.
 * `done` is told each finished step (the stack records it before seeding goes on). True when
 * anything was added.
 */
export async function seedStore(ddb: DynamoDBClient, tables: TableNames, plan: SeedPlan, done: (step: SeedStep) => Promise<void>): Promise<boolean> {
  const doc = DynamoDBDocumentClient.from(ddb, { marshallOptions: { removeUndefinedValues: true } });
  let added = false;
  const ensure = async (name: string, keys: KeySchema) => {
    if (await ensureTable(ddb, name, keys)) added = true;
    await done({ kind: 'table', table: name });
  };
  try {
    await ensure(tables.config, CONFIG_KEYS);
    await ensure(tables.runs, RUNS_KEYS);
    // dynalite has no Time to Live: expired claims stay, and the claim's condition treats them as free.
    await ensure(tables.claims, CLAIMS_KEYS);
    // Likewise for conversation turns: the memory reads the newest turns only and skips expired ones.
    await ensure(tables.conversations, CONVERSATIONS_KEYS);
    await ensure(tables.usage, USAGE_KEYS);
    for (const tenant of plan.tenants) {
      await ensure(tables.orders(tenant.tenantId), ORDERS_KEYS);
      try {
        await doc.send(
          new PutCommand({
            TableName: tables.config,
            Item: tenantConfigItem(tenant, tables),
            ConditionExpression: 'attribute_not_exists(#tenantId)',
            ExpressionAttributeNames: { '#tenantId': CONFIG_KEYS.partitionKey },
          }),
        );
        added = true;
      } catch (err) {
        if (!(err instanceof ConditionalCheckFailedException)) throw err;
      }
      await done({ kind: 'tenant', tenantId: tenant.tenantId });
    }
    for (const { user, orders } of plan.users) {
      if (await topUpOrders(doc, tables.orders(user.tenantId), user, orders, done)) added = true;
      await done({ kind: 'user', username: user.username });
    }
  } finally {
    ddb.destroy();
  }
  return added;
}

/** Writes random orders for `user` until their table holds `count` of theirs (those of an interrupted start count); true when any was written. */
async function topUpOrders(doc: DynamoDBDocumentClient, table: string, user: LocalUser, count: number, done: (step: SeedStep) => Promise<void>): Promise<boolean> {
  if (count <= 0) return false;
  let existing = 0;
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: '#u = :u',
        ExpressionAttributeNames: { '#u': ORDERS_KEYS.partitionKey },
        ExpressionAttributeValues: { ':u': user.sub },
        Select: 'COUNT',
        ...(startKey ? { ExclusiveStartKey: startKey } : {}),
      }),
    );
    existing += page.Count ?? 0;
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  const orders = Array.from({ length: Math.max(0, count - existing) }, () => randomOrder(user.sub));
  for (let i = 0; i < orders.length; i += 25) {
    const out = await doc.send(new BatchWriteCommand({ RequestItems: { [table]: orders.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })) } }));
    if (Object.keys(out.UnprocessedItems ?? {}).length > 0) throw new Error('Seeding orders left unprocessed items');
    await done({ kind: 'orders', username: user.username, written: existing + Math.min(i + 25, orders.length) });
  }
  return orders.length > 0;
}
