/**
 * STS and the tenant access role: only mint-credentials may assume it, only with the TenantId and
 * UserId session tags, never by role chaining; a minted session's permissions are the intersection
 * of the tag-keyed role policy and the session policy. Every refusal has a control that succeeds.
 */
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient, type AssumeRoleCommandInput, type Tag } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCredentials, LocalPrincipalName } from '../infra/local/iam/principals.ts';
import type { LocalUser } from '../infra/local/services/cognito/service.ts';
import { startLocalStack, type LocalStack } from '../infra/local/stack.ts';
import { tenantIsolationPolicy } from '../tasks/policies.ts';
import { assumeTenantRole, roleSessionName } from '../tasks/tenant-credentials.ts';
import { failure, startsWith } from './aws-failure.ts';

/** The stand-ins' clock stands still, on a whole second, so that expirations are exact. */
const NOW = Math.floor(Date.now() / 1000) * 1000;

let stack: LocalStack;
let roleArn: string;
let user1: LocalUser;
let user2: LocalUser;

beforeAll(async () => {
  stack = await startLocalStack({ port: 0, clock: () => new Date(NOW) });
  roleArn = stack.iam.resources.tenantAccessRoleArn;
  user1 = stack.user('tenant1-user');
  user2 = stack.user('tenant2-user');
});

afterAll(async () => {
  await stack?.stop();
});

type Who = LocalPrincipalName | LocalCredentials;

function sts(who: Who): STSClient {
  return new STSClient(stack.clientConfig(who));
}

const tagsFor = (u: LocalUser): Tag[] => [
  { Key: 'TenantId', Value: u.tenantId },
  { Key: 'UserId', Value: u.sub },
];

const policyFor = (u: LocalUser): string =>
  JSON.stringify(tenantIsolationPolicy({ location: stack.iam.location, tables: stack.tables }, u.tenantId, u.sub));

/** AssumeRole on the tenant access role; by default exactly as the mint step calls it for user1. */
function assumeRole(overrides: Partial<AssumeRoleCommandInput> = {}, who: Who = 'mint-credentials') {
  return sts(who).send(
    new AssumeRoleCommand({
      RoleArn: roleArn,
      RoleSessionName: roleSessionName({ tenantId: user1.tenantId, userId: user1.sub }),
      DurationSeconds: 900,
      Policy: policyFor(user1),
      Tags: tagsFor(user1),
      ...overrides,
    }),
  );
}

function credentialsOf(out: Awaited<ReturnType<typeof assumeRole>>): LocalCredentials {
  const c = out.Credentials!;
  return { accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken! };
}

/** The mint step's call, made by `who`. */
function mint(u: LocalUser, who: Who = 'mint-credentials') {
  return assumeTenantRole(
    { tenantId: u.tenantId, userId: u.sub },
    { sts: sts(who), tenantAccessRoleArn: roleArn, location: stack.iam.location, tables: stack.tables },
  );
}

function readConfig(who: LocalCredentials, tenantId: string) {
  return new DynamoDBClient(stack.clientConfig(who)).send(new GetItemCommand({ TableName: stack.tables.config, Key: { tenantId: { S: tenantId } } }));
}

describe('the trust policy: only mint-credentials assumes the tenant access role', () => {
  it('control: mint-credentials gets scoped credentials', async () => {
    expect((await mint(user1)).accessKeyId).toMatch(/^ASIA/);
  });

  it.each(['validate-context', 'invoke-agent', 'publish-answer', 'record-failure', 'operator'] as const)(
    '%s gets AccessDenied (403), "User: <arn> is not authorized to perform: sts:AssumeRole on resource: <role>"',
    async (name) => {
      const f = await failure(mint(user1, name));
      expect(f).toMatchObject({ name: 'AccessDenied', status: 403 });
      expect(f.message).toMatch(startsWith(`User: ${stack.iam.principalArn(name)} is not authorized to perform: sts:AssumeRole on resource: ${roleArn} `));
    },
  );

  it('a tenant session cannot chain into the role to choose its own tags: AccessDenied (403)', async () => {
    const scoped = await mint(user1);
    const me = await sts(scoped).send(new GetCallerIdentityCommand({}));
    for (const target of [user2, user1]) {
      const f = await failure(
        assumeRole({ RoleSessionName: `t-${target.tenantId}.chained`, Tags: tagsFor(target), Policy: policyFor(target) }, scoped),
      );
      expect(f).toMatchObject({ name: 'AccessDenied', status: 403 });
      expect(f.message).toMatch(startsWith(`User: ${me.Arn} is not authorized to perform: sts:AssumeRole on resource: ${roleArn} `));
    }
  });
});

