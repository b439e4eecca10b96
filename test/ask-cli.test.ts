/**
 * `npm run ask` as a user runs it, against a running local stack: the answer on stdout, progress on
 * stderr, the first sign-in's new password remembered, and clear errors with non-zero exits. The
 * command runs in-process; one test runs the script itself.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, runCommand, type CliResult } from './cli-helpers.ts';
import { askCommand } from '../client/cli/ask.ts';
import { readLocalUsers, writeLocalEnv } from '../client/cli/targets.ts';
import { writeLocalUsers } from '../infra/local/services/cognito/service.ts';
import { localEnvOf } from '../infra/local/local-env.ts';
import { startLocalStack, type LocalStack } from '../infra/local/stack.ts';
import { SLOT_TTL_SECONDS } from '../tasks/plans.ts';
import { INFLIGHT_SORT_KEY, userPartition } from '../tasks/usage.ts';

let stack: LocalStack | undefined;
let dataDir: string;

function askCli(...args: string[]): Promise<CliResult> {
  return runCommand(askCommand, ['--data-dir', dataDir, ...args], {});
}

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'assistant-ask-'));
  stack = await startLocalStack({ port: 0, dataDir, retryIntervalOverrides: 0 });
  await writeLocalEnv(localEnvOf(stack, true), dataDir);
  await writeLocalUsers(dataDir, stack.cognito);
});
afterAll(async () => {
  await stack?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('npm run ask', () => {
  it('answers on stdout, reports progress on stderr, and remembers the new password', async () => {
    const first = await askCli('--user', 'tenant2-user', "What's your return policy?");
    expect(first).toMatchObject({ code: 0, stdout: 'You can return items within 20 days.\n' });
    expect(first.stderr).toContain('first sign-in');
    // Progress in words, in order, on stderr only.
    const progress = first.stderr.split('\n').filter((l) => l.startsWith('… '));
    expect(progress).toEqual(['… your question was accepted', '… checking your account', "… reading the store's return policy", '… writing the answer']);
    const user = (await readLocalUsers(dataDir)).users.find((u) => u.username === 'tenant2-user')!;
    expect(user.temporaryPassword).toBeUndefined();
    expect(user.password).toBeTruthy();
    // The second run signs in with the remembered password, with no challenge.
    const second = await askCli('--user', 'tenant2-user', '--json', 'Which orders did I place?');
    expect(second.code).toBe(0);
    expect(second.stderr).not.toContain('first sign-in');
    const events = second.stdout.trim().split('\n').map((l) => JSON.parse(l) as { status: string; userId: string });
    expect(events.at(-1)).toMatchObject({ status: 'DONE', userId: stack!.user('tenant2-user').sub });
  });

  it('exits 1 with the reason when the API refuses the question (the ask resolver checks it before anything starts)', async () => {
    const out = await askCli('--user', 'tenant3-user', 'x'.repeat(2001));
    expect(out.code).toBe(1);
    expect(out.stdout).toBe('');
    expect(out.stderr).toContain('The API refused the question (BadRequestException): The question is longer than 2000 characters.');
  });

  it('exits 1 with the reason when the answer FAILED (the workflow started, the agent failed)', async () => {
    stack!.bedrock.injectFault({ kind: 'fail', times: 1 });
    const out = await askCli('--user', 'tenant3-user', "What's your return policy?");
    expect(out.code).toBe(1);
    expect(out.stdout).toBe('');
    expect(out.stderr).toMatch(/execution arn:aws:states:/);
    expect(out.stderr).toMatch(/^FAILED: .+/m);
  });

  it('exits 3 with the message when a limit of the plan refuses the question (nothing starts); control: exits 0 once the slot is free', async () => {
    const user = stack!.user('tenant3-user'); // basic plan: one answer at a time
    const dynamo = new DynamoDBClient(stack!.clientConfig('operator'));
    const inflight = { TableName: stack!.tables.usage, Key: { pk: { S: userPartition(user.tenantId, user.sub) }, sk: { S: INFLIGHT_SORT_KEY } } };
    const held = `${Math.floor(Date.now() / 1000) + SLOT_TTL_SECONDS}#${user.sub}.held`;
    await dynamo.send(new UpdateItemCommand({ ...inflight, UpdateExpression: 'ADD #s :s', ExpressionAttributeNames: { '#s': 'slots' }, ExpressionAttributeValues: { ':s': { SS: [held] } } }));
    const refused = await askCli('--user', 'tenant3-user', "What's your return policy?");
    expect(refused.code).toBe(3);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toMatch(/Refused \(Throttled\): You can have 1 answer in progress at once \(basic plan\); try again when one has ended \(at the latest at \d\d:\d\d UTC\)\.\n$/);
    await dynamo.send(new UpdateItemCommand({ ...inflight, UpdateExpression: 'DELETE #s :s', ExpressionAttributeNames: { '#s': 'slots' }, ExpressionAttributeValues: { ':s': { SS: [held] } } }));
    expect((await askCli('--user', 'tenant3-user', "What's your return policy?")).code).toBe(0);
  });

  it('exits 2 for an unknown user, naming the known ones', async () => {
    const out = await askCli('--user', 'nobody', 'hi');
    expect(out.code).toBe(2);
    expect(out.stderr).toContain("Unknown user 'nobody'. Local users: tenant1-user, tenant1-user2, tenant2-user, tenant3-user");
  });

  it('runs as a script: a usage error exits 2 with the usage, --help exits 0', async () => {
    const script = await runCli('client/cli/ask.ts', ['--user', 'tenant2-user']);
    expect(script).toMatchObject({ code: 2, stdout: '' });
    expect(script.stderr).toContain('Usage: npm run ask --');
    const help = await askCli('--help');
    expect(help).toMatchObject({ code: 0, stdout: '' });
    expect(help.stderr).toContain('Usage: npm run ask --');
  });

  it('exits 1 with advice when the stack is not running', async () => {
    await stack!.stop();
    stack = undefined;
    const out = await askCli('--user', 'tenant2-user', 'hi');
    expect(out.code).toBe(1);
    expect(out.stderr).toContain('is not reachable');
    expect(out.stderr).toContain('npm start');
  });
});
