/**
 * `npm run ask -- --target aws`, as a person runs it against a deployment: endpoints and ids from a
 * cdk-outputs.json, sign-in with the user pool (here the local one, its endpoint given to the
 * command in-process as AWS_ENDPOINT_URL would give it to the SDK), the seeded user's secret piped
 * to --password-stdin.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand, stdinOf, writeCdkOutputs, type CliResult } from './cli-helpers.ts';
import { askCommand } from '../client/cli/ask.ts';
import { readLocalUsers } from '../client/cli/targets.ts';
import { writeLocalUsers } from '../infra/local/services/cognito/service.ts';
import { startLocalStack, type LocalStack } from '../infra/local/stack.ts';

let stack: LocalStack;
let dir: string;
let outputsFile: string;

function askAws(stdin: string | undefined, ...args: string[]): Promise<CliResult> {
  return runCommand(askCommand, ['--target', 'aws', '--outputs-file', outputsFile, ...args], {
    stdin: stdinOf(stdin),
    aws: { endpoints: { cognito: stack.edgeUrl } },
  });
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'assistant-ask-aws-'));
  stack = await startLocalStack({ port: 0, dataDir: dir, retryIntervalOverrides: 0 });
  await writeLocalUsers(dir, stack.cognito);
  outputsFile = path.join(dir, 'cdk-outputs.json');
  await writeCdkOutputs(outputsFile, {
    Region: stack.iam.location.region,
    GraphqlUrl: stack.graphqlUrl,
    RealtimeUrl: stack.realtimeUrl,
    UserPoolId: stack.cognito.poolId,
    UserPoolClientId: stack.cognito.clientId,
  });
});
afterAll(async () => {
  await stack?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('npm run ask -- --target aws', () => {
  it("signs in with the seeded user's secret on stdin, sets the new password from its second line, and asks", async () => {
    const temporary = (await readLocalUsers(dir)).users.find((u) => u.username === 'tenant1-user')!.temporaryPassword!;
    const secret = JSON.stringify({ username: 'tenant1-user', tenantId: 'tenant1', password: temporary });
    const chosen = 'Chosen-Passw0rd!-for-the-test';

    const noNewPassword = await askAws(`${secret}\n`, '--user', 'tenant1-user', '--password-stdin', "What's your return policy?");
    expect(noNewPassword.code).toBe(1);
    expect(noNewPassword.stderr).toContain('second line of --password-stdin');

    const first = await askAws(`${secret}\n${chosen}\n`, '--user', 'tenant1-user', '--password-stdin', "What's your return policy?");
    expect(first.stderr).toContain('first sign-in');
    expect(first).toMatchObject({ code: 0, stdout: 'You can return items within 10 days.\n' });
    for (const out of [first.stdout, first.stderr]) {
      expect(out).not.toContain(temporary);
      expect(out).not.toContain(chosen);
    }

    const again = await askAws(`${chosen}\n`, '--user', 'tenant1-user', '--password-stdin', "What's your return policy?");
    expect(again).toMatchObject({ code: 0, stdout: 'You can return items within 10 days.\n' });
    expect(again.stderr).not.toContain('first sign-in');
  });

  it('a wrong password fails the sign-in with exit 1', async () => {
    const out = await askAws('Not-the-passw0rd!\n', '--user', 'tenant2-user', '--password-stdin', 'hi');
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/Sign-in failed \(NotAuthorizedException\)/);
  });

  it('without a terminal and without --password-stdin, says how to give the password', async () => {
    const out = await askAws(undefined, '--user', 'tenant2-user', 'hi');
    expect(out.code).toBe(1);
    expect(out.stderr).toContain('--password-stdin');
  });

  it('without cdk-outputs.json, says to deploy', async () => {
    const out = await askAws('x\n', '--user', 'tenant2-user', '--password-stdin', '--outputs-file', path.join(dir, 'absent.json'), 'hi');
    expect(out.code).toBe(1);
    expect(out.stderr).toContain('not found. Deploy (or redeploy) with npm run deploy');
  });
});
