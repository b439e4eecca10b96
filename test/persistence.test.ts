/**
 * Persisted mode: data, users, local keys and the seal key survive a restart of the stack; the
 * in-memory mode (the control) does not keep them.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DecryptCommand, EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, describe, expect, it } from 'vitest';
import { localEnvOf } from '../infra/local/local-env.ts';
import { ordersCommand } from '../infra/local/cli/orders.ts';
import { SEAL_KEY_ALIAS } from '../infra/local/iam/principals.ts';
import { startLocalStack } from '../infra/local/stack.ts';
import { SEED_TENANTS, SEED_USERS } from '../tasks/seed.ts';
import { ask, historyOf, recordEvents, statesEntered } from './workflow-helpers.ts';
import { runCommand } from './cli-helpers.ts';
import { tenantsCommand } from '../client/cli/tenants.ts';
import { usersCommand } from '../client/cli/users.ts';
import { writeLocalEnv } from '../client/cli/targets.ts';
import { writeLocalUsers } from '../infra/local/services/cognito/service.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('persisted local stack', () => {
  it('keeps orders, users, principal keys and the seal key across a restart', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'assistant-persist-'));
    dirs.push(dataDir);
    const context = { tenantId: 'tenant1', userId: 'u-1', answerId: 'u-1.a' };

    const first = await startLocalStack({ port: 0, dataDir });
    expect(first.seeded).toBe(true);
    const firstEnv = localEnvOf(first, true);
    const added = await ordersCommand(firstEnv, 'tenant1-user2', 'add');
    const kms1 = new KMSClient(first.clientConfig('mint-credentials'));
    const sealed = await kms1.send(new EncryptCommand({ KeyId: SEAL_KEY_ALIAS, Plaintext: Buffer.from('sealed before restart'), EncryptionContext: context }));
    kms1.destroy();
    const events = recordEvents(first);
    const asked = await ask(first, events, 'tenant2-user', "What's your return policy?");
    expect(asked.status).toBe('SUCCEEDED');
    await first.stop();

    const second = await startLocalStack({ port: 0, dataDir });
    try {
      expect(second.seeded).toBe(false);
      expect(second.users).toEqual(first.users);
      // The operator's keys from before the restart still sign valid requests (only the port moved).
      const env = { ...firstEnv, endpoints: { edge: second.edgeUrl, graphql: second.graphqlUrl, realtime: second.realtimeUrl } };
      const listed = await ordersCommand(env, 'tenant1-user2', 'list');
      expect(listed.orders.map((o) => o.orderId)).toContain(added.orders[0]!.orderId);
      const kms2 = new KMSClient(second.clientConfig('invoke-agent'));
      const opened = await kms2.send(new DecryptCommand({ CiphertextBlob: sealed.CiphertextBlob, EncryptionContext: context }));
      kms2.destroy();
      expect(Buffer.from(opened.Plaintext!).toString()).toBe('sealed before restart');
      // The execution and its history are still there for operators.
      const history = await historyOf(second, asked.executionArn);
      expect(statesEntered(history)).toEqual(['ValidateContext', 'MintCredentials', 'InvokeAgent', 'PublishAnswer']);
    } finally {
      await second.stop();
    }
  });

  it('adds the seed tenants and users it lacks on every start, and never changes existing ones', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'assistant-reseed-'));
    dirs.push(dataDir);
    const first = await startLocalStack({ port: 0, dataDir });
    // An operator's change to a seeded tenant's row, and an order of a seeded user, made after seeding.
    const operator = DynamoDBDocumentClient.from(new DynamoDBClient(first.clientConfig('operator')));
    await operator.send(new UpdateCommand({ TableName: first.tables.config, Key: { tenantId: 'tenant1' }, UpdateExpression: 'SET returnPolicyDays = :d', ExpressionAttributeValues: { ':d': 14 } }));
    operator.destroy();
    const order = await ordersCommand(localEnvOf(first, true), 'tenant1-user', 'add');
    await first.stop();

    const tenant4 = { tenantId: 'tenant4', name: 'Tenant Four Garden', returnPolicyDays: 40, plan: 'basic' as const };
    const seed = { tenants: [...SEED_TENANTS, tenant4], users: [...SEED_USERS, { username: 'tenant4-user', tenantId: 'tenant4' }] };
    const second = await startLocalStack({ port: 0, dataDir, seed, retryIntervalOverrides: 0 });
    try {
      expect(second.seeded).toBe(true);
      const events = recordEvents(second);
      const asked = await ask(second, events, 'tenant4-user', "What's your return policy?");
      expect(asked.events).toEqual([expect.objectContaining({ status: 'DONE', text: 'You can return items within 40 days.' })]);
      // Control: what existed is unchanged: users (and their subs), the operator's row, the order.
      expect(second.users.slice(0, first.users.length)).toEqual(first.users);
      expect((await ask(second, events, 'tenant1-user', "What's your return policy?")).events[0]!.text).toBe('You can return items within 14 days.');
      const env = { ...localEnvOf(first, true), endpoints: { edge: second.edgeUrl, graphql: second.graphqlUrl, realtime: second.realtimeUrl } };
      expect((await ordersCommand(env, 'tenant1-user', 'list')).orders).toEqual(order.orders);
    } finally {
      await second.stop();
    }
    // A third start with the same lists adds nothing.
    const third = await startLocalStack({ port: 0, dataDir, seed });
    try {
      expect(third.seeded).toBe(false);
      expect(third.users.map((u) => u.sub)).toEqual(second.users.map((u) => u.sub));
    } finally {
      await third.stop();
    }
  });

  it('does not add again a seed tenant or user an operator removed, while a new seed entry is added', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'assistant-removed-seed-'));
    dirs.push(dataDir);
    const first = await startLocalStack({ port: 0, dataDir, retryIntervalOverrides: 0 });
    await writeLocalEnv(localEnvOf(first, true), dataDir);
    await writeLocalUsers(dataDir, first.cognito);
    const cli = (command: typeof tenantsCommand, ...args: string[]) => runCommand(command, ['--data-dir', dataDir, ...args], {});
    expect((await cli(tenantsCommand, 'remove', 'tenant3', '--yes')).code).toBe(0);
    const removedSub = first.user('tenant1-user2').sub;
    const removedUser = await cli(usersCommand, 'remove', 'tenant1-user2');
    expect(removedUser.code).toBe(0);
    expect(removedUser.stdout).toContain(`Their orders stay in tenant1's orders table under user id ${removedSub}`);
    await first.stop();

    const tenant5 = { tenantId: 'tenant5', name: 'Tenant Five Tools', returnPolicyDays: 50, plan: 'basic' as const };
    const seed = { tenants: [...SEED_TENANTS, tenant5], users: [...SEED_USERS, { username: 'tenant5-user', tenantId: 'tenant5' }] };
    const second = await startLocalStack({ port: 0, dataDir, seed, retryIntervalOverrides: 0 });
    try {
      await writeLocalEnv(localEnvOf(second, true), dataDir);
      const stores = JSON.parse((await cli(tenantsCommand, 'list', '--json')).stdout) as { tenantId: string }[];
      expect(stores.map((t) => t.tenantId)).toEqual(['tenant1', 'tenant2', 'tenant5']);
      expect(second.users.map((u) => u.username)).not.toContain('tenant1-user2');
      const ddb = new DynamoDBClient(second.clientConfig('operator'));
      await expect(ddb.send(new DescribeTableCommand({ TableName: 'tenant3-orders' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
      ddb.destroy();
      // Control: the entries new to the seed lists were added, and their user can ask.
      const events = recordEvents(second);
      const asked = await ask(second, events, 'tenant5-user', "What's your return policy?");
      expect(asked.events).toEqual([expect.objectContaining({ status: 'DONE', text: 'You can return items within 50 days.' })]);
    } finally {
      await second.stop();
    }
  });

  it('control: an in-memory stack starts empty again', async () => {
    const first = await startLocalStack({ port: 0 });
    const added = await ordersCommand(localEnvOf(first, false), 'tenant1-user2', 'add');
    await first.stop();
    const second = await startLocalStack({ port: 0 });
    try {
      expect(second.seeded).toBe(true);
      expect(second.users.map((u) => u.sub)).not.toEqual(first.users.map((u) => u.sub));
      const listed = await ordersCommand(localEnvOf(second, false), 'tenant1-user2', 'list');
      expect(listed.orders.map((o) => o.orderId)).not.toContain(added.orders[0]!.orderId);
    } finally {
      await second.stop();
    }
  });
});

describe('npm run orders (operator, through the edge)', () => {
  it('adds, lists and clears one user\'s orders in that user\'s tenant table only', async () => {
    const stack = await startLocalStack({ port: 0 });
    try {
      const env = localEnvOf(stack, false);
      // Seeded users start with no orders: give tenant1-user2 one, to see it untouched below.
      const other = await ordersCommand(env, 'tenant1-user2', 'add');
      const before2 = await ordersCommand(env, 'tenant2-user', 'list');
      const added = await ordersCommand(env, 'tenant1-user', 'add', 3);
      expect(added.table).toBe('tenant1-orders');
      expect(added.orders).toHaveLength(3);
      const listed = await ordersCommand(env, 'tenant1-user', 'list');
      expect(listed.orders.length).toBeGreaterThanOrEqual(3);
      expect(listed.orders.every((o) => o.userId === stack.user('tenant1-user').sub)).toBe(true);
      const cleared = await ordersCommand(env, 'tenant1-user', 'clear');
      expect(cleared.deleted).toBe(listed.orders.length);
      expect((await ordersCommand(env, 'tenant1-user', 'list')).orders).toEqual([]);
      // Another tenant's table and the other tenant1 user's orders are untouched.
      expect((await ordersCommand(env, 'tenant2-user', 'list')).orders).toEqual(before2.orders);
      expect((await ordersCommand(env, 'tenant1-user2', 'list')).orders).toEqual(other.orders);
      await expect(ordersCommand(env, 'nobody', 'list')).rejects.toThrow(/Unknown user 'nobody'/);
    } finally {
      await stack.stop();
    }
  });
});
