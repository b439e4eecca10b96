/**
 * The user pool's administration over the wire, with the SDK (IAM-signed, as npm run users calls
 * it): AdminCreateUser, AdminDisableUser / AdminEnableUser, AdminDeleteUser, AdminSetUserPassword
 * and ListUsers, what each does to sign-in, IAM (the operator may, a task role may not), and, on a
 * persisted local stack, users created at runtime surviving a restart as seeded users do, with
 * local-users.json kept in step.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  AdminCreateUserCommand,
  AdminDeleteUserCommand,
  AdminDisableUserCommand,
  AdminEnableUserCommand,
  AdminGetUserCommand,
  AdminSetUserPasswordCommand,
  CognitoIdentityProviderClient,
  InitiateAuthCommand,
  ListUsersCommand,
  type UserType,
} from '@aws-sdk/client-cognito-identity-provider';
import { CognitoService, LOCAL_APP_CLIENT_ID, type LocalUser } from './service.ts';
import { passwordPolicyViolation } from './passwords.ts';
import { LOCAL_USERS_FILE, type LocalUsersFile } from '../../../../client/cli/targets.ts';
import { Edge } from '../../edge/edge.ts';
import { silentLogger } from '../../edge/log.ts';
import { PolicyEvaluator } from '../../iam/evaluator.ts';
import { LocalIam, type LocalPrincipalName } from '../../iam/principals.ts';
import { startLocalStack, type LocalStack } from '../../stack.ts';

const DAY_MS = 24 * 3600 * 1000;
const iam = new LocalIam({ tenantIds: ['tenant1', 'tenant2'] });
const SEEDED: LocalUser[] = [
  { username: 'seeded-a', tenantId: 'tenant1', sub: randomUUID() },
  { username: 'seeded-b', tenantId: 'tenant2', sub: randomUUID() },
];
const TEMP = 'Temp-Password-42-x';
const OWN = 'Own-Password-42-y';

let offsetMs = 0;
let cognito: CognitoService;
let edge: Edge;
let endpoint: string;
let changes = 0;

beforeAll(async () => {
  cognito = await CognitoService.create({
    location: iam.location,
    evaluator: new PolicyEvaluator(),
    users: SEEDED,
    clock: () => new Date(Date.now() + offsetMs),
    onUsersChanged: () => {
      changes++;
      return Promise.resolve();
    },
  });
  edge = new Edge({ iam, services: { 'cognito-idp': cognito }, clock: () => new Date(), logger: silentLogger });
  endpoint = await edge.listen(0);
  cognito.setIssuerBase(endpoint);
});
afterAll(async () => {
  await edge.close();
});
beforeEach(() => {
  offsetMs = 0;
});

const admin = (who: LocalPrincipalName = 'operator', url = endpoint) =>
  new CognitoIdentityProviderClient({ endpoint: url, region: iam.location.region, credentials: iam.credentials(who), maxAttempts: 1 });
const noCredentials = () => Promise.reject(new Error('test: the SDK asked for AWS credentials'));
const signIn = (username: string, password: string, url = endpoint) =>
  new CognitoIdentityProviderClient({ endpoint: url, region: iam.location.region, credentials: noCredentials, maxAttempts: 1 }).send(
    new InitiateAuthCommand({ AuthFlow: 'USER_PASSWORD_AUTH', ClientId: LOCAL_APP_CLIENT_ID, AuthParameters: { USERNAME: username, PASSWORD: password } }),
  );
const create = (Username: string, tenantId = 'tenant1', extra: { TemporaryPassword?: string } = { TemporaryPassword: TEMP }, who: LocalPrincipalName = 'operator') =>
  admin(who).send(
    new AdminCreateUserCommand({ UserPoolId: cognito.poolId, Username, UserAttributes: [{ Name: 'custom:tenantId', Value: tenantId }], MessageAction: 'SUPPRESS', ...extra }),
  );
const attribute = (u: UserType | undefined, name: string) => u?.Attributes?.find((a) => a.Name === name)?.Value;

describe('AdminCreateUser', () => {
  it('creates a user in FORCE_CHANGE_PASSWORD with a new sub and custom:tenantId; the temporary password meets NEW_PASSWORD_REQUIRED', async () => {
    const before = changes;
    const { User } = await create('new-user', 'tenant2');
    expect(User).toMatchObject({ Username: 'new-user', Enabled: true, UserStatus: 'FORCE_CHANGE_PASSWORD' });
    expect(attribute(User, 'custom:tenantId')).toBe('tenant2');
    expect(attribute(User, 'sub')).toMatch(/^[0-9a-f-]{36}$/);
    expect(SEEDED.map((u) => u.sub)).not.toContain(attribute(User, 'sub'));
    expect(changes).toBe(before + 1);
    expect(cognito.temporaryPasswords()['new-user']).toBe(TEMP);
    await expect(signIn('new-user', TEMP)).resolves.toMatchObject({ ChallengeName: 'NEW_PASSWORD_REQUIRED' });
  });

  it('refuses a name that exists with UsernameExistsException (any case), and a temporary password against the policy (control: a new name is created)', async () => {
    await expect(create('new-user')).rejects.toMatchObject({ name: 'UsernameExistsException', $metadata: { httpStatusCode: 400 } });
    await expect(create('NEW-USER')).rejects.toMatchObject({ name: 'UsernameExistsException' });
    await expect(create('weak-user', 'tenant1', { TemporaryPassword: 'short' })).rejects.toMatchObject({ name: 'InvalidPasswordException' });
    await expect(create('other-user')).resolves.toMatchObject({ User: { Username: 'other-user' } });
  });

  it('makes a temporary password that meets the pool policy when none is given', async () => {
    await create('generated-user', 'tenant1', {});
    const generated = cognito.temporaryPasswords()['generated-user']!;
    expect(passwordPolicyViolation(generated)).toBeUndefined();
    await expect(signIn('generated-user', generated)).resolves.toMatchObject({ ChallengeName: 'NEW_PASSWORD_REQUIRED' });
  });

  it('refuses an attribute the schema does not have, and a user without custom:tenantId', async () => {
    await expect(
      admin().send(new AdminCreateUserCommand({ UserPoolId: cognito.poolId, Username: 'x-user', UserAttributes: [{ Name: 'custom:role', Value: 'a' }], MessageAction: 'SUPPRESS' })),
    ).rejects.toMatchObject({ name: 'InvalidParameterException', message: 'user.custom:role: Attribute does not exist in the schema.' });
    await expect(admin().send(new AdminCreateUserCommand({ UserPoolId: cognito.poolId, Username: 'x-user', MessageAction: 'SUPPRESS' }))).rejects.toMatchObject({
      name: 'InvalidParameterException',
    });
  });
});

describe('AdminDisableUser, AdminEnableUser, AdminDeleteUser', () => {
  it('a disabled user cannot sign in ("User is disabled."); enabled again, they can', async () => {
    await create('toggled');
    await admin().send(new AdminDisableUserCommand({ UserPoolId: cognito.poolId, Username: 'toggled' }));
    await expect(signIn('toggled', TEMP)).rejects.toMatchObject({ name: 'NotAuthorizedException', message: 'User is disabled.' });
    expect((await admin().send(new AdminGetUserCommand({ UserPoolId: cognito.poolId, Username: 'toggled' }))).Enabled).toBe(false);
    await admin().send(new AdminEnableUserCommand({ UserPoolId: cognito.poolId, Username: 'toggled' }));
    await expect(signIn('toggled', TEMP)).resolves.toMatchObject({ ChallengeName: 'NEW_PASSWORD_REQUIRED' });
  });

  it('a deleted user cannot sign in and is not found; an unknown user is UserNotFoundException', async () => {
    await create('deleted');
    await expect(signIn('deleted', TEMP)).resolves.toMatchObject({ ChallengeName: 'NEW_PASSWORD_REQUIRED' });
    await admin().send(new AdminDeleteUserCommand({ UserPoolId: cognito.poolId, Username: 'deleted' }));
    await expect(signIn('deleted', TEMP)).rejects.toMatchObject({ name: 'NotAuthorizedException', message: 'Incorrect username or password.' });
    await expect(admin().send(new AdminGetUserCommand({ UserPoolId: cognito.poolId, Username: 'deleted' }))).rejects.toMatchObject({ name: 'UserNotFoundException' });
    for (const command of [
      new AdminDeleteUserCommand({ UserPoolId: cognito.poolId, Username: 'nobody' }),
      new AdminDisableUserCommand({ UserPoolId: cognito.poolId, Username: 'nobody' }),
      new AdminSetUserPasswordCommand({ UserPoolId: cognito.poolId, Username: 'nobody', Password: OWN }),
    ]) {
      await expect(admin().send(command as AdminDeleteUserCommand)).rejects.toMatchObject({ name: 'UserNotFoundException', $metadata: { httpStatusCode: 400 } });
    }
  });
});

describe('AdminSetUserPassword', () => {
  it('Permanent false: a new temporary password (FORCE_CHANGE_PASSWORD) that expires after the validity days; Permanent true: CONFIRMED', async () => {
    await create('reset-user');
    await admin().send(new AdminSetUserPasswordCommand({ UserPoolId: cognito.poolId, Username: 'reset-user', Password: OWN, Permanent: true }));
    expect((await admin().send(new AdminGetUserCommand({ UserPoolId: cognito.poolId, Username: 'reset-user' }))).UserStatus).toBe('CONFIRMED');
    expect((await signIn('reset-user', OWN)).AuthenticationResult?.IdToken).toBeTruthy();
    const second = 'Second-Temp-42-z';
    await admin().send(new AdminSetUserPasswordCommand({ UserPoolId: cognito.poolId, Username: 'reset-user', Password: second, Permanent: false }));
    expect((await admin().send(new AdminGetUserCommand({ UserPoolId: cognito.poolId, Username: 'reset-user' }))).UserStatus).toBe('FORCE_CHANGE_PASSWORD');
    expect(cognito.temporaryPasswords()['reset-user']).toBe(second);
    await expect(signIn('reset-user', OWN)).rejects.toMatchObject({ name: 'NotAuthorizedException' });
    offsetMs = 7 * DAY_MS - 60_000;
    await expect(signIn('reset-user', second)).resolves.toMatchObject({ ChallengeName: 'NEW_PASSWORD_REQUIRED' });
    offsetMs = 7 * DAY_MS;
    await expect(signIn('reset-user', second)).rejects.toMatchObject({ message: 'Temporary password has expired and must be reset by an administrator.' });
  });

  it('refuses a password against the policy with InvalidPasswordException', async () => {
    await expect(admin().send(new AdminSetUserPasswordCommand({ UserPoolId: cognito.poolId, Username: 'reset-user', Password: 'weak', Permanent: true }))).rejects.toMatchObject({
      name: 'InvalidPasswordException',
    });
  });
});

describe('ListUsers', () => {
  it('pages with Limit and PaginationToken through every user, each once', async () => {
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const out = await admin().send(new ListUsersCommand({ UserPoolId: cognito.poolId, Limit: 2, ...(token ? { PaginationToken: token } : {}) }));
      expect(out.Users!.length).toBeLessThanOrEqual(2);
      seen.push(...out.Users!.map((u) => u.Username!));
      token = out.PaginationToken;
      pages++;
    } while (token);
    const all = cognito.listUsers().map((u) => u.username);
    expect(seen.sort()).toEqual([...all].sort());
    expect(pages).toBe(Math.ceil(all.length / 2));
  });

  it('filters on searchable attributes (username, status, cognito:user_status), and refuses custom attributes as Cognito does', async () => {
    const byName = await admin().send(new ListUsersCommand({ UserPoolId: cognito.poolId, Filter: 'username = "seeded-a"' }));
    expect(byName.Users!.map((u) => u.Username)).toEqual(['seeded-a']);
    const prefix = await admin().send(new ListUsersCommand({ UserPoolId: cognito.poolId, Filter: 'username ^= "seeded-"' }));
    expect(prefix.Users!.map((u) => u.Username)).toEqual(['seeded-a', 'seeded-b']);
    await admin().send(new AdminDisableUserCommand({ UserPoolId: cognito.poolId, Username: 'seeded-b' }));
    const disabled = await admin().send(new ListUsersCommand({ UserPoolId: cognito.poolId, Filter: 'status = "Disabled"' }));
    expect(disabled.Users!.map((u) => u.Username)).toEqual(['seeded-b']);
    await admin().send(new AdminSetUserPasswordCommand({ UserPoolId: cognito.poolId, Username: 'other-user', Password: OWN, Permanent: true }));
    const confirmed = await admin().send(new ListUsersCommand({ UserPoolId: cognito.poolId, Filter: 'cognito:user_status = "confirmed"' }));
    expect(confirmed.Users!.map((u) => u.Username)).toEqual(['other-user']);
    // username compares as written.
    expect((await admin().send(new ListUsersCommand({ UserPoolId: cognito.poolId, Filter: 'username = "SEEDED-A"' }))).Users).toEqual([]);
    await expect(admin().send(new ListUsersCommand({ UserPoolId: cognito.poolId, Filter: 'custom:tenantId = "tenant1"' }))).rejects.toMatchObject({ name: 'InvalidParameterException' });
    await expect(admin().send(new ListUsersCommand({ UserPoolId: cognito.poolId, Limit: 61 }))).rejects.toMatchObject({ name: 'InvalidParameterException' });
  });
});

describe('IAM on the admin operations', () => {
  it('the operator may administer users; a task role may not (validate-context keeps AdminGetUser only)', async () => {
    await expect(create('by-task', 'tenant1', { TemporaryPassword: TEMP }, 'validate-context')).rejects.toMatchObject({
      name: 'AccessDeniedException',
      message: expect.stringContaining(`cognito-idp:AdminCreateUser on resource: ${iam.resources.userPoolArn}`),
    });
    await expect(admin('invoke-agent').send(new ListUsersCommand({ UserPoolId: cognito.poolId }))).rejects.toMatchObject({ name: 'AccessDeniedException' });
    await expect(admin('validate-context').send(new AdminDeleteUserCommand({ UserPoolId: cognito.poolId, Username: 'seeded-a' }))).rejects.toMatchObject({ name: 'AccessDeniedException' });
    // Controls: validate-context still reads a user; the operator lists them.
    await expect(admin('validate-context').send(new AdminGetUserCommand({ UserPoolId: cognito.poolId, Username: 'seeded-a' }))).resolves.toMatchObject({ Username: 'seeded-a' });
    await expect(admin().send(new ListUsersCommand({ UserPoolId: cognito.poolId, Limit: 1 }))).resolves.toMatchObject({ Users: [expect.anything()] });
  });
});

describe('users created at runtime on a persisted stack', () => {
  let dataDir: string;
  let stack: LocalStack | undefined;
  const start = async () => (stack = await startLocalStack({ port: 0, appsyncPort: 0, lambdaSandbox: false, dataDir, seedOrdersPerUser: 0, logger: silentLogger }));
  const localUsers = async () => JSON.parse(await readFile(path.join(dataDir, LOCAL_USERS_FILE), 'utf8')) as LocalUsersFile;
  const stackUsers = async () => (JSON.parse(await readFile(path.join(dataDir, 'stack.json'), 'utf8')) as { users: LocalUser[] }).users;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'cognito-admin-stack-'));
  });
  afterAll(async () => {
    await stack?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('survive a restart as seeded users do, and local-users.json lists them with their temporary password until deleted', async () => {
    let s = await start();
    const client = new CognitoIdentityProviderClient(s.clientConfig('operator'));
    const { User } = await client.send(
      new AdminCreateUserCommand({ UserPoolId: s.cognito.poolId, Username: 'runtime-user', UserAttributes: [{ Name: 'custom:tenantId', Value: 'tenant1' }], TemporaryPassword: TEMP, MessageAction: 'SUPPRESS' }),
    );
    const sub = attribute(User, 'sub');
    expect((await localUsers()).users.find((u) => u.username === 'runtime-user')).toMatchObject({ sub, tenantId: 'tenant1', status: 'FORCE_CHANGE_PASSWORD', temporaryPassword: TEMP });
    expect(await stackUsers()).toContainEqual({ username: 'runtime-user', tenantId: 'tenant1', sub });
    expect(s.user('runtime-user').sub).toBe(sub);
    client.destroy();
    await s.stop();

    s = await start();
    const again = new CognitoIdentityProviderClient(s.clientConfig('operator'));
    const got = await again.send(new AdminGetUserCommand({ UserPoolId: s.cognito.poolId, Username: 'runtime-user' }));
    expect(got.UserAttributes).toContainEqual({ Name: 'sub', Value: sub });
    // As a seeded user: a new temporary password at each start, which signs in.
    const temporary = s.cognito.temporaryPasswords()['runtime-user']!;
    await expect(signIn('runtime-user', temporary, s.edgeUrl)).resolves.toMatchObject({ ChallengeName: 'NEW_PASSWORD_REQUIRED' });

    await again.send(new AdminDeleteUserCommand({ UserPoolId: s.cognito.poolId, Username: 'runtime-user' }));
    expect((await localUsers()).users.map((u) => u.username)).not.toContain('runtime-user');
    expect((await stackUsers()).map((u) => u.username)).not.toContain('runtime-user');
    // Control: the seeded users are still listed.
    expect((await localUsers()).users.length).toBe(s.users.length);
    again.destroy();
    await s.stop();
    s = await start();
    expect(s.cognito.listUsers().map((u) => u.username)).not.toContain('runtime-user');
  });
});
