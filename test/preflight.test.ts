/**
 * `npm run preflight` against the local stand-ins: the local account stands for a new AWS account
 * (bootstrapped, model access granted by default), and each test changes one thing a real account
 * can lack. The command runs in-process as `--target aws` does (SDK clients, the operator's keys,
 * the edge as endpoint), once as `--target local`, and once as a script with the SDK's default
 * credential chain and Region. Control: the good setup passes, so a failure is the changed thing's.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runCli, runCommand, type CliResult } from './cli-helpers.ts';
import { deployContext, deploymentChoices, preflightCommand } from '../infra/aws/preflight-cli.ts';
import { deployCommand } from '../infra/aws/deploy.ts';
import { AGENTS_CLASSIC_CLOSED } from '../infra/aws/preflight.ts';
import { bootstrapVersionParameter, installedBootstrapVersion, MIN_BOOTSTRAP_VERSION } from '../infra/aws/bootstrap.ts';
import { writeLocalEnv } from '../client/cli/targets.ts';
import { localEnvOf } from '../infra/local/local-env.ts';
import { LOCAL_MODEL_ID } from '../infra/local/iam/principals.ts';
import { startLocalStack, type LocalStack } from '../infra/local/stack.ts';
import { NO_MODEL_ACCESS } from '../infra/local/services/bedrock/control-plane.ts';
import { BedrockRuntimeClient, ConverseCommand } from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { DEFAULT_MODEL_ID } from '../tasks/models.ts';

const HAIKU_3 = 'anthropic.claude-3-haiku-20240307-v1:0';
const NOVA_2_LITE = 'amazon.nova-2-lite-v1:0';
/** A day after Claude 3 Haiku's end of life (2026-09-10) and after Agents Classic closed (2026-07-30). */
const NOW = new Date('2026-12-03T12:00:00Z');

let stack: LocalStack;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'assistant-preflight-'));
  // The default deployment: the converse runtime, so the account has no Agents Classic agent.
  stack = await startLocalStack({ port: 0, seedOrdersPerUser: 0, lambdaSandbox: false, agentRuntime: 'converse' });
  await writeLocalEnv(localEnvOf(stack, false), dir);
});
afterAll(async () => {
  await stack?.stop();
  await rm(dir, { recursive: true, force: true });
});
afterEach(() => {
  stack.ssm.putParameter(bootstrapVersionParameter(), String(installedBootstrapVersion()));
  stack.bedrock.setModelAccess(DEFAULT_MODEL_ID, undefined);
  stack.bedrock.setClock(undefined);
  stack.bedrock.setAgentListed(false);
});

/** `--target aws` pointed at the local stack: the operator's keys, the edge for every service. */
function awsOf(of: LocalStack) {
  const edge = of.edgeUrl;
  return { credentials: of.iam.credentials('operator'), region: of.iam.location.region, endpoints: { sts: edge, ssm: edge, bedrock: edge } };
}

/** The preflight as `--target aws` runs it, signed as the local operator, against the edge. */
function preflight(args: string[] = [], now = NOW): Promise<CliResult> {
  return runCommand(preflightCommand, args, { aws: awsOf(stack), clock: () => now });
}

const lines = (r: CliResult) => r.stdout.trim().split('\n');
const problems = (r: CliResult) => lines(r).filter((l) => l.startsWith('PROBLEM'));

