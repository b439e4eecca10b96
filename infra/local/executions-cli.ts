/**
 * `npm run executions -- list [--status FAILED] | show <executionArn> | replay <executionArn>`:
 * the operator's view of the assistant's executions on the running local stack, as the operator
 * principal, through the edge. The logic lives in client/executions.ts and is not local-specific.
 */
import './node-compat.ts';
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient, type ExecutionStatus } from '@aws-sdk/client-sfn';
import { formatExecution, listExecutions, replayExecution, showExecution } from '../../client/executions.ts';
import { TableNames } from '../../tasks/tables.ts';
import { explainConnectionError, principalConfig, readLocalEnvOrExit } from './local-env.ts';

const USAGE = 'Usage: npm run executions -- list [--status RUNNING|SUCCEEDED|FAILED|ABORTED] [--json] | show <executionArn> [--json] | replay <executionArn>';
const STATUSES = ['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED', 'PENDING_REDRIVE'];

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    status: { type: 'string' },
    json: { type: 'boolean', default: false },
    'data-dir': { type: 'string', default: '.data' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
const [command, arn] = positionals;
if (values.help || !command || ((command === 'show' || command === 'replay') && !arn) || !['list', 'show', 'replay'].includes(command)) {
  process.stderr.write(`${USAGE}\n`);
  process.exit(values.help ? 0 : 2);
}
if (values.status && !STATUSES.includes(values.status)) {
  process.stderr.write(`--status must be one of ${STATUSES.join(', ')}\n`);
  process.exit(2);
}

const env = readLocalEnvOrExit(values['data-dir']);
const config = principalConfig(env, 'operator');
const sfn = new SFNClient(config);
const dynamodb = new DynamoDBClient(config);
const out = (s: string) => process.stdout.write(`${s}\n`);

try {
  if (command === 'list') {
    const rows = await listExecutions(sfn, env.stateMachineArn, values.status as ExecutionStatus | undefined);
    if (values.json) out(JSON.stringify(rows, null, 2));
    else if (rows.length === 0) out(`No executions${values.status ? ` with status ${values.status}` : ''}.`);
    else for (const r of rows) out(`${r.status.padEnd(9)} ${r.startDate?.toISOString() ?? '-'}  ${r.executionArn}`);
  } else if (command === 'show') {
    const detail = await showExecution(sfn, arn!);
    out(values.json ? JSON.stringify(detail, null, 2) : formatExecution(detail));
  } else {
    const result = await replayExecution({ sfn, dynamodb }, { stateMachineArn: env.stateMachineArn, runsTable: new TableNames().runs, executionArn: arn! });
    out(`Started ${result.executionArn}\n  replayOf ${result.replayOf} (identity and request from the recorded run; validated again)`);
    out(`  follow it with: npm run executions -- show ${result.executionArn}`);
  }
} catch (err) {
  const e = err as Error;
  process.stderr.write(`${e.name === 'Error' ? e.message : explainConnectionError(err, env)}\n`);
  process.exitCode = 1;
} finally {
  sfn.destroy();
  dynamodb.destroy();
}
