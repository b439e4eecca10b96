/**
 * `npm run tenants` and `npm run users` against a running local stack (in-process commands, the
 * operator's keys through the edge), as a new operator onboards a store: add a tenant, add its
 * users, ask as them at once, suspend and resume, remove; every bad input refused with a non-zero
 * exit and nothing changed. The same commands with `--target aws` run the AWS code path (cdk-outputs
 * names, secrets for passwords) against the local stand-ins.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DescribeContinuousBackupsCommand, DescribeTableCommand, DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand, writeCdkOutputs, type CliResult } from './cli-helpers.ts';
import { CONTROL_CELLS_PER_CALLER, IsolationMatrix, type MatrixUser } from './isolation-matrix.ts';
import { askCommand } from '../client/cli/ask.ts';
import { tenantsCommand } from '../client/cli/tenants.ts';
import { usersCommand } from '../client/cli/users.ts';
import { readLocalUsers, writeLocalEnv } from '../client/cli/targets.ts';
import { writeLocalUsers } from '../infra/local/services/cognito/service.ts';
import { localEnvOf } from '../infra/local/local-env.ts';
import { startLocalStack, type LocalStack } from '../infra/local/stack.ts';

let stack: LocalStack;
let dataDir: string;
let outputsFile: string;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'assistant-tenants-'));
  stack = await startLocalStack({ port: 0, dataDir, retryIntervalOverrides: 0, lambdaSandbox: false });
  await writeLocalEnv(localEnvOf(stack, true), dataDir);
  await writeLocalUsers(dataDir, stack.cognito);
  outputsFile = path.join(dataDir, 'cdk-outputs.json');
  await writeCdkOutputs(outputsFile, {
    Region: stack.iam.location.region,
    UserPoolId: stack.cognito.poolId,
    ConfigTableName: stack.tables.config,
    TablePrefix: stack.tables.prefix,
    UserSecretPrefix: 'MultiTenantAiAssistant/seed-users/',
  });
});
afterAll(async () => {
  await stack?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

const tenants = (...args: string[]) => runCommand(tenantsCommand, ['--data-dir', dataDir, ...args], {});
const users = (...args: string[]) => runCommand(usersCommand, ['--data-dir', dataDir, ...args], {});
const ask = (username: string, question: string) => runCommand(askCommand, ['--data-dir', dataDir, '--user', username, question], {});
/** `--target aws`: the operator's keys, every service at the edge, names from cdk-outputs.json. */
function awsIo() {
  const edge = stack.edgeUrl;
  return { aws: { credentials: stack.iam.credentials('operator'), endpoints: { dynamodb: edge, cognito: edge, secretsmanager: edge } } };
}
const awsTenants = (...args: string[]) => runCommand(tenantsCommand, ['--target', 'aws', '--outputs-file', outputsFile, ...args], awsIo());
const awsUsers = (...args: string[]) => runCommand(usersCommand, ['--target', 'aws', '--outputs-file', outputsFile, ...args], awsIo());

const passwordOf = (r: CliResult) => /Temporary password, shown once: (\S+)/.exec(r.stdout)?.[1];
const tenantRows = async () => JSON.parse((await tenants('list', '--json')).stdout) as { tenantId: string; status: string; plan: string; users: number; ordersTable: string }[];
/** The config row's plan as DynamoDB has it (a strongly consistent read, as the operator). */
async function storedPlan(tenantId: string): Promise<string | undefined> {
  const ddb = new DynamoDBClient(stack.clientConfig('operator'));
  try {
    return (await ddb.send(new GetItemCommand({ TableName: stack.tables.config, Key: { tenantId: { S: tenantId } }, ConsistentRead: true }))).Item?.plan?.S;
  } finally {
    ddb.destroy();
  }
}

