/**
 * The real `aws-amplify` v6 client against the local stack, as a team's own app uses it: a separate
 * process (test/fixtures/amplify-app.ts) configured from `<dataDir>/amplify_outputs.json`, trusting
 * the local CA only through NODE_EXTRA_CA_CERTS, signing in with USER_PASSWORD_AUTH at the local
 * Cognito, subscribing to onAnswer in Amplify's default `userPool` mode (the ACCESS token, over WSS,
 * with the header-<base64url> subprotocol) and asking over HTTPS.
 *
 * Controls: another user's subscription to that answerId is refused; without the CA the same app
 * cannot reach the HTTPS endpoint (so the first test really went through TLS verification).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../infra/local/stack.ts';

const APP = path.join(import.meta.dirname, 'fixtures', 'amplify-app.ts');
const NEW_PASSWORD = 'Correct-Horse-Battery-9!';

type Line = { kind: string; [k: string]: unknown };

let dataDir: string;
let stack: LocalStack;
let sfn: SFNClient;
const passwords = new Map<string, string>();

/** Runs the app to its exit; its stdout lines (JSON) and exit code. Waits for the process, never for time. */
function runApp(mode: string, username: string, extra: string[] = [], env: Record<string, string | undefined> = {}): Promise<{ code: number | null; lines: Line[]; stderr: string }> {
  const password = passwords.get(username) ?? stack.cognito.temporaryPasswords()[username]!;
  const child = spawn(process.execPath, ['--import', 'tsx', APP, stack.amplifyOutputsFile!, mode, ...extra], {
    env: {
      ...process.env,
      NODE_EXTRA_CA_CERTS: stack.tls.caFile,
      AMPLIFY_USERNAME: username,
      AMPLIFY_PASSWORD: password,
      AMPLIFY_NEW_PASSWORD: NEW_PASSWORD,
      AMPLIFY_USER_POOL_ENDPOINT: stack.edgeUrl,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      const lines = stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Line);
      // The first sign-in set the permanent password: later runs sign in with it.
      if (lines.some((l) => l.kind === 'signed-in')) passwords.set(username, NEW_PASSWORD);
      resolve({ code, lines, stderr });
    });
  });
}

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'assistant-amplify-'));
  stack = await startLocalStack({ port: 0, dataDir, seedOrdersPerUser: 0, retryIntervalOverrides: 0 });
  sfn = new SFNClient(stack.clientConfig('operator'));
});

afterAll(async () => {
  sfn?.destroy();
  await stack?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('Amplify v6, configured from amplify_outputs.json', () => {
  let answered: { answerId: string; sub: string } | undefined;

  it('points Amplify at the HTTPS GraphQL endpoint and the local user pool', async () => {
    const outputs = JSON.parse(await readFile(stack.amplifyOutputsFile!, 'utf8')) as { auth: Record<string, unknown>; data: Record<string, unknown> };
    expect(outputs.data.url).toBe(stack.graphqlHttpsUrl);
    expect(stack.amplifyOutputsFile).toBe(path.join(dataDir, 'amplify_outputs.json'));
    expect(String(outputs.data.url)).toMatch(/^https:\/\//);
    expect(outputs.data.default_authorization_type).toBe('AMAZON_COGNITO_USER_POOLS');
    expect(outputs.auth).toMatchObject({ user_pool_id: stack.cognito.poolId, user_pool_client_id: stack.cognito.clientId });
  });

  it("signs in (USER_PASSWORD_AUTH), subscribes over WSS with the access token, asks, and receives ACCEPTED ... DONE with its store's answer", async () => {
    const run = await runApp('ask', 'tenant1-user');
    expect(run.code, run.stderr + JSON.stringify(run.lines)).toBe(0);
    const sub = run.lines.find((l) => l.kind === 'signed-in')!.sub as string;
    expect(sub).toBe(stack.user('tenant1-user').sub);
    const asked = run.lines.find((l) => l.kind === 'asked')!;
    const events = run.lines.filter((l) => l.kind === 'event');
    expect(events[0]).toMatchObject({ status: 'ACCEPTED' });
    expect(events.at(-1)).toMatchObject({ status: 'DONE' });
    // Tenant One Outfitters' policy (tasks/seed.ts: 10 days), never another store's.
    expect(events.at(-1)!.text).toContain('10 days');
    for (const e of events) expect(e).toMatchObject({ answerId: asked.answerId, userId: sub });
    expect(events.map((e) => e.seq)).toEqual([...events.map((e) => e.seq as number)].sort((a, b) => a - b));

    // The tenant the workflow ran for came from the access token's claim (the pre token generation trigger).
    const execution = await sfn.send(new DescribeExecutionCommand({ executionArn: asked.executionId as string }));
    expect(JSON.parse(execution.input!)).toMatchObject({ identity: { tenantId: 'tenant1', userId: sub } });
    answered = { answerId: asked.answerId as string, sub };
  });

  it("refuses another user's subscription to that answerId (control: its owner's was acknowledged above)", async () => {
    expect(answered).toBeDefined();
    const run = await runApp('subscribe', 'tenant2-user', [answered!.answerId]);
    expect(run.code, run.stderr + JSON.stringify(run.lines)).toBe(0);
    expect(run.lines.find((l) => l.kind === 'signed-in')).toBeDefined();
    expect(run.lines.find((l) => l.kind === 'refused')).toMatchObject({ message: expect.stringMatching(/Unauthorized|Not Authorized/i) });
    expect(run.lines.some((l) => l.kind === 'subscribed' || l.kind === 'event')).toBe(false);
  });

  it('control: without the local CA the same app cannot reach the HTTPS endpoint', async () => {
    const run = await runApp('ask-only', 'tenant1-user2', [], { NODE_EXTRA_CA_CERTS: undefined });
    expect(run.code, run.stderr + JSON.stringify(run.lines)).toBe(1);
    // Sign-in (plain HTTP to the local Cognito) works; the HTTPS call does not.
    expect(run.lines.find((l) => l.kind === 'signed-in')).toBeDefined();
    expect(run.lines.some((l) => l.kind === 'asked')).toBe(false);
    const error = run.lines.find((l) => l.kind === 'error')!;
    expect(error.message).toMatch(/network error/i);
    // Node's verdict on the same endpoint without the CA: the chain ends at an issuer it does not trust.
    expect(error.transport).toMatch(/CERT|ISSUER|SIGNATURE/);
  });
});
