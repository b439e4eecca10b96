import { describe, expect, it } from 'vitest';
import { SEED_USERS } from '../../tasks/seed.ts';
import { AdminCreateUserCommand, AdminGetUserCommand, AdminSetUserPasswordCommand, UsernameExistsException } from '@aws-sdk/client-cognito-identity-provider';
import { awsDeps, handleSeedUsersEvent, type CustomResourceEvent, type SeedUsersClients, type SeedUsersDeps } from './seed-users-handler.ts';

const secrets = Object.fromEntries(SEED_USERS.map((u) => [u.username, `arn:aws:secretsmanager:us-east-1:111111111111:secret:s/${u.username}`]));

function event(requestType: CustomResourceEvent['RequestType']): CustomResourceEvent {
  return {
    RequestType: requestType,
    ResponseURL: 'https://cloudformation-response.example/abc',
    StackId: 'stack',
    RequestId: 'req-1',
    LogicalResourceId: 'SeedUsers',
    ...(requestType === 'Create' ? {} : { PhysicalResourceId: 'pool-seed-users' }),
    ResourceProperties: { UserPoolId: 'us-east-1_abc', PasswordSecrets: secrets },
  };
}

/**
 * A user pool that behaves as Cognito's AdminCreateUser does (UsernameExistsException for a taken
 * name, the existing user untouched), and records every call; it refuses secrets it was not told about.
 */
type PoolUser = { tenantId: string; password: string; sub: string; status?: 'FORCE_CHANGE_PASSWORD' | 'CONFIRMED' };
function fakes(options: { failCreate?: boolean; existing?: Record<string, PoolUser> } = {}) {
  const pool = new Map<string, PoolUser>(Object.entries(options.existing ?? {}));
  const refreshed: string[] = [];
  const created: Array<{ userPoolId: string; username: string; tenantId: string; temporaryPassword: string }> = [];
  const responses: Array<{ url: string; body: Record<string, unknown> }> = [];
  const deps: SeedUsersDeps = {
    async readPassword(secretId) {
      const user = Object.entries(secrets).find(([, arn]) => arn === secretId)?.[0];
      if (!user) throw new Error(`unexpected secret ${secretId}`);
      return `pw-of-${user}`;
    },
    async createUser(input) {
      if (options.failCreate) throw new Error('InternalErrorException');
      if (pool.has(input.username)) return undefined;
      const sub = `sub-${input.username}`;
      pool.set(input.username, { tenantId: input.tenantId, password: input.temporaryPassword, sub, status: 'FORCE_CHANGE_PASSWORD' });
      created.push(input);
      return sub;
    },
    async userExists({ username }) {
      return pool.has(username);
    },
    async refreshTemporaryPassword({ username, temporaryPassword }) {
      const user = pool.get(username);
      if (!user) throw new Error(`UserNotFoundException ${username}`);
      if (user.status !== 'FORCE_CHANGE_PASSWORD') return false;
      pool.set(username, { ...user, password: temporaryPassword });
      refreshed.push(username);
      return true;
    },
  };
  const respond = (async (url: string | URL | Request, init?: RequestInit) => {
    responses.push({ url: String(url), body: JSON.parse(String(init?.body)) as Record<string, unknown> });
    return new Response(null, { status: 200 });
  }) as typeof fetch;
  return { deps, respond, created, responses, pool, refreshed };
}