describe('session tags on the tenant access role', () => {
  it('control: TenantId and UserId are accepted', async () => {
    const out = await assumeRole();
    expect(out.Credentials?.AccessKeyId).toMatch(/^ASIA/);
  });

  it('an extra tag key (Admin) is refused: AccessDenied (403) on sts:TagSession', async () => {
    const f = await failure(assumeRole({ Tags: [...tagsFor(user1), { Key: 'Admin', Value: 'true' }] }));
    expect(f).toMatchObject({ name: 'AccessDenied', status: 403 });
    expect(f.message).toMatch(startsWith(`User: ${stack.iam.principalArn('mint-credentials')} is not authorized to perform: sts:TagSession on resource: ${roleArn} `));
  });

  it('a session without the UserId tag is refused: AccessDenied (403) on sts:AssumeRole', async () => {
    const f = await failure(assumeRole({ Tags: [{ Key: 'TenantId', Value: user1.tenantId }] }));
    expect(f).toMatchObject({ name: 'AccessDenied', status: 403 });
    expect(f.message).toMatch(startsWith(`User: ${stack.iam.principalArn('mint-credentials')} is not authorized to perform: sts:AssumeRole on resource: ${roleArn} `));
  });

  it('a session without any tags is refused: AccessDenied (403) on sts:AssumeRole', async () => {
    const f = await failure(assumeRole({ Tags: [] }));
    expect(f).toMatchObject({ name: 'AccessDenied', status: 403 });
    expect(f.message).toMatch(startsWith(`User: ${stack.iam.principalArn('mint-credentials')} is not authorized to perform: sts:AssumeRole on resource: ${roleArn} `));
  });
});

describe('AssumeRole results', () => {
  it.each([900, 3600])('control: DurationSeconds %i gives ASIA keys that expire exactly that long after now', async (seconds) => {
    const out = await assumeRole({ DurationSeconds: seconds });
    expect(out.Credentials?.AccessKeyId).toMatch(/^ASIA[A-Z2-7]{16}$/);
    expect(out.Credentials?.Expiration?.getTime()).toBe(NOW + seconds * 1000);
  });

  it.each([
    [899, "1 validation error detected: Value '899' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900"],
    [3601, 'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.'],
  ])('DurationSeconds %i is a ValidationError (400)', async (seconds, message) => {
    expect(await failure(assumeRole({ DurationSeconds: seconds }))).toMatchObject({ name: 'ValidationError', status: 400, message });
  });

  it.each([
    ['x', 'have length greater than or equal to 2'],
    ['x'.repeat(65), 'have length less than or equal to 64'],
    ['tenant1/user', 'satisfy regular expression pattern: [\\w+=,.@-]*'],
  ])("RoleSessionName '%s' is a ValidationError (400) quoting it", async (name, constraint) => {
    expect(await failure(assumeRole({ RoleSessionName: name }))).toMatchObject({
      name: 'ValidationError',
      status: 400,
      message: `1 validation error detected: Value '${name}' at 'roleSessionName' failed to satisfy constraint: Member must ${constraint}`,
    });
  });

  it('the mint step gets 900 s credentials; GetCallerIdentity names the assumed-role session', async () => {
    const scoped = await mint(user1);
    expect(scoped.accessKeyId).toMatch(/^ASIA/);
    expect(new Date(scoped.expiration).getTime()).toBe(NOW + 900_000);
    const me = await sts(scoped).send(new GetCallerIdentityCommand({}));
    expect(me.Arn).toBe(`arn:aws:sts::000000000000:assumed-role/tenant-access/t-tenant1.${user1.sub}`);
    expect(me.Account).toBe('000000000000');
    expect(me.UserId).toMatch(new RegExp(`^AROA[0-9A-Z]+:t-tenant1\\.${user1.sub}$`));
  });
});

describe('a session is limited by its tags and its session policy together', () => {
  it('control: tags and session policy for tenant1 read tenant1 config row', async () => {
    const creds = credentialsOf(await assumeRole());
    expect((await readConfig(creds, 'tenant1')).Item?.tenantId?.S).toBe('tenant1');
  });

  it('tags for tenant1 with a session policy for tenant2 read neither row: AccessDeniedException (400)', async () => {
    const creds = credentialsOf(await assumeRole({ Tags: tagsFor(user1), Policy: policyFor(user2) }));
    const tenant2 = await failure(readConfig(creds, 'tenant2'));
    expect(tenant2).toMatchObject({ name: 'AccessDeniedException', status: 400 });
    // The session policy would allow tenant2's row: the tag-keyed role policy refuses it.
    expect(tenant2.message).toMatch(/ because no identity-based policy allows the dynamodb:GetItem action$/);
    const tenant1 = await failure(readConfig(creds, 'tenant1'));
    expect(tenant1).toMatchObject({ name: 'AccessDeniedException', status: 400 });
    // The tags would allow tenant1's row: the session policy refuses it.
    expect(tenant1.message).toMatch(/ because no session policy allows the dynamodb:GetItem action$/);
  });

  it('tags for tenant2 with a session policy for tenant1 read neither row: AccessDeniedException (400)', async () => {
    const creds = credentialsOf(await assumeRole({ Tags: tagsFor(user2), Policy: policyFor(user1) }));
    for (const tenantId of ['tenant1', 'tenant2']) {
      expect(await failure(readConfig(creds, tenantId))).toMatchObject({ name: 'AccessDeniedException', status: 400 });
    }
  });
});
