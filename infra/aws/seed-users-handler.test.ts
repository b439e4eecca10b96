import { describe, expect, it } from 'vitest';
import { SEED_USERS } from '../../tasks/seed.ts';
import type { Order } from '../../tasks/tables.ts';
import { handleSeedUsersEvent, type CustomResourceEvent, type SeedUsersDeps } from './seed-users-handler.ts';

const secrets = Object.fromEntries(SEED_USERS.map((u) => [u.username, `arn:aws:secretsmanager:us-east-1:111111111111:secret:s/${u.username}`]));

function event(requestType: CustomResourceEvent['RequestType']): CustomResourceEvent {
  return {
    RequestType: requestType,
    ResponseURL: 'https://cloudformation-response.example/abc',
    StackId: 'stack',
    RequestId: 'req-1',
    LogicalResourceId: 'SeedUsers',
    ...(requestType === 'Create' ? {} : { PhysicalResourceId: 'pool-seed-users' }),
    ResourceProperties: { UserPoolId: 'us-east-1_abc', TablePrefix: 'p-', PasswordSecrets: secrets, OrdersPerUser: '2' },
  };
}

/** Records every call; refuses anything it was not told about. */
function fakes(options: { failCreate?: boolean } = {}) {
  const created: Array<{ username: string; tenantId: string; temporaryPassword: string }> = [];
  const written: Array<{ tableName: string; orders: readonly Order[] }> = [];
  const responses: Array<{ url: string; body: Record<string, unknown> }> = [];
  const deps: SeedUsersDeps = {
    async readPassword(secretId) {
      const user = Object.entries(secrets).find(([, arn]) => arn === secretId)?.[0];
      if (!user) throw new Error(`unexpected secret ${secretId}`);
      return `pw-of-${user}`;
    },
    async createUser(input) {
      if (options.failCreate) throw new Error('UsernameExistsException');
      created.push(input);
      return `sub-${input.username}`;
    },
    async writeOrders(tableName, orders) {
      written.push({ tableName, orders });
    },
  };
  const respond = (async (url: string | URL | Request, init?: RequestInit) => {
    responses.push({ url: String(url), body: JSON.parse(String(init?.body)) as Record<string, unknown> });
    return new Response(null, { status: 200 });
  }) as typeof fetch;
  return { deps, respond, created, written, responses };
}

describe('seed users custom resource', () => {
  it('on create, creates each seeded user with the password from its secret and writes orders into its tenant table', async () => {
    const f = fakes();
    await handleSeedUsersEvent(event('Create'), f.deps, f.respond);
    expect(f.created).toEqual(SEED_USERS.map((u) => ({ userPoolId: 'us-east-1_abc', username: u.username, tenantId: u.tenantId, temporaryPassword: `pw-of-${u.username}` })));
    expect(f.written.map((w) => w.tableName)).toEqual(SEED_USERS.map((u) => `p-${u.tenantId}-orders`));
    for (const [i, w] of f.written.entries()) {
      expect(w.orders).toHaveLength(2);
      expect(new Set(w.orders.map((o) => o.userId))).toEqual(new Set([`sub-${SEED_USERS[i]!.username}`]));
    }
    expect(f.responses).toEqual([{ url: 'https://cloudformation-response.example/abc', body: expect.objectContaining({ Status: 'SUCCESS', RequestId: 'req-1' }) }]);
  });

  it('on update and delete, touches nothing and answers SUCCESS', async () => {
    for (const type of ['Update', 'Delete'] as const) {
      const f = fakes();
      await handleSeedUsersEvent(event(type), f.deps, f.respond);
      expect(f.created).toEqual([]);
      expect(f.responses[0]!.body).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: 'pool-seed-users' });
    }
  });

  it('answers FAILED (never silence) when seeding fails, without the password in the reason', async () => {
    const f = fakes({ failCreate: true });
    await handleSeedUsersEvent(event('Create'), f.deps, f.respond);
    expect(f.responses).toHaveLength(1);
    expect(f.responses[0]!.body).toMatchObject({ Status: 'FAILED', Reason: 'Error: UsernameExistsException' });
    expect(JSON.stringify(f.responses)).not.toContain('pw-of-');
  });
});
