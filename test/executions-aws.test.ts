/**
 * `npm run executions -- --target aws`, as an operator runs it against a deployment, over the wire:
 * the endpoints and names come from a cdk-outputs.json. The command runs in-process with the
 * operator's keys and the endpoints given to it; one test runs the script itself, with credentials
 * from the SDK's default chain (environment keys) and endpoints from AWS_ENDPOINT_URL*. The deployment is the local stack,
 * plus a local CloudWatch Logs holding the executions' records in the shape Step Functions writes
 * for an Express state machine (ListExecutions and GetExecutionHistory are not used in this mode).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, runCommand, writeCdkOutputs, type CliResult } from './cli-helpers.ts';
import { executionsCommand } from '../client/cli/executions.ts';
import type { AnswerEventRecord } from '../infra/local/services/appsync/graphql.ts';
import { Edge } from '../infra/local/edge/edge.ts';
import { writeLocalEnv } from '../client/cli/targets.ts';
import { localEnvOf } from '../infra/local/local-env.ts';
import { silentLogger } from '../infra/local/edge/log.ts';
import { LogsService, stepFunctionsLogEvents } from '../infra/local/services/logs/service.ts';
import { STATE_MACHINE_LOG_GROUP } from '../infra/local/iam/principals.ts';
import { startLocalStack, type LocalStack } from '../infra/local/stack.ts';
import { ask, historyOf, recordEvents, type Asked } from './workflow-helpers.ts';

/** A log group of its own, the name the operator's policy allows, which this test alone delivers to. */
const LOG_GROUP = STATE_MACHINE_LOG_GROUP;
let stack: LocalStack;
let logsEdge: Edge;
let logsUrl: string;
let dir: string;
let outputsFile: string;
let failed: Asked;
let answered: Asked;
/** Ran, but its records were not delivered: listing it would mean the CLI asked Step Functions, not the logs. */
let undelivered: Asked;

function targetArgs(args: string[]): string[] {
  return args[0] === '--target' ? args : ['--target', 'aws', '--outputs-file', outputsFile, ...args];
}

function cli(args: string[]): Promise<CliResult> {
  const aws = { credentials: stack.iam.credentials('operator'), endpoints: { sfn: stack.edgeUrl, dynamodb: stack.edgeUrl, logs: logsUrl } };
  return runCommand(executionsCommand, targetArgs(args), { aws });
}

/** The script as an operator runs it: credentials from the SDK's default chain, endpoints from AWS_ENDPOINT_URL*. */
function script(args: string[]): Promise<CliResult> {
  const creds = stack.iam.credentials('operator');
  const env: Record<string, string | undefined> = {
    AWS_ACCESS_KEY_ID: creds.accessKeyId,
    AWS_SECRET_ACCESS_KEY: creds.secretAccessKey,
    AWS_ENDPOINT_URL: stack.edgeUrl,
    AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: logsUrl,
    AWS_CONFIG_FILE: path.join(dir, 'no-config'),
    AWS_SHARED_CREDENTIALS_FILE: path.join(dir, 'no-credentials'),
    AWS_PROFILE: undefined,
    AWS_REGION: undefined,
    AWS_SESSION_TOKEN: undefined,
  };
  return runCli('client/cli/executions.ts', targetArgs(args), { env });
}

/** Step Functions' delivery of an execution's records to the state machine's log group. */
async function deliver(executionArn: string): Promise<void> {
  const events = stepFunctionsLogEvents(executionArn, await historyOf(stack, executionArn));
  logs.deliver(LOG_GROUP, `states/MultiTenantAiAssistantStack-assistant/${executionArn.split(':').pop()}`, events);
}