describe('npm run tenants / users: onboarding a store end to end (local)', () => {
  it('lists the seeded stores with their status, plan, users and orders table', async () => {
    const rows = await tenantRows();
    expect(rows.map((r) => [r.tenantId, r.status, r.plan, r.users, r.ordersTable])).toEqual([
      ['tenant1', 'ACTIVE', 'standard', 2, 'tenant1-orders'],
      ['tenant2', 'ACTIVE', 'premium', 1, 'tenant2-orders'],
      ['tenant3', 'ACTIVE', 'basic', 1, 'tenant3-orders'],
    ]);
    const text = await tenants('list');
    expect(text.stdout).toMatch(/^tenant1 +ACTIVE +standard +2 users +tenant1-orders +Tenant One Outfitters$/m);
    expect(text.stdout).toMatch(/^tenant3 +ACTIVE +basic +1 users +tenant3-orders /m);
  });

  it('sets a plan: the config row names it, list shows it; the same plan again writes nothing; back again', async () => {
    const r = await tenants('set-plan', 'tenant3', 'premium');
    expect(r).toMatchObject({ code: 0, stderr: '', stdout: 'Tenant tenant3 is on the premium plan (was basic); its next question is admitted under the new limits.\n' });
    expect(await storedPlan('tenant3')).toBe('premium');
    expect((await tenantRows()).find((t) => t.tenantId === 'tenant3')).toMatchObject({ plan: 'premium' });
    expect((await tenants('set-plan', 'tenant3', 'premium')).stdout).toBe('Tenant tenant3 is already on the premium plan: nothing changed.\n');
    expect((await tenants('set-plan', 'tenant3', 'basic')).code).toBe(0);
    expect(await storedPlan('tenant3')).toBe('basic');
    // Control: the other stores kept theirs.
    expect([await storedPlan('tenant1'), await storedPlan('tenant2')]).toEqual(['standard', 'premium']);
  });

  it('adds a tenant: config row, an on-demand encrypted orders table with point-in-time recovery, ACTIVE', async () => {
    const r = await tenants('add', 'tenant4', '--name', 'Tenant Four Garden', '--return-days', '14');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([
      'config row tenant4 written (CREATING)',
      'orders table tenant4-orders created; waiting until it is ACTIVE',
      'orders table tenant4-orders ACTIVE, point-in-time recovery on',
      'tenant tenant4 ACTIVE',
      'Tenant tenant4 ("Tenant Four Garden", 14-day returns, standard plan) is ACTIVE. Add its users: npm run users -- add <username> --tenant tenant4',
    ]);
    const ddb = new DynamoDBClient(stack.clientConfig('operator'));
    const table = (await ddb.send(new DescribeTableCommand({ TableName: 'tenant4-orders' }))).Table!;
    expect(table).toMatchObject({ TableStatus: 'ACTIVE', BillingModeSummary: { BillingMode: 'PAY_PER_REQUEST' }, SSEDescription: { Status: 'ENABLED' } });
    const pitr = await ddb.send(new DescribeContinuousBackupsCommand({ TableName: 'tenant4-orders' }));
    expect(pitr.ContinuousBackupsDescription?.PointInTimeRecoveryDescription?.PointInTimeRecoveryStatus).toBe('ENABLED');
    ddb.destroy();
    // No --plan: the default plan, on the row itself.
    expect((await tenantRows()).find((t) => t.tenantId === 'tenant4')).toMatchObject({ status: 'ACTIVE', plan: 'standard', users: 0 });
    expect(await storedPlan('tenant4')).toBe('standard');
  });

  it('adds users to it who can ask at once, with the temporary password printed once and recorded locally', async () => {
    const first = await users('add', 'tenant4-user', '--tenant', 'tenant4');
    expect(first.code).toBe(0);
    const password = passwordOf(first);
    expect(password).toMatch(/^\S{20}$/);
    expect(first.stdout).toContain(`recorded in ${path.join(dataDir, 'local-users.json')}: npm run ask -- --user tenant4-user`);
    expect((await readLocalUsers(dataDir)).users.find((u) => u.username === 'tenant4-user')).toMatchObject({ tenantId: 'tenant4', temporaryPassword: password });
    expect((await users('add', 'tenant4-user2', '--tenant', 'tenant4')).code).toBe(0);

    const answer = await ask('tenant4-user', "What's your return policy?");
    expect(answer.stderr).toContain('first sign-in');
    expect(answer).toMatchObject({ code: 0, stdout: 'You can return items within 14 days.\n' });
    const listed = JSON.parse((await users('list', '--tenant', 'tenant4', '--json')).stdout) as { username: string; status: string; enabled: boolean }[];
    expect(listed.map((u) => [u.username, u.status, u.enabled])).toEqual([
      ['tenant4-user', 'CONFIRMED', true],
      ['tenant4-user2', 'FORCE_CHANGE_PASSWORD', true],
    ]);
  });

  it('suspends a store: its users still sign in, their questions fail, nothing else changes; resume answers again', async () => {
    expect((await tenants('suspend', 'tenant4')).stdout).toContain('Tenant tenant4 is SUSPENDED.');
    const refused = await ask('tenant4-user', "What's your return policy?");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("This store's assistant is suspended");
    // Control: another store answers meanwhile.
    expect((await ask('tenant2-user', "What's your return policy?")).code).toBe(0);
    expect((await tenants('resume', 'tenant4')).stdout).toContain('Tenant tenant4 is ACTIVE.');
    expect((await ask('tenant4-user', "What's your return policy?")).code).toBe(0);
  });

  it('isolation follows the new tenant: the whole isolation matrix with tenant4\'s users and tenant1\'s, after onboarding by the CLI', async () => {
    const rows = JSON.parse((await users('list', '--json')).stdout) as MatrixUser[];
    const who = (name: string) => rows.find((u) => u.username === name)!;
    const callers = ['tenant4-user', 'tenant4-user2', 'tenant1-user'].map(who);
    const operator = new DynamoDBClient(stack.clientConfig('operator'));
    const matrix = await IsolationMatrix.prepare({ stack, operator, callers, population: [...callers, who('tenant1-user2')], tenants: ['tenant1', 'tenant4'] });
    try {
      const r = await matrix.run();
      console.log(r.summary);
      // Cross-boundary cells include: tenant4-user and tenant4-user2 each other's orders and
      // conversations, tenant4's credentials on tenant1's table and config row, tenant1's on tenant4's.
      expect(r.mismatches).toEqual([]);
      expect(r.total).toBe(3 * 6 * 7 * 7);
      expect(r.allowed).toBe(3 * CONTROL_CELLS_PER_CALLER);
      expect(r.denied).toBe(r.total - r.allowed);
    } finally {
      await matrix.cleanup();
      operator.destroy();
    }
    // Control: the planted rows are gone again, so the store list is the operator's, not the test's.
    expect((await tenantRows()).map((t) => t.tenantId)).toEqual(['tenant1', 'tenant2', 'tenant3', 'tenant4']);
  });

  it('disables, enables and resets a user', async () => {
    expect((await users('disable', 'tenant4-user2')).code).toBe(0);
    expect(JSON.parse((await users('list', '--tenant', 'tenant4', '--json')).stdout)[1]).toMatchObject({ username: 'tenant4-user2', enabled: false });
    expect((await users('enable', 'tenant4-user2')).code).toBe(0);
    const reset = await users('reset-password', 'tenant4-user');
    expect(reset.code).toBe(0);
    const password = passwordOf(reset)!;
    expect((await readLocalUsers(dataDir)).users.find((u) => u.username === 'tenant4-user')).toMatchObject({ status: 'FORCE_CHANGE_PASSWORD', temporaryPassword: password });
    expect((await ask('tenant4-user', "What's your return policy?")).code).toBe(0);
  });

  it('refuses bad input with a clear error, a non-zero exit and no change', async () => {
    const before = await tenantRows();
    const cases: [Promise<CliResult>, number, string][] = [
      [tenants('add', 'tenant1', '--name', 'Again', '--return-days', '5'), 1, "Tenant 'tenant1' already exists (ACTIVE, \"Tenant One Outfitters\"): nothing changed."],
      [tenants('add', 'Tenant_5', '--name', 'Bad', '--return-days', '5'), 1, "Invalid tenant id 'Tenant_5'"],
      [tenants('add', 'tenant5', '--name', 'No days'), 2, 'tenants add needs --name "<store name>" and --return-days <n>'],
      [tenants('add', 'tenant5', '--name', 'Bad days', '--return-days', 'ten'), 1, '--return-days must be a whole number of days from 0 to 365.'],
      [tenants('suspend', 'tenant9'), 1, "Unknown tenant 'tenant9'"],
      [tenants('set-plan', 'tenant1', 'gold'), 1, "Unknown plan 'gold': one of basic, standard, premium."],
      [tenants('set-plan', 'tenant9', 'basic'), 1, "Unknown tenant 'tenant9'"],
      [tenants('set-plan', 'tenant1'), 2, 'tenants set-plan needs <tenantId> <plan>'],
      [tenants('add', 'tenant5', '--name', 'Gold', '--return-days', '5', '--plan', 'gold'), 1, "Unknown plan 'gold': one of basic, standard, premium."],
      [users('add', 'tenant1-user', '--tenant', 'tenant1'), 1, "User 'tenant1-user' already exists: nothing changed."],
      [users('add', 'someone', '--tenant', 'tenant9'), 1, "Unknown tenant 'tenant9'"],
      [users('disable', 'nobody-here'), 1, "Unknown user 'nobody-here'"],
      [tenants('remove', 'tenant4'), 1, 'Tenant tenant4 has 2 user(s) (tenant4-user, tenant4-user2): pass --yes to disable and delete them with the store.'],
    ];
    for (const [run, code, message] of cases) {
      const r = await run;
      expect(r.code, message).toBe(code);
      expect(r.stderr).toContain(message);
    }
    expect(await tenantRows()).toEqual(before);
    expect((await users('list', '--tenant', 'tenant4', '--json')).stdout).toContain('tenant4-user2');
  });

  it('removes a store with --yes: its users, a backup of its orders under .data, its table, its row', async () => {
    const r = await tenants('remove', 'tenant4', '--yes');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('user tenant4-user disabled and deleted');
    expect(r.stdout).toContain('user tenant4-user2 disabled and deleted');
    expect(r.stdout).toMatch(/orders table tenant4-orders backed up \(arn:aws:dynamodb:us-east-1:\d+:table\/tenant4-orders\/backup\//);
    expect(r.stdout).toContain('Tenant tenant4 removed');
    const backups = await readdir(path.join(dataDir, 'backups'));
    expect(backups.some((f) => f.startsWith('tenant4-orders'))).toBe(true);
    expect((await tenantRows()).map((t) => t.tenantId)).toEqual(['tenant1', 'tenant2', 'tenant3']);
    expect((await readLocalUsers(dataDir)).users.map((u) => u.username)).not.toContain('tenant4-user');
    expect((await ask('tenant4-user', 'hi')).code).toBe(2);
  });

  it('says the local stack is not running when it is not', async () => {
    const r = await runCommand(tenantsCommand, ['--data-dir', path.join(dataDir, 'nowhere'), 'list'], {});
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('start the local stack first (npm start)');
    expect(existsSync(path.join(dataDir, 'nowhere'))).toBe(false);
  });
});

describe('npm run tenants / users -- --target aws (the AWS code path, against the local stand-ins)', () => {
  it('onboards a tenant and a user, keeping the temporary password in a secret and printing the command that reads it', async () => {
    const onboarded = await awsTenants('add', 'tenant5', '--name', 'Tenant Five Toys', '--return-days', '7', '--plan', 'basic');
    expect(onboarded.stderr).toBe('');
    expect(onboarded.code).toBe(0);
    expect(onboarded.stdout).toContain('7-day returns, basic plan) is ACTIVE');
    expect(await storedPlan('tenant5')).toBe('basic');
    expect((await awsTenants('set-plan', 'tenant5', 'premium')).stdout).toContain('Tenant tenant5 is on the premium plan (was basic)');
    expect(await storedPlan('tenant5')).toBe('premium');
    const refused = await awsTenants('set-plan', 'tenant5', 'platinum');
    expect(refused).toMatchObject({ code: 1, stderr: expect.stringContaining("Unknown plan 'platinum'") });
    expect(await storedPlan('tenant5')).toBe('premium');
    const added = await awsUsers('add', 'tenant5-user', '--tenant', 'tenant5');
    expect(added.code).toBe(0);
    const password = passwordOf(added)!;
    expect(added.stdout).toContain(
      'read it with: aws secretsmanager get-secret-value --region us-east-1 --secret-id MultiTenantAiAssistant/seed-users/tenant5-user --query SecretString --output text',
    );
    const sm = new SecretsManagerClient({ ...stack.clientConfig('operator') });
    const secret = await sm.send(new GetSecretValueCommand({ SecretId: 'MultiTenantAiAssistant/seed-users/tenant5-user' }));
    expect(JSON.parse(secret.SecretString!)).toEqual({ username: 'tenant5-user', tenantId: 'tenant5', password });
    const reset = await awsUsers('reset-password', 'tenant5-user');
    const again = await sm.send(new GetSecretValueCommand({ SecretId: 'MultiTenantAiAssistant/seed-users/tenant5-user' }));
    expect(JSON.parse(again.SecretString!).password).toBe(passwordOf(reset));
    expect((await awsTenants('list', '--json')).stdout).toContain('"tenantId": "tenant5"');
    expect((await awsTenants('remove', 'tenant5', '--yes')).code).toBe(0);
    await expect(sm.send(new GetSecretValueCommand({ SecretId: 'MultiTenantAiAssistant/seed-users/tenant5-user' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    sm.destroy();
  });

  it('names the missing outputs of an older deployment', async () => {
    const older = path.join(dataDir, 'older-outputs.json');
    await writeCdkOutputs(older, { Region: 'us-east-1', UserPoolId: stack.cognito.poolId });
    const r = await runCommand(tenantsCommand, ['--target', 'aws', '--outputs-file', older, 'list'], awsIo());
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('lacks ConfigTableName, TablePrefix, UserSecretPrefix');
  });
});
