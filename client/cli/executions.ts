/**
 * `npm run executions -- list [--status FAILED] | show <executionArn> | replay <executionArn>`:
 * the operator's view of the assistant's executions on the running local stack, as the operator
 * principal, through the edge. The logic lives in client/executions.ts and is not local-specific.
 *
 * `--target aws` reads the deployment from cdk-outputs.json (`npm run deploy` writes it) and signs
 * with the SDK's default credential chain (the operator's own profile). Express executions have no
 * history API on AWS, so list and show read the state machine's CloudWatch log group (within
 * `--since`, default 24h for list); replay is the same code as locally (runs table + StartExecution).
 */
import { pathToFileURL } from 'node:url';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient, type ExecutionStatus } from '@aws-sdk/client-sfn';
import {
  formatExecution,
  listExecutionsFromLogs,
  listExecutionsPage,
  showExecution,
  showExecutionFromLogs,
  type ExecutionDetail,
  type ExecutionPage,
} from '../executions.ts';
import { replayExecution } from '../replay.ts';
import { awsClientConfig, CommandExit, parseCommandArgs, type AwsOverrides, type CommandIo } from './command.ts';
import { EXECUTIONS_OUTPUTS, readDeployOutputsForCommand } from './targets.ts';
import { explainConnectionError, principalConfig, readLocalEnvForCommand } from './targets.ts';

const USAGE =
  'Usage: npm run executions -- [--target local|aws] list [--status RUNNING|SUCCEEDED|FAILED|ABORTED] [--limit N] [--next-token T] [--json] | show <executionArn> [--json] | replay <executionArn>\n' +
  '  list: --limit 1-1000 rows (default 50), newest first; --next-token continues a listing that said more exist (local)\n' +
  '  --target aws: [--outputs-file cdk-outputs.json] [--since 24h|7d|90m] (log window of list and show)';
/** ListExecutions' largest page, and so the largest --limit. */
const MAX_LIMIT = 1000;
const DEFAULT_LIMIT = 50;
const STATUSES = ['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED', 'PENDING_REDRIVE'];