let logs: LogsService;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'assistant-executions-aws-'));
  stack = await startLocalStack({ port: 0, retryIntervalOverrides: 0 });
  logs = new LogsService(stack.iam.location, stack.evaluator, { pageSize: 5 });
  logs.createLogGroup(LOG_GROUP);
  logsEdge = new Edge({ iam: stack.iam, services: { logs }, clock: () => new Date(), logger: silentLogger });
  logsUrl = await logsEdge.listen(0);
  outputsFile = path.join(dir, 'cdk-outputs.json');
  await writeCdkOutputs(outputsFile, {
    Region: stack.iam.location.region,
    StateMachineArn: stack.iam.resources.stateMachineArn,
    StateMachineLogGroupName: LOG_GROUP,
    RunsTableName: stack.tables.runs,
  });
  const events: AnswerEventRecord[] = recordEvents(stack);
  failed = await ask(stack, events, 'tenant3-user', 'x'.repeat(2001));
  answered = await ask(stack, events, 'tenant1-user', "What's your return policy?");
  undelivered = await ask(stack, events, 'tenant2-user', "What's your return policy?");
  expect([failed.status, answered.status]).toEqual(['FAILED', 'SUCCEEDED']);
  await deliver(failed.executionArn);
  await deliver(answered.executionArn);
  await writeLocalEnv(localEnvOf(stack, false), dir);
});
afterAll(async () => {
  await logsEdge?.close();
  await stack?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('npm run executions -- --target aws', () => {
  it('lists the executions found in the log group, and filters by status', async () => {
    const all = await cli(['list', '--json']);
    expect(all.stderr).toBe('');
    const rows = JSON.parse(all.stdout) as Array<{ executionArn: string; status: string; startDate: string; stopDate: string }>;
    expect(rows.map((r) => [r.executionArn, r.status])).toEqual([
      [answered.executionArn, 'SUCCEEDED'],
      [failed.executionArn, 'FAILED'],
    ]);
    expect(rows.map((r) => r.executionArn)).not.toContain(undelivered.executionArn);
    expect(Date.parse(rows[1]!.stopDate)).toBeGreaterThanOrEqual(Date.parse(rows[1]!.startDate));

    const onlyFailed = await cli(['list', '--status', 'FAILED']);
    expect(onlyFailed.code).toBe(0);
    expect(onlyFailed.stdout).toMatch(new RegExp(`^FAILED\\s+\\S+\\s+${failed.executionArn.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\n$`));
  });

  it('shows one execution state by state from its records', async () => {
    const shown = await cli(['show', failed.executionArn, '--json']);
    expect(shown.code).toBe(0);
    const detail = JSON.parse(shown.stdout) as { status: string; error: string; states: Array<{ name: string; failures: Array<{ error: string }> }> };
    expect(detail.status).toBe('FAILED');
    expect(detail.states.map((s) => s.name)).toEqual(['ValidateContext', 'RecordFailure', 'PublishFailure', 'Failed']);
    expect(detail.states[0]!.failures[0]!.error).toBeTruthy();

    const notInLogs = await cli(['show', undelivered.executionArn]);
    expect(notInLogs).toMatchObject({ code: 1, stdout: '' });
    expect(notInLogs.stderr).toContain(`No log events for ${undelivered.executionArn}`);

    const text = await cli(['show', answered.executionArn]);
    expect(text.stdout).toContain('status:  SUCCEEDED');
    expect(text.stdout).toMatch(/\n {2}PublishAnswer {2}\d+ ms\n/);
  });

  it('replays a failed run from the runs table with StartExecution, as locally', async () => {
    const replayed = await cli(['replay', failed.executionArn]);
    expect(replayed.stderr).toBe('');
    expect(replayed.code).toBe(0);
    const newArn = /^Started (\S+)/.exec(replayed.stdout)![1]!;
    expect(replayed.stdout).toContain(`replayOf ${failed.executionArn}`);
    expect(replayed.stdout).toContain('npm run executions -- --target aws show');
    const history = await historyOf(stack, newArn);
    // A new ask with its own answerId (the failed run keeps its claim on the old one).
    const answerId = /answerId (\S+\.replay-[0-9a-f-]{36}) /.exec(replayed.stdout)?.[1];
    expect(answerId).toBeDefined();
    expect(JSON.parse(history[0]!.executionStartedEventDetails!.input!)).toMatchObject({ replayOf: failed.executionArn, request: { answerId } });
    await stack.states.waitForExecution(newArn);
  });

  it('runs as a script with the default credential chain and AWS_ENDPOINT_URL*, and exits 1 when the logs lack the execution', async () => {
    const out = await script(['show', undelivered.executionArn]);
    expect(out).toMatchObject({ code: 1, stdout: '' });
    expect(out.stderr).toContain(`No log events for ${undelivered.executionArn}`);
  });

  it('says what is wrong: a log group that does not exist, no outputs file', async () => {
    const wrongGroup = path.join(dir, 'wrong-group.json');
    await writeCdkOutputs(wrongGroup, {
      Region: 'us-east-1',
      StateMachineArn: stack.iam.resources.stateMachineArn,
      StateMachineLogGroupName: '/aws/vendedlogs/states/gone',
      RunsTableName: stack.tables.runs,
    });
    const gone = await cli(['list', '--outputs-file', wrongGroup]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('log group /aws/vendedlogs/states/gone');

    const none = await cli(['list', '--outputs-file', path.join(dir, 'absent.json')]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('npm run deploy');
  });

  it('control: --target local still asks the local Step Functions, which knows every execution', async () => {
    const local = await cli(['--target', 'local', '--data-dir', dir, 'list', '--json']);
    expect(local.stderr).toBe('');
    const arns = (JSON.parse(local.stdout) as Array<{ executionArn: string }>).map((r) => r.executionArn);
    expect(arns).toEqual(expect.arrayContaining([failed.executionArn, answered.executionArn, undelivered.executionArn]));
  });
});