describe('npm run preflight: a good setup (the control)', () => {
  it('passes with the defaults: converse runtime, Claude Haiku 4.5 through the Region\'s profile, a bootstrapped account', async () => {
    const r = await preflight();
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(lines(r).map((l) => l.slice(0, 21).trim())).toEqual([
      'ok       credentials',
      'ok       bootstrap',
      'ok       model',
      'ok       profile',
      'ok       access',
      'preflight passed: the',
    ]);
    expect(r.stdout).toContain(`aws://${stack.iam.location.accountId}/us-east-1 is bootstrapped (version ${installedBootstrapVersion()}`);
    expect(r.stdout).toContain(`inference profile ${LOCAL_MODEL_ID} is ACTIVE in us-east-1 and routes to 4 Region(s), all allowed by the stack's IAM`);
  });

  it('reports JSON with --json, the deployment it checked beside the findings', async () => {
    const r = await preflight(['--json']);
    const report = JSON.parse(r.stdout) as { passed: boolean; modelId: string; agentRuntime: string; findings: { check: string; level: string }[] };
    expect(report).toMatchObject({ passed: true, modelId: LOCAL_MODEL_ID, agentRuntime: 'converse' });
    expect(report.findings.every((f) => f.level === 'ok')).toBe(true);
  });

  it('runs as --target local, as the local operator of the running stack', async () => {
    const r = await runCommand(preflightCommand, ['--target', 'local', '--data-dir', dir], { clock: () => NOW });
    expect(r.code).toBe(0);
    expect(problems(r)).toEqual([]);
  });

  it('runs as a script, with the SDK\'s default credentials and Region (environment)', async () => {
    const creds = stack.iam.credentials('operator');
    const r = await runCli(path.resolve('infra/aws/preflight-cli.ts'), ['-c', `modelId=${HAIKU_3}`], {
      env: {
        AWS_ACCESS_KEY_ID: creds.accessKeyId,
        AWS_SECRET_ACCESS_KEY: creds.secretAccessKey,
        AWS_ENDPOINT_URL: stack.edgeUrl,
        AWS_REGION: 'us-east-1',
        AWS_CONFIG_FILE: path.join(dir, 'no-config'),
        AWS_SHARED_CREDENTIALS_FILE: path.join(dir, 'no-credentials'),
        AWS_PROFILE: undefined,
        AWS_SESSION_TOKEN: undefined,
      },
    });
    // Real time: Claude 3 Haiku is past its end of life in us-east-1 from 2026-09-10 on.
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^ok {7}credentials account 000000000000, arn:aws:iam::000000000000:user\/operator, Region us-east-1$/m);
    expect(problems(r)).toEqual([expect.stringMatching(/^PROBLEM {2}model {7}Claude 3 Haiku \(anthropic\.claude-3-haiku-20240307-v1:0\) reached end of life in us-east-1 on 2026-09-10/)]);
  });
});