describe('seed users custom resource', () => {
  it('on create, creates each seeded user with the password from its secret (and no orders: the seeder has no table port)', async () => {
    const f = fakes();
    await handleSeedUsersEvent(event('Create'), f.deps, f.respond);
    expect(f.created).toEqual(SEED_USERS.map((u) => ({ userPoolId: 'us-east-1_abc', username: u.username, tenantId: u.tenantId, temporaryPassword: `pw-of-${u.username}` })));
    expect(f.responses).toEqual([{ url: 'https://cloudformation-response.example/abc', body: expect.objectContaining({ Status: 'SUCCESS', RequestId: 'req-1' }) }]);
  });

  it('on delete, touches nothing and answers SUCCESS', async () => {
    const f = fakes();
    await handleSeedUsersEvent(event('Delete'), f.deps, f.respond);
    expect(f.created).toEqual([]);
    expect(f.responses[0]!.body).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: 'pool-seed-users' });
  });

  it('on create again (users exist) and on update, succeeds, creates only missing users and never resets a changed password', async () => {
    const [changed, ...others] = SEED_USERS;
    for (const type of ['Create', 'Update'] as const) {
      const existing: PoolUser = { tenantId: changed!.tenantId, password: 'changed-by-the-person', sub: 'sub-existing', status: 'CONFIRMED' };
      const f = fakes({ existing: { [changed!.username]: existing } });
      await handleSeedUsersEvent(event(type), f.deps, f.respond);
      expect(f.responses).toEqual([{ url: 'https://cloudformation-response.example/abc', body: expect.objectContaining({ Status: 'SUCCESS' }) }]);
      expect(f.pool.get(changed!.username)).toEqual(existing);
      expect(f.refreshed).toEqual([]);
      expect(f.created.map((c) => c.username)).toEqual(others.map((u) => u.username));
    }
  });

  it('on update, does not create again a seeded user an operator removed, while a user new to the seed list is created (control)', async () => {
    const [removed, ...others] = SEED_USERS;
    const newcomer = others[others.length - 1]!;
    const f = fakes();
    await handleSeedUsersEvent(event('Create'), f.deps, f.respond);
    f.pool.delete(removed!.username); // npm run users -- remove
    f.pool.delete(newcomer.username); // stands for a user added to the seed list since: not in the old properties
    const previous = event('Update').ResourceProperties;
    const oldSecrets = Object.fromEntries(Object.entries(previous.PasswordSecrets).filter(([u]) => u !== newcomer.username));
    const created = f.created.length;
    await handleSeedUsersEvent({ ...event('Update'), OldResourceProperties: { ...previous, PasswordSecrets: oldSecrets } }, f.deps, f.respond);
    expect(f.pool.has(removed!.username)).toBe(false);
    expect(f.created.slice(created).map((c) => c.username)).toEqual([newcomer.username]);
    expect(f.responses.map((r) => r.body.Status)).toEqual(['SUCCESS', 'SUCCESS']);
  });

  it('run twice, the second run creates nothing and changes no user', async () => {
    const f = fakes();
    await handleSeedUsersEvent(event('Create'), f.deps, f.respond);
    const afterFirst = { created: f.created.length, pool: structuredClone([...f.pool]) };
    await handleSeedUsersEvent(event('Update'), f.deps, f.respond);
    expect({ created: f.created.length, pool: [...f.pool] }).toEqual(afterFirst);
    expect(f.responses.map((r) => r.body.Status)).toEqual(['SUCCESS', 'SUCCESS']);
  });

  it('on update, sets the temporary password of a user who never signed in again from its secret (its validity starts anew); a signed-in user is untouched', async () => {
    const [unused, signedIn] = SEED_USERS;
    const f = fakes({
      existing: {
        [unused!.username]: { tenantId: unused!.tenantId, password: 'expired-temporary', sub: 'sub-unused', status: 'FORCE_CHANGE_PASSWORD' },
        [signedIn!.username]: { tenantId: signedIn!.tenantId, password: 'chosen-by-the-person', sub: 'sub-signed-in', status: 'CONFIRMED' },
      },
    });
    await handleSeedUsersEvent({ ...event('Update'), ResourceProperties: { ...event('Update').ResourceProperties, Refresh: '1764700000' } }, f.deps, f.respond);
    expect(f.refreshed).toEqual([unused!.username]);
    expect(f.pool.get(unused!.username)?.password).toBe(`pw-of-${unused!.username}`);
    // Control: the user who signed in keeps the password they chose.
    expect(f.pool.get(signedIn!.username)?.password).toBe('chosen-by-the-person');
    expect(f.responses[0]!.body).toMatchObject({ Status: 'SUCCESS' });
  });

  it('answers FAILED (never silence) when seeding fails, without the password in the reason', async () => {
    const f = fakes({ failCreate: true });
    await handleSeedUsersEvent(event('Create'), f.deps, f.respond);
    expect(f.responses).toHaveLength(1);
    expect(f.responses[0]!.body).toMatchObject({ Status: 'FAILED', Reason: 'Error: InternalErrorException' });
    expect(JSON.stringify(f.responses)).not.toContain('pw-of-');
  });

  describe('the Cognito port', () => {
    /** A client that answers AdminCreateUser with `answer` and refuses any other command. */
    function cognitoAnswering(answer: () => unknown) {
      const sent: unknown[] = [];
      const refuse = { send: async (c: unknown) => Promise.reject(new Error(`unexpected ${(c as object).constructor.name}`)) };
      const cognito = {
        send: async (command: unknown) => {
          if (!(command instanceof AdminCreateUserCommand)) throw new Error(`unexpected ${(command as object).constructor.name}`);
          sent.push(command.input);
          return answer();
        },
      };
      return { deps: awsDeps({ cognito, secrets: refuse } as unknown as SeedUsersClients), sent };
    }
    const input = { userPoolId: 'us-east-1_abc', username: 'tenant1-user', tenantId: 'tenant1', temporaryPassword: 'pw' };

    /** A client that answers AdminGetUser with `status` and AdminSetUserPassword with {}, recording both. */
    function cognitoWithStatus(status: string) {
      const sent: Array<{ command: string; input: unknown }> = [];
      const refuse = { send: async (c: unknown) => Promise.reject(new Error(`unexpected ${(c as object).constructor.name}`)) };
      const cognito = {
        send: async (command: unknown) => {
          if (command instanceof AdminGetUserCommand) {
            sent.push({ command: 'AdminGetUser', input: command.input });
            return { Username: command.input.Username, UserStatus: status };
          }
          if (command instanceof AdminSetUserPasswordCommand) {
            sent.push({ command: 'AdminSetUserPassword', input: command.input });
            return {};
          }
          throw new Error(`unexpected ${(command as object).constructor.name}`);
        },
      };
      return { deps: awsDeps({ cognito, secrets: refuse } as unknown as SeedUsersClients), sent };
    }

    it('sets a temporary password again (Permanent false) only for a user in FORCE_CHANGE_PASSWORD', async () => {
      const unused = cognitoWithStatus('FORCE_CHANGE_PASSWORD');
      expect(await unused.deps.refreshTemporaryPassword({ userPoolId: 'us-east-1_abc', username: 'tenant1-user', temporaryPassword: 'pw' })).toBe(true);
      expect(unused.sent).toEqual([
        { command: 'AdminGetUser', input: { UserPoolId: 'us-east-1_abc', Username: 'tenant1-user' } },
        { command: 'AdminSetUserPassword', input: { UserPoolId: 'us-east-1_abc', Username: 'tenant1-user', Password: 'pw', Permanent: false } },
      ]);
      // Control: a user who signed in (CONFIRMED) is only looked at.
      const confirmed = cognitoWithStatus('CONFIRMED');
      expect(await confirmed.deps.refreshTemporaryPassword({ userPoolId: 'us-east-1_abc', username: 'tenant1-user', temporaryPassword: 'pw' })).toBe(false);
      expect(confirmed.sent.map((s) => s.command)).toEqual(['AdminGetUser']);
    });

    it('creates the user without a welcome message, with the tenant attribute, and returns its sub', async () => {
      const c = cognitoAnswering(() => ({ User: { Attributes: [{ Name: 'sub', Value: 'sub-1' }] } }));
      expect(await c.deps.createUser(input)).toBe('sub-1');
      expect(c.sent).toEqual([
        { UserPoolId: 'us-east-1_abc', Username: 'tenant1-user', TemporaryPassword: 'pw', MessageAction: 'SUPPRESS', UserAttributes: [{ Name: 'custom:tenantId', Value: 'tenant1' }] },
      ]);
    });

    it('reports an existing username as undefined (and sends nothing else), and rethrows any other error', async () => {
      const exists = cognitoAnswering(() => {
        throw new UsernameExistsException({ message: 'User account already exists', $metadata: {} });
      });
      expect(await exists.deps.createUser(input)).toBeUndefined();
      expect(exists.sent).toHaveLength(1);
      const other = cognitoAnswering(() => {
        throw new Error('TooManyRequestsException');
      });
      await expect(other.deps.createUser(input)).rejects.toThrow('TooManyRequestsException');
    });
  });
});
