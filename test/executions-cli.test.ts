/**
 * `npm run executions -- list` against the local stack: `--limit N` rows, newest first, and a hint
 * whose `--next-token` lists the next ones, until every execution was listed once; the option
 * checks. (The paging logic and the hint text alone: client/cli/executions.test.ts.)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { executionsCommand } from '../client/cli/executions.ts';
import { writeLocalEnv } from '../client/cli/targets.ts';
import { localEnvOf } from '../infra/local/local-env.ts';
import { startLocalStack, type LocalStack } from '../infra/local/stack.ts';
import { runCommand } from './cli-helpers.ts';

describe('npm run executions -- list against the local stack', () => {
  let stack: LocalStack;
  let dataDir: string;
  const started: string[] = [];

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'assistant-executions-'));
    stack = await startLocalStack({ port: 0 });
    await writeLocalEnv(localEnvOf(stack, false), dataDir);
    const sfn = new SFNClient(stack.clientConfig('operator'));
    // Runs that fail validation at once (no identity): rows to list, nothing else.
    for (let i = 0; i < 7; i++) started.push((await sfn.send(new StartExecutionCommand({ stateMachineArn: stack.iam.resources.stateMachineArn, name: `paging-${i}`, input: '{}' }))).executionArn!);
    sfn.destroy();
  });
  afterAll(async () => {
    await stack?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  const list = (...args: string[]) => runCommand(executionsCommand, ['--data-dir', dataDir, 'list', ...args], {});
  const arnsOf = (stdout: string) => stdout.trim().split('\n').map((l) => l.split(/\s+/).at(-1));
  const tokenOf = (stderr: string) => /--next-token (\S+)/.exec(stderr)?.[1];

  it('control: by default lists them all (up to 50), newest first, with no hint', async () => {
    const all = await list();
    expect(all.code).toBe(0);
    expect(arnsOf(all.stdout)).toEqual([...started].reverse());
    expect(all.stderr).toBe('');
  });

  it('--limit 3: three rows and the command for the next ones; following the hints lists each once', async () => {
    const seen: string[] = [];
    let args = ['--limit', '3'];
    const pages: number[] = [];
    for (;;) {
      const page = await list(...args);
      expect(page.code).toBe(0);
      const arns = arnsOf(page.stdout) as string[];
      seen.push(...arns);
      pages.push(arns.length);
      const token = tokenOf(page.stderr);
      if (!token) {
        expect(page.stderr).toBe('');
        break;
      }
      expect(page.stderr).toContain(`More executions exist after these 3: the next ones with\n  npm run executions -- list --limit 3 --next-token ${token}`);
      args = ['--limit', '3', '--next-token', token];
    }
    expect(pages).toEqual([3, 3, 1]);
    expect(seen).toEqual([...started].reverse());
  });

  it('--json keeps stdout the rows alone; the hint goes to stderr', async () => {
    const page = await list('--limit', '2', '--json');
    expect((JSON.parse(page.stdout) as unknown[]).length).toBe(2);
    expect(tokenOf(page.stderr)).toBeTruthy();
  });

  it('refuses a --limit outside 1-1000, and --next-token on the AWS target (control: --limit 1000 lists)', async () => {
    for (const bad of ['0', '1001', '2.5', 'ten']) {
      expect(await list('--limit', bad)).toMatchObject({ code: 2, stderr: '--limit must be a whole number from 1 to 1000\n' });
    }
    const aws = await runCommand(executionsCommand, ['--target', 'aws', 'list', '--next-token', 'x'], {});
    expect(aws.code).toBe(2);
    expect(aws.stderr).toMatch(/^--next-token continues a local listing; on AWS the list reads the log group/);
    expect(arnsOf((await list('--limit', '1000')).stdout)).toHaveLength(7);
  });

  it('a token from another listing (another --status) is refused by ListExecutions: InvalidToken, exit 1', async () => {
    const token = tokenOf((await list('--limit', '2')).stderr)!;
    const other = await list('--status', 'SUCCEEDED', '--next-token', token);
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/^InvalidToken/);
  });
});