describe('npm run preflight: what a new account can lack', () => {
  it('a missing CDK bootstrap: one problem that names the command to run, exit code 1', async () => {
    stack.ssm.deleteParameter(bootstrapVersionParameter());
    const r = await preflight();
    expect(r.code).toBe(1);
    expect(problems(r)).toEqual([
      'PROBLEM  bootstrap   aws://000000000000/us-east-1 is not bootstrapped for CDK (no SSM parameter /cdk-bootstrap/hnb659fds/version): run npx cdk bootstrap aws://000000000000/us-east-1.',
    ]);
    expect(lines(r).at(-1)).toBe('preflight found 1 problem: fix it and run npm run preflight again.');
  });

  it('a bootstrap older than the template accepts, and another qualifier (cdk.json context) that was never bootstrapped', async () => {
    stack.ssm.putParameter(bootstrapVersionParameter(), String(MIN_BOOTSTRAP_VERSION - 1));
    expect(problems(await preflight())).toEqual([
      `PROBLEM  bootstrap   the CDK bootstrap stack of aws://000000000000/us-east-1 is version ${MIN_BOOTSTRAP_VERSION - 1}, older than the ${MIN_BOOTSTRAP_VERSION} this stack needs: run npx cdk bootstrap aws://000000000000/us-east-1.`,
    ]);
    stack.ssm.putParameter(bootstrapVersionParameter(), String(MIN_BOOTSTRAP_VERSION));
    expect(problems(await preflight())).toEqual([]);
    const other = await preflight(['-c', '@aws-cdk/core:bootstrapQualifier=custom123']);
    expect(problems(other)).toEqual([expect.stringContaining('(no SSM parameter /cdk-bootstrap/custom123/version)')]);
  });

  it('an end-of-life model: the problem names the date and a current model to use instead', async () => {
    const r = await preflight(['-c', `modelId=${HAIKU_3}`]);
    expect(r.code).toBe(1);
    expect(problems(r)).toEqual([
      `PROBLEM  model       Claude 3 Haiku (${HAIKU_3}) reached end of life in us-east-1 on 2026-09-10: every question would fail; choose another model, e.g. -c modelId=${LOCAL_MODEL_ID}.`,
    ]);
    // Control: the day before, Bedrock still described it as Active (its card gives no Legacy date).
    const dayBefore = new Date('2026-09-09T12:00:00Z');
    stack.bedrock.setClock(() => dayBefore);
    const before = await preflight(['-c', `modelId=${HAIKU_3}`], dayBefore);
    expect(before.code).toBe(0);
    expect(before.stdout).toContain(`ok       model       Claude 3 Haiku (${HAIKU_3}) is ACTIVE in us-east-1, on demand`);
  });

  it('a profile-only model named by its bare id: the problem names the profile to use', async () => {
    const r = await preflight(['-c', `modelId=${NOVA_2_LITE}`]);
    expect(r.code).toBe(1);
    expect(problems(r)).toEqual([
      `PROBLEM  model       Amazon Nova 2 Lite cannot be invoked on demand by its model id ${NOVA_2_LITE} in us-east-1: name an inference profile instead: -c modelId=us.amazon.nova-2-lite-v1:0.`,
    ]);
    // Control: the same model through its profile passes.
    expect((await preflight(['-c', 'modelId=us.amazon.nova-2-lite-v1:0'])).code).toBe(0);
  });

  it('a profile of another geography, and a profile id the models table does not hold', async () => {
    const eu = await preflight(['-c', 'modelId=eu.anthropic.claude-haiku-4-5-20251001-v1:0']);
    expect(problems(eu)).toEqual([
      `PROBLEM  profile     inference profile eu.anthropic.claude-haiku-4-5-20251001-v1:0 does not exist in us-east-1 (GetInferenceProfile: ResourceNotFoundException): use ${LOCAL_MODEL_ID}, the profile of us-east-1's geography.`,
    ]);
    const unknown = await preflight(['-c', 'modelId=us.example.model-v1:0']);
    expect(problems(unknown)).toEqual([expect.stringMatching(/^PROBLEM {2}model {7}us\.example\.model-v1:0 is not in the models table \(tasks\/models\.ts\)/)]);
  });

  it('no access to the model: the problem says which part is missing, and Converse is refused alike', async () => {
    stack.bedrock.setModelAccess(DEFAULT_MODEL_ID, { authorizationStatus: 'NOT_AUTHORIZED', agreementAvailability: { status: 'PENDING' } });
    const r = await preflight();
    expect(r.code).toBe(1);
    expect(problems(r)).toEqual([
      expect.stringMatching(/^PROBLEM {2}access {6}this account cannot invoke Claude Haiku 4\.5 yet: authorization NOT_AUTHORIZED \(for an Anthropic model, submit the first-time use case form.*; agreement PENDING \(wait a few minutes/),
    ]);
    // What the preflight warns of is what the answers would meet: the agent's Converse call is refused.
    const runtime = new BedrockRuntimeClient({ ...stack.clientConfig('invoke-agent'), requestHandler: new NodeHttpHandler() });
    const converse = () => runtime.send(new ConverseCommand({ modelId: LOCAL_MODEL_ID, messages: [{ role: 'user', content: [{ text: 'hi' }] }] }));
    await expect(converse()).rejects.toMatchObject({ name: 'AccessDeniedException', message: NO_MODEL_ACCESS, $metadata: { httpStatusCode: 403 } });
    stack.bedrock.setModelAccess(DEFAULT_MODEL_ID, undefined);
    await expect(converse()).resolves.toMatchObject({ stopReason: 'end_turn' });
    runtime.destroy();
  });

  it('the bedrock-agent runtime after Agents Classic closed: an account with no agent is told to use converse', async () => {
    // The converse stack's account has no Agents Classic agent.
    const r = await preflight(['-c', 'agentRuntime=bedrock-agent']);
    expect(r.code).toBe(1);
    expect(problems(r)).toEqual([expect.stringMatching(/^PROBLEM {2}agents {6}Agents Classic \(the bedrock-agent runtime\) is closed to new customers since 2026-07-30, and this account has no agent in us-east-1/)]);
    // The operator's word that it is an existing customer turns it into a warning.
    const vouched = await preflight(['-c', 'agentRuntime=bedrock-agent', '--agents-classic-customer']);
    expect(vouched.code).toBe(0);
    expect(vouched.stdout).toMatch(/^warning {2}agents {6}this account has no Agents Classic agent in us-east-1; going on because --agents-classic-customer/m);
    // Control: an account whose agent ListAgents lists is an existing customer.
    stack.bedrock.setAgentListed(true);
    const customer = await preflight(['-c', 'agentRuntime=bedrock-agent']);
    expect(customer.code).toBe(0);
    expect(customer.stdout).toMatch(/^ok {7}agents {6}this account has Agents Classic agents in us-east-1/m);
    stack.bedrock.setAgentListed(false);
    // Before the closing day the check passes.
    const early = await preflight(['-c', 'agentRuntime=bedrock-agent'], new Date(`${AGENTS_CLASSIC_CLOSED}T00:00:00Z`.replace('-30T', '-29T')));
    expect(problems(early)).toEqual([]);
  });
});

describe('npm run preflight: its arguments', () => {
  it('prints its usage with --help, and refuses an unknown runtime', async () => {
    const help = await preflight(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: npm run preflight');
    const bad = await preflight(['-c', 'agentRuntime=lambda']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('Context agentRuntime must be one of bedrock-agent, converse, got lambda');
  });
});

describe('npm run deploy: the preflight first', () => {
  /** `npm run deploy` with the cdk CLI replaced by a recorder: the arguments it would have run. */
  async function deploy(args: string[]) {
    const ran: string[][] = [];
    const cdk = async (a: string[]) => (ran.push(a), 0);
    const io = { aws: awsOf(stack), clock: () => NOW, cdk };
    const r = await runCommand(deployCommand, args, io);
    return { ...r, ran };
  }

  it('runs cdk deploy, writing cdk-outputs.json, only when the preflight passes', async () => {
    const ok = await deploy(['-c', 'deployment=blue', '--require-approval', 'never']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('preflight passed');
    expect(ok.ran).toEqual([['deploy', '--outputs-file', 'cdk-outputs.json', '-c', 'deployment=blue', '--require-approval', 'never']]);

    const stopped = await deploy(['-c', `modelId=${HAIKU_3}`]);
    expect(stopped.code).toBe(1);
    expect(stopped.ran).toEqual([]);
    expect(stopped.stdout).toContain('PROBLEM  model       Claude 3 Haiku');
    expect(stopped.stderr).toContain('Not deploying: the preflight found problems (above). Fix them, or deploy anyway with npm run deploy -- --skip-preflight.');
  });

  it('deploys without the checks with --skip-preflight, and passes --agents-classic-customer to the preflight only', async () => {
    const skipped = await deploy(['--skip-preflight', '-c', `modelId=${HAIKU_3}`]);
    expect(skipped.code).toBe(0);
    expect(skipped.stdout).not.toContain('Preflight');
    expect(skipped.ran).toEqual([['deploy', '--outputs-file', 'cdk-outputs.json', '-c', `modelId=${HAIKU_3}`]]);
    const agent = await deploy(['-c', 'agentRuntime=bedrock-agent', '--agents-classic-customer']);
    expect(agent.code).toBe(0);
    expect(agent.ran).toEqual([['deploy', '--outputs-file', 'cdk-outputs.json', '-c', 'agentRuntime=bedrock-agent']]);
  });

  it('shows the preflight in --help', async () => {
    const help = await deploy(['--help']);
    expect(help.ran).toEqual([]);
    expect(help.stdout).toMatch(/^ {2}1\. npm run preflight with the same -c context/m);
    expect(help.stdout).toContain('Usage: npm run preflight');
  });

  it('deploys what cdk.json gives by default: the converse runtime, the default model through the Region\'s profile', () => {
    // cdk.json context is what `cdk deploy` reads too: a key there would change every deployment's default.
    expect(deploymentChoices(deployContext([]), 'us-east-1')).toEqual({ agentRuntime: 'converse', modelId: LOCAL_MODEL_ID });
    expect(deploymentChoices(deployContext([]), 'eu-west-1')).toEqual({ agentRuntime: 'converse', modelId: `eu.${DEFAULT_MODEL_ID}` });
    expect(deployContext(['-c', 'agentRuntime=bedrock-agent', '--context=modelId=x.y'])).toMatchObject({ agentRuntime: 'bedrock-agent', modelId: 'x.y' });
  });
});
