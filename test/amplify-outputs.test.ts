/**
 * amplify_outputs.json (tasks/amplify-outputs.ts) as Amplify itself reads it: aws-amplify's
 * `parseAmplifyConfig` (the function `Amplify.configure` runs on a Gen 2 outputs document) turns it
 * into the Auth and API configuration of this backend. `npm run deploy` writes the same document
 * from the deployed stack's outputs (a fake cdk-outputs.json here).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AmplifyOutputs } from '@aws-amplify/core/internals/utils';
import { Amplify } from 'aws-amplify';
import { parseAmplifyConfig } from 'aws-amplify/utils';
import { afterAll, describe, expect, it } from 'vitest';
import { deployCommand } from '../infra/aws/deploy.ts';
import { AMPLIFY_OUTPUTS_FILE, amplifyOutputs, type AmplifyBackend } from '../tasks/amplify-outputs.ts';
import { USER_POOL_PASSWORD_POLICY } from '../tasks/user-pool-policy.ts';
import { runCommand, writeCdkOutputs } from './cli-helpers.ts';

const DEPLOYED: AmplifyBackend = {
  region: 'eu-west-1',
  userPoolId: 'eu-west-1_AbCdEf123',
  userPoolClientId: '1example23456789abcdefghij',
  graphqlUrl: 'https://abcdefghijklmnopqrstuvwxyz.appsync-api.eu-west-1.amazonaws.com/graphql',
};

/** What Amplify's configuration must say for `backend`. */
const expectedConfig = (backend: AmplifyBackend) => ({
  Auth: {
    Cognito: {
      userPoolId: backend.userPoolId,
      userPoolClientId: backend.userPoolClientId,
      passwordFormat: {
        minLength: USER_POOL_PASSWORD_POLICY.minLength,
        requireLowercase: true,
        requireUppercase: true,
        requireNumbers: true,
        requireSpecialCharacters: true,
      },
    },
  },
  API: { GraphQL: { endpoint: backend.graphqlUrl, region: backend.region, defaultAuthMode: 'userPool' } },
});

/** `npm run deploy` with the preflight skipped and the cdk CLI replaced by `cdk`. */
function deploy(args: string[], cdk: (args: string[]) => Promise<number>) {
  const io = { clock: () => new Date(), cdk };
  return runCommand(deployCommand, ['--skip-preflight', ...args], io);
}

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('amplify_outputs.json', () => {
  it('is Amplify Gen 2 outputs: parseAmplifyConfig and Amplify.configure read the user pool and the GraphQL API from it', () => {
    const outputs = amplifyOutputs(DEPLOYED);
    const typed: AmplifyOutputs = outputs; // the shape of aws-amplify's own type
    expect(Object.keys(typed).sort()).toEqual(['auth', 'data', 'version']);
    expect(parseAmplifyConfig(outputs)).toEqual(expectedConfig(DEPLOYED));
    Amplify.configure(outputs);
    expect(Amplify.getConfig()).toMatchObject(expectedConfig(DEPLOYED));
    // The control: without its version, Amplify does not take the document as Gen 2 outputs (no Auth is derived).
    expect(parseAmplifyConfig({ ...outputs, version: undefined })).not.toHaveProperty('Auth');
  });

  it('npm run deploy writes it beside cdk-outputs.json from the stack outputs', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'assistant-amplify-'));
    dirs.push(dir);
    const cdkOutputs = path.join(dir, 'cdk-outputs.json');
    const ran: string[][] = [];
    const cdk = async (args: string[]) => {
      ran.push(args);
      await writeCdkOutputs(cdkOutputs, { Region: DEPLOYED.region, GraphqlUrl: DEPLOYED.graphqlUrl, UserPoolId: DEPLOYED.userPoolId, UserPoolClientId: DEPLOYED.userPoolClientId, RealtimeUrl: 'wss://x' });
      return 0;
    };
    const r = await deploy(['--outputs-file', cdkOutputs], cdk);
    expect(r.code).toBe(0);
    expect(ran).toEqual([['deploy', '--outputs-file', cdkOutputs]]);
    const file = path.join(dir, AMPLIFY_OUTPUTS_FILE);
    expect(r.stdout).toContain(`Wrote ${file}`);
    const written = JSON.parse(await readFile(file, 'utf8')) as AmplifyOutputs;
    expect(written).toEqual(amplifyOutputs(DEPLOYED));
    expect(parseAmplifyConfig(written)).toEqual(expectedConfig(DEPLOYED));
  });

  it('npm run deploy says so when the outputs lack what it needs, and writes nothing after a failed deploy', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'assistant-amplify-'));
    dirs.push(dir);
    const cdkOutputs = path.join(dir, 'cdk-outputs.json');
    const older = await deploy(['--outputs-file', cdkOutputs], async () => (await writeCdkOutputs(cdkOutputs, { Region: DEPLOYED.region, GraphqlUrl: DEPLOYED.graphqlUrl }), 0));
    expect(older.code).toBe(0);
    expect(older.stderr).toContain(`Deployed, but ${AMPLIFY_OUTPUTS_FILE} was not written: ${cdkOutputs} lacks UserPoolId, UserPoolClientId`);
    const failed = await deploy([`--outputs-file=${cdkOutputs}`], async () => 1);
    expect(failed.code).toBe(1);
    await expect(readFile(path.join(dir, AMPLIFY_OUTPUTS_FILE))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