/** `90m`, `24h`, `7d` before now; null when unreadable. */
function sinceDate(text: string): Date | null {
  const m = /^(\d+)([mhd])$/.exec(text);
  if (!m) return null;
  return new Date(Date.now() - Number(m[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'm' | 'h' | 'd']);
}

interface ListQuery {
  status?: ExecutionStatus;
  limit: number;
  nextToken?: string;
}

/** Where the executions live, and how to read them: the local stack, or a deployment's log group. */
interface Target {
  sfn: SFNClient;
  dynamodb: DynamoDBClient;
  stateMachineArn: string;
  runsTable: string;
  list(query: ListQuery): Promise<ExecutionPage>;
  show(executionArn: string): Promise<ExecutionDetail>;
  explain(err: unknown): string;
  destroy(): void;
}

function localTarget(dataDir: string): Target {
  const env = readLocalEnvForCommand(dataDir);
  const config = principalConfig(env, 'operator');
  const sfn = new SFNClient(config);
  const dynamodb = new DynamoDBClient(config);
  return {
    sfn,
    dynamodb,
    stateMachineArn: env.stateMachineArn,
    runsTable: env.runsTable,
    list: (query) => listExecutionsPage(sfn, env.stateMachineArn, query),
    show: (executionArn) => showExecution(sfn, executionArn),
    explain: (err) => explainConnectionError(err, env),
    destroy: () => (sfn.destroy(), dynamodb.destroy()),
  };
}

/** The deployment named by cdk-outputs.json, with the SDK's default credentials and endpoints (unless overridden). */
function awsTarget(outputsFile: string, since: Date | undefined, aws?: AwsOverrides): Target {
  const outputs = readDeployOutputsForCommand(EXECUTIONS_OUTPUTS, outputsFile);
  const sfn = new SFNClient(awsClientConfig(outputs.Region, 'sfn', aws));
  const dynamodb = new DynamoDBClient(awsClientConfig(outputs.Region, 'dynamodb', aws));
  const logs = new CloudWatchLogsClient(awsClientConfig(outputs.Region, 'logs', aws));
  const logGroup = outputs.StateMachineLogGroupName;
  return {
    sfn,
    dynamodb,
    stateMachineArn: outputs.StateMachineArn,
    runsTable: outputs.RunsTableName,
    list: ({ status, limit }) => listExecutionsFromLogs(logs, logGroup, status, { ...(since ? { since } : {}), limit }),
    show: (executionArn) => showExecutionFromLogs(logs, logGroup, executionArn, since),
    explain: (err) => {
      const e = err as { name?: string; message?: string };
      if (e.name === 'CredentialsProviderError') return `No AWS credentials: set AWS_PROFILE (or sign in with aws sso login) for the account of ${outputs.StateMachineArn}.`;
      if (e.name === 'ResourceNotFoundException') return `${e.message ?? 'Not found'} (region ${outputs.Region}, log group ${logGroup}): is ${outputsFile} from the current deployment? npm run deploy rewrites it.`;
      return `${e.name ?? 'Error'}: ${e.message ?? String(err)}`;
    },
    destroy: () => (sfn.destroy(), dynamodb.destroy(), logs.destroy()),
  };
}

/** What to run for the rows after this listing, when more exist; undefined when it holds them all. */
export function moreHint(page: ExecutionPage, query: { status?: string | undefined; limit: number; aws: boolean; since?: string | undefined }): string | undefined {
  const status = query.status ? ` --status ${query.status}` : '';
  if (page.nextToken) {
    return (
      `More executions exist after these ${page.rows.length}: the next ones with\n` +
      `  npm run executions -- list${status} --limit ${query.limit} --next-token ${page.nextToken}` +
      (query.limit < MAX_LIMIT ? `\n  (or list more at once: --limit up to ${MAX_LIMIT})` : '')
    );
  }
  if (page.more) {
    const window = query.since ? ` --since ${query.since}` : '';
    const all = Math.min(MAX_LIMIT, page.rows.length + page.more);
    return `${page.more} more in the log window${query.since ? ` (${query.since})` : ' (24h)'}: npm run executions -- --target aws list${status}${window} --limit ${all}`;
  }
  return undefined;
}

/** The command itself, callable in-process (tests) or from the CLI below; resolves to the exit code. */
export async function executionsCommand(argv: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, {
    status: { type: 'string' },
    json: { type: 'boolean', default: false },
    since: { type: 'string' },
    limit: { type: 'string' },
    'next-token': { type: 'string' },
  });
  const [command, arn] = positionals;
  if (values.help || !command || ((command === 'show' || command === 'replay') && !arn) || !['list', 'show', 'replay'].includes(command)) {
    io.stderr.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  if (values.status && !STATUSES.includes(values.status)) {
    io.stderr.write(`--status must be one of ${STATUSES.join(', ')}\n`);
    return 2;
  }
  if (values.target !== 'local' && values.target !== 'aws') {
    io.stderr.write('--target must be local or aws\n');
    return 2;
  }
  const limit = values.limit === undefined ? DEFAULT_LIMIT : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    io.stderr.write(`--limit must be a whole number from 1 to ${MAX_LIMIT}\n`);
    return 2;
  }
  const nextToken = values['next-token'];
  if (nextToken !== undefined && (command !== 'list' || values.target === 'aws')) {
    io.stderr.write(
      command !== 'list'
        ? '--next-token continues a list\n'
        : '--next-token continues a local listing; on AWS the list reads the log group: narrow it with --since or raise --limit\n',
    );
    return 2;
  }
  const since = values.since === undefined ? undefined : sinceDate(values.since);
  if (since === null) {
    io.stderr.write('--since must be a duration such as 90m, 24h or 7d\n');
    return 2;
  }

  let target: Target;
  try {
    target = values.target === 'aws' ? awsTarget(values['outputs-file'], since, io.aws) : localTarget(values['data-dir']);
  } catch (err) {
    if (!(err instanceof CommandExit)) throw err;
    io.stderr.write(`${err.message}\n`);
    return err.code;
  }
  const { sfn, dynamodb } = target;
  const out = (s: string) => io.stdout.write(`${s}\n`);

  try {
    if (command === 'list') {
      const status = values.status as ExecutionStatus | undefined;
      const page = await target.list({ ...(status ? { status } : {}), limit, ...(nextToken ? { nextToken } : {}) });
      const { rows } = page;
      if (values.json) out(JSON.stringify(rows, null, 2));
      else if (rows.length === 0) out(`No executions${values.status ? ` with status ${values.status}` : ''}${nextToken ? ' after that token' : ''}.`);
      else for (const r of rows) out(`${r.status.padEnd(9)} ${r.startDate?.toISOString() ?? '-'}  ${r.executionArn}`);
      // On stderr, so that --json output stays the rows alone.
      const more = moreHint(page, { status: values.status, limit, aws: values.target === 'aws', since: values.since });
      if (more) io.stderr.write(`${more}\n`);
    } else if (command === 'show') {
      const detail = await target.show(arn!);
      out(values.json ? JSON.stringify(detail, null, 2) : formatExecution(detail));
    } else {
      const result = await replayExecution({ sfn, dynamodb }, { stateMachineArn: target.stateMachineArn, runsTable: target.runsTable, executionArn: arn! });
      const from = result.source === 'runs-table' ? 'the recorded run' : "the stopped run's own input";
      out(`Started ${result.executionArn}\n  answerId ${result.answerId} (a new ask: the replayed run keeps its own)\n  replayOf ${result.replayOf} (identity and request from ${from}; validated again)`);
      out(`  follow it with: npm run executions --${values.target === 'aws' ? ' --target aws' : ''} show ${result.executionArn}`);
    }
    return 0;
  } catch (err) {
    const e = err as Error;
    io.stderr.write(`${e.name === 'Error' || e.name === 'ExecutionNotFoundError' ? e.message : target.explain(err)}\n`);
    return 1;
  } finally {
    target.destroy();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = await executionsCommand(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr });
}
