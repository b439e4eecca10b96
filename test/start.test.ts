/**
 * `npm start`'s entry point as a user runs it: a separate process that prints the endpoints, a
 * `ready:` line, writes .data/local-env.json, serves requests, and stops cleanly on SIGTERM.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, describe, expect, it } from 'vitest';
import { readLocalEnv, principalConfig } from '../client/cli/targets.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** Starts `npm start`'s entry with `args`; resolves once it prints `ready:` (rejects if it exits first). */
async function startUntilReady(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'infra/local/main.ts', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = { stdout: '', stderr: '' };
  child.stderr.on('data', (c: Buffer) => (output.stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (c: Buffer) => {
      output.stdout += c.toString();
      if (/^ready: /m.test(output.stdout)) resolve();
    });
    child.on('exit', (code) => reject(new Error(`exited ${code} before ready:\n${output.stdout}\n${output.stderr}`)));
  });
  return { child, exited, output };
}

describe('npm start (infra/local/main.ts)', () => {
  it('prints ready:, writes local-env.json, answers signed requests and stops on SIGTERM', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'assistant-start-'));
    dirs.push(dataDir);
    const { child, exited, output } = await startUntilReady(['--memory', '--data-dir', dataDir], { EDGE_PORT: '0' });
    const stdout = output.stdout;
    try {
      expect(stdout).toMatch(/AWS_ENDPOINT_URL=http:\/\/127\.0\.0\.1:\d+/);
      // Every service the edge routes is named, from the edge's own routes (cognito-idp and logs included).
      expect(stdout).toMatch(/AWS_ENDPOINT_URL=\S+ +\(dynamodb, sts, kms, bedrock, states, cognito-idp, logs, ssm, secretsmanager; region /);
      expect(stdout).toContain('tenant1-user2');
      // Introspection is off unless --introspection, as on the deployed API.
      expect(stdout).toContain('introspection: disabled, as deployed');
      // The default runtime is converse, as `npm run deploy`'s (Agents Classic is closed to new customers).
      expect(stdout).toMatch(/\(Express; agent runtime converse\b/);
      // The default model is one Bedrock serves today, through an inference profile.
      expect(stdout).toMatch(/model: +us\.anthropic\.claude-haiku-4-5-20251001-v1:0 \(Claude Haiku 4\.5, ACTIVE;/);
      const env = readLocalEnv(dataDir);
      expect(stdout).toContain(`ready: edge ${env.endpoints.edge}`);
      // The web UI on the AppSync port, with this stack's config (the page itself may still be building).
      const webUi = /web UI: +(http:\/\/localhost:\d+\/)/.exec(stdout)?.[1];
      expect(webUi).toBe(`http://localhost:${new URL(env.endpoints.graphql).port}/`);
      const config = (await (await fetch(new URL('/config.json', env.endpoints.graphql))).json()) as { userPool: { clientId: string } };
      expect(config.userPool.clientId).toBe(env.userPool.clientId);
      expect([200, 503]).toContain((await fetch(new URL('/', env.endpoints.graphql))).status);
      const raw = await readFile(path.join(dataDir, 'local-env.json'), 'utf8');
      expect(Object.keys(JSON.parse(raw).principals).sort()).toEqual(
        ['appsync-api', 'appsync-usage-data-source', 'invoke-agent', 'mint-credentials', 'operator', 'publish-answer', 'record-failure', 'validate-context'].sort(),
      );
      const me = await new STSClient(principalConfig(env, 'operator')).send(new GetCallerIdentityCommand({}));
      expect(me.Arn).toBe(env.principals.operator!.arn);
      // Secrets go to the file only, never to the console.
      expect(output.stdout + output.stderr).not.toContain(env.principals.operator!.secretAccessKey);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });

  it('refuses --model-id for a model past its end of life before it starts anything, saying why (exit 2; control: the default model above starts)', async () => {
    // One process (each costs seconds); the other refusals' sentences: tasks/models.test.ts.
    const modelId = 'anthropic.claude-3-haiku-20240307-v1:0';
    const child = spawn(process.execPath, ['--import', 'tsx', 'infra/local/main.ts', '--memory', '--model-id', modelId], {
      env: { ...process.env, EDGE_PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code).toBe(2);
    expect(output).toContain(`--model-id ${modelId} cannot be used: Claude 3 Haiku reached end of life on 2026-09-10 in us-east-1`);
    expect(output).not.toContain('ready:');
  });
  it('starts the bedrock-agent runtime when asked to (control for the converse default above)', async () => {
    // Its own directory: --memory still writes local-env.json there (and locks it), and ./.data may be a running stack's.
    const dataDir = await mkdtemp(path.join(tmpdir(), 'assistant-start-'));
    dirs.push(dataDir);
    const { child, exited, output } = await startUntilReady(['--memory', '--data-dir', dataDir, '--agent-runtime', 'bedrock-agent'], { EDGE_PORT: '0', PORT: '0' });
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output.stdout).toMatch(/\(Express; agent runtime bedrock-agent\b/);
  });
});
