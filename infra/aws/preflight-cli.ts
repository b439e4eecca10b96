/**
 * `npm run preflight -- [--target aws|local] [-c modelId=<id>] [-c agentRuntime=converse|bedrock-agent]
 * [--region <region>] [--agents-classic-customer] [--json]`: the checks of preflight.ts, for the
 * deployment the same `-c` context would make (cdk.json's context first, then `-c`, as CDK reads it).
 *
 * `--target aws` (default) signs with the SDK's default credential chain and Region (AWS_PROFILE,
 * AWS_REGION, or the profile's region), as `cdk deploy` does; `--target local` runs the same checks
 * against the running local stack, as its operator: the local account stands for the AWS one.
 * Exit code 0 when no check found a problem, 1 otherwise, 2 for unusable arguments.
 */
import { existsSync, readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { BedrockClient } from '@aws-sdk/client-bedrock';
import { BedrockAgentClient } from '@aws-sdk/client-bedrock-agent';
import { SSMClient } from '@aws-sdk/client-ssm';
import { STSClient } from '@aws-sdk/client-sts';
import { AGENT_RUNTIMES, type AgentRuntimeKind } from '../../tasks/config.ts';
import { DEFAULT_MODEL_ID, profileForRegion } from '../../tasks/models.ts';
import { CommandExit, parseCommandArgs, type AwsOverrides, type CommandIo } from '../../client/cli/command.ts';
import { principalConfig, readLocalEnvForCommand } from '../../client/cli/targets.ts';
import { bootstrapQualifier } from './bootstrap.ts';
import { formatReport, preflight, type PreflightClients } from './preflight.ts';

export const PREFLIGHT_USAGE =
  'Usage: npm run preflight -- [--target aws|local] [-c modelId=<id>] [-c agentRuntime=converse|bedrock-agent] [--region <region>] [--agents-classic-customer] [--json]\n' +
  '  Checks, with your AWS credentials and Region: the CDK bootstrap, the model (lifecycle, on-demand or inference profile,\n' +
  '  the Regions the profile routes to against the stack\'s IAM, the account\'s access) and, for bedrock-agent, Agents Classic.\n' +
  '  One line per finding; exit code 1 when any is a PROBLEM. npm run deploy runs it first.';

/** The context a deployment gets: cdk.json's `context`, then each `-c key=value` / `--context key=value`. */
export function deployContext(cdkArgs: readonly string[], cdkJsonFile = 'cdk.json'): Record<string, string> {
  const context: Record<string, string> = {};
  if (existsSync(cdkJsonFile)) {
    const json = JSON.parse(readFileSync(cdkJsonFile, 'utf8')) as { context?: Record<string, unknown> };
    for (const [k, v] of Object.entries(json.context ?? {})) if (typeof v === 'string') context[k] = v;
  }
  for (let i = 0; i < cdkArgs.length; i++) {
    const arg = cdkArgs[i]!;
    let pair: string | undefined;
    if (arg === '-c' || arg === '--context') pair = cdkArgs[++i];
    else if (arg.startsWith('--context=')) pair = arg.slice('--context='.length);
    else if (arg.startsWith('-c') && arg.length > 2) pair = arg.slice(2).replace(/^=/, '');
    if (pair === undefined) continue;
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new CommandExit(`context must be key=value, got ${JSON.stringify(pair)}`, 2);
    context[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return context;
}

/** What the deployment would be: its agent runtime and model, as infra/aws/app.ts and stack.ts choose them. */
export function deploymentChoices(context: Readonly<Record<string, string>>, region: string): { agentRuntime: AgentRuntimeKind; modelId: string } {
  const agentRuntime = (context.agentRuntime ?? 'converse') as AgentRuntimeKind;
  if (!AGENT_RUNTIMES.includes(agentRuntime)) throw new CommandExit(`Context agentRuntime must be one of ${AGENT_RUNTIMES.join(', ')}, got ${agentRuntime}`, 2);
  let modelId = context.modelId;
  if (!modelId) {
    try {
      modelId = profileForRegion(DEFAULT_MODEL_ID, region);
    } catch (err) {
      throw new CommandExit(`${(err as Error).message}`, 1);
    }
  }
  return { agentRuntime, modelId };
}

interface ClientsConfig {
  region: string;
  credentials?: NonNullable<AwsOverrides['credentials']>;
  maxAttempts?: number;
  /** One endpoint for every client (the local edge), or each service's own (`--target aws` overrides). */
  endpoint?: string;
  endpoints?: AwsOverrides['endpoints'];
}

function clientsFor({ endpoints, ...config }: ClientsConfig): PreflightClients {
  const of = (service: 'sts' | 'ssm' | 'bedrock') => ({ ...config, ...(endpoints?.[service] ? { endpoint: endpoints[service] } : {}) });
  return { sts: new STSClient(of('sts')), ssm: new SSMClient(of('ssm')), bedrock: new BedrockClient(of('bedrock')), agents: new BedrockAgentClient(of('bedrock')) };
}

/** The Region the SDK's default chain gives (AWS_REGION, AWS_DEFAULT_REGION, the profile's region); undefined when none. */
async function defaultRegion(): Promise<string | undefined> {
  const sts = new STSClient({});
  try {
    return await sts.config.region();
  } catch {
    return undefined;
  } finally {
    sts.destroy();
  }
}

/** Splits the preflight's own options from the `-c` context (the rest is CDK's). */
export function splitPreflightArgs(argv: readonly string[]): { own: string[]; cdk: string[] } {
  const own: string[] = [];
  const cdk: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-c' || a === '--context') cdk.push(a, argv[++i] ?? '');
    else if (a.startsWith('-c') || a.startsWith('--context=')) cdk.push(a);
    else own.push(a);
  }
  return { own, cdk };
}

export async function preflightCommand(argv: string[], io: CommandIo): Promise<number> {
  const { own, cdk } = splitPreflightArgs(argv);
  let values;
  try {
    ({ values } = parseCommandArgs(own, {
      target: { type: 'string', default: 'aws' },
      region: { type: 'string' },
      json: { type: 'boolean', default: false },
      'agents-classic-customer': { type: 'boolean', default: false },
    }));
  } catch (err) {
    io.stderr.write(`${(err as Error).message}\n${PREFLIGHT_USAGE}\n`);
    return 2;
  }
  if (values.help) {
    io.stdout.write(`${PREFLIGHT_USAGE}\n`);
    return 0;
  }
  const target = values.target;
  if (target !== 'local' && target !== 'aws') {
    io.stderr.write('--target must be aws or local\n');
    return 2;
  }

  try {
    const context = deployContext(cdk);
    let region: string;
    let config: ClientsConfig;
    if (target === 'local') {
      const env = readLocalEnvForCommand(values['data-dir']);
      region = values.region ?? env.region;
      config = { ...principalConfig(env, 'operator'), region };
    } else {
      const o = io.aws ?? {};
      const resolved = values.region ?? o.region ?? (await defaultRegion());
      if (!resolved) {
        io.stdout.write('PROBLEM  credentials no AWS Region: set AWS_REGION (or AWS_PROFILE to a profile with a region), or pass --region.\n');
        return 1;
      }
      region = resolved;
      config = { region, ...(o.endpoints ? { endpoints: o.endpoints } : {}), ...(o.credentials ? { credentials: o.credentials } : {}) };
    }
    const choices = deploymentChoices(context, region);
    const clients = clientsFor(config);
    try {
      const report = await preflight(clients, {
        region,
        ...choices,
        qualifier: bootstrapQualifier(context),
        now: io.clock?.() ?? new Date(),
        agentsClassicCustomer: values['agents-classic-customer'],
      });
      io.stdout.write(values.json ? `${JSON.stringify({ target, region, ...choices, ...report }, null, 2)}\n` : formatReport(report));
      return report.passed ? 0 : 1;
    } catch (err) {
      const e = err as { name?: string; message?: string; code?: string; cause?: { code?: string } };
      const refused = (e.code ?? e.cause?.code) === 'ECONNREFUSED';
      io.stderr.write(refused && target === 'local' ? 'The local stack is not running: start it with npm start.\n' : `preflight could not finish: ${e.name ?? 'Error'}: ${e.message ?? String(err)}\n`);
      return 1;
    } finally {
      for (const c of Object.values(clients)) c.destroy();
    }
  } catch (err) {
    if (!(err instanceof CommandExit)) throw err;
    io.stderr.write(`${err.message}\n`);
    return err.code;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = await preflightCommand(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr });
}
