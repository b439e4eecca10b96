/**
 * `npm start`: boots the local stack on this machine (no AWS account), adds on every start what the seed lacks
 * (tasks/seed.ts: tables, tenants, users; existing ones kept), prints the endpoints and principals, and prints `ready:` once it accepts requests.
 *
 *   npm start                 state persists under .data/
 *   npm start -- --memory     state lives in memory and is gone at exit
 *   EDGE_PORT=4600 npm start  another edge port (PORT: the local AppSync's HTTP port, 3000; HTTPS_PORT: its HTTPS/WSS port, 3443)
 *   npm start -- --introspection   the local AppSync answers __schema/__type (development tools);
 *                                  off by default, as the deployed API (introspectionConfig DISABLED)
 *   npm start -- --duplicate-executions   every StartExecution runs twice, as AWS may run an
 *                                  asynchronous Express execution more than once (at-least-once)
 *   npm start -- --model-id <id>   the model the agent runs on (tasks/models.ts: a model id or an
 *                                  inference profile id); refused if Bedrock would refuse it today
 *   npm start -- --seed-orders <n> each seed user added by this start gets n random orders (default 0)
 *
 * Seeding is resumable (seeding.ts): a start killed or stopped (Ctrl-C) part-way leaves a state the
 * next start completes. LOCAL_STACK_PAUSE_AT=<step> (the crash suite, test/crash.test.ts) makes the
 * start print `paused at <step>` and wait there once that seeding step is recorded.
 */
import './node-compat.ts';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { AGENT_RUNTIME_SUMMARIES, AGENT_RUNTIMES, type AgentRuntimeKind } from '../../tasks/config.ts';
import { availability, describeUnavailable, MODELS } from '../../tasks/models.ts';
import { LOCAL_LOCATION, LOCAL_MODEL_ID } from './iam/principals.ts';
import { jsonLogger, type LogLevel } from './edge/log.ts';
import { LOCAL_ENV_FILE, readLocalUsers, writeLocalEnv } from '../../client/cli/targets.ts';
import { writeLocalUsers } from './services/cognito/service.ts';
import { startLocalStack, type LocalStack } from './stack.ts';
import { localEnvOf } from './local-env.ts';
import { attachWebUi } from './web.ts';
import { DataDirInUseError } from './data-dir-lock.ts';
import { DataFileError, storeFailure } from './data-files.ts';

const { values } = parseArgs({
  options: {
    memory: { type: 'boolean', default: false },
    'data-dir': { type: 'string', default: '.data' },
    'log-level': { type: 'string', default: process.env.LOG_LEVEL ?? 'warn' },
    'agent-runtime': { type: 'string', default: process.env.AGENT_RUNTIME ?? 'converse' },
    introspection: { type: 'boolean', default: false },
    'duplicate-executions': { type: 'boolean', default: false },
    'model-id': { type: 'string', default: LOCAL_MODEL_ID },
    'seed-orders': { type: 'string', default: '0' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (values.help) {
  process.stdout.write(
    `Usage: npm start [-- --memory] [--data-dir DIR] [--log-level debug|info|warn|error] [--agent-runtime ${AGENT_RUNTIMES.join('|')}] [--introspection] [--model-id ID] [--duplicate-executions] [--seed-orders N]\n` +
      `agent runtimes (default converse, as npm run deploy; bedrock-agent needs Agents Classic on AWS):\n${AGENT_RUNTIMES.map((k) => `  ${k.padEnd(14)} ${AGENT_RUNTIME_SUMMARIES[k]}`).join('\n')}\n` +
      `models (default ${LOCAL_MODEL_ID}; tasks/models.ts):\n${MODELS.map((m) => `  ${m.modelId.padEnd(42)} ${m.name}; profiles: ${Object.values(m.profiles).join(', ')}`).join('\n')}\n`,
  );
  process.exit(0);
}

function portFrom(variable: string, fallback: number): number {
  const port = Number(process.env[variable] ?? fallback);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`${variable} must be a port number, got '${process.env[variable]}'\n`);
    process.exit(2);
  }
  return port;
}
const port = portFrom('EDGE_PORT', 4566);
const appsyncPort = portFrom('PORT', port === 0 ? 0 : 3000);
const appsyncHttpsPort = portFrom('HTTPS_PORT', appsyncPort === 0 ? 0 : 3443);
const dataDir = path.resolve(values['data-dir']);
const agentRuntime = values['agent-runtime'] as AgentRuntimeKind;
if (!AGENT_RUNTIMES.includes(agentRuntime)) {
  process.stderr.write(`--agent-runtime must be one of ${AGENT_RUNTIMES.join(', ')}\n`);
  process.exit(2);
}
const modelId = values['model-id'];
const model = availability(modelId, LOCAL_LOCATION.region, new Date());
if (!model.available) {
  process.stderr.write(`--model-id ${modelId} cannot be used: ${describeUnavailable(modelId, LOCAL_LOCATION.region, model)}\n`);
  process.exit(2);
}
const seedOrdersPerUser = Number(values['seed-orders']);
if (!Number.isInteger(seedOrdersPerUser) || seedOrdersPerUser < 0) {
  process.stderr.write(`--seed-orders must be a whole number of orders, got '${values['seed-orders']}'\n`);
  process.exit(2);
}
const pauseAt = process.env.LOCAL_STACK_PAUSE_AT;
// dynalite throws LevelDB's errors outside any request: a damaged store ends the process with the
// file and the way out, not a raw trace (any other uncaught error keeps its trace).
process.on('uncaughtException', (err) => {
  const known = values.memory ? undefined : storeFailure(err, dataDir);
  process.stderr.write(known ? `The local stack stopped: ${known.message}\n` : `The local stack stopped on an unexpected error: ${err.stack ?? String(err)}\n`);
  process.exit(1);
});
const started = performance.now();
const logger = jsonLogger(values['log-level'] as LogLevel);

// Ctrl-C before the stack is up: every finished step is on disk and the rest is resumable, so stop
// at once and say so (the handlers below replace these once the stack is up).
const stopDuringStart = (signal: string) => {
  process.stderr.write(`${signal} during the start: stopped. The next npm start completes what this one began (existing data is kept).\n`);
  process.exit(130);
};
process.once('SIGINT', stopDuringStart);
process.once('SIGTERM', stopDuringStart);

let stack: LocalStack;
try {
  stack = await startLocalStack({
    port,
    appsyncPort,
    appsyncHttpsPort,
    ...(values.memory ? {} : { dataDir }),
    localUsersDir: dataDir,
    logger,
    agentRuntime,
    modelId,
    introspection: values.introspection,
    duplicateExecutions: values['duplicate-executions'],
    seedOrdersPerUser,
    ...(pauseAt
      ? {
          seedCheckpoint: (step: string) => {
            if (step !== pauseAt) return Promise.resolve();
            process.stdout.write(`paused at ${step}\n`);
            return new Promise<void>(() => undefined);
          },
        }
      : {}),
  });
} catch (err) {
  const e = err as NodeJS.ErrnoException;
  if (err instanceof DataDirInUseError || err instanceof DataFileError) {
    // Known cases: the message names the file or the running stack and the way out; no stack trace.
    process.stderr.write(`The local stack did not start: ${e.message}\n`);
  } else if (e.code === 'EADDRINUSE') {
    process.stderr.write(`Port ${port}, ${appsyncPort} or ${appsyncHttpsPort} is in use: is another local stack running? Stop it, or set EDGE_PORT, PORT and HTTPS_PORT.\n`);
  } else if (e.code === 'LEVEL_DATABASE_NOT_OPEN' || /lock/i.test(String(e.message))) {
    process.stderr.write(`Cannot open ${dataDir}: is another local stack using it? (${e.message})\n`);
  } else {
    process.stderr.write(`The local stack failed to start: ${e.stack ?? e.message}\n`);
  }
  process.exit(1);
}

const env = localEnvOf(stack, !values.memory);
await writeLocalEnv(env, dataDir);
await writeLocalUsers(dataDir, stack.cognito);
const passwords = (await readLocalUsers(dataDir)).users;
// The web UI on the AppSync port: a cached build at once, else built in the background (a few seconds).
const web = attachWebUi(stack, { logger });

const out = (line = '') => process.stdout.write(`${line}\n`);
out('Multi-tenant AI assistant: local stack (stand-ins on this machine; no AWS account used)');
out(`  state:     ${values.memory ? 'in memory (--memory); gone at exit' : `persisted under ${path.relative(process.cwd(), dataDir) || '.'}/`}`);
const stale = stack.dataDirLock?.tookOverFrom;
if (stale) out(`  lock:      took over ${stack.dataDirLock!.file} from pid ${stale.pid} (started ${stale.startedAt}), which is no longer running`);
out(`  seed:      ${stack.seeded ? 'added the tables, tenants and users of tasks/seed.ts that were missing' : 'existing data kept'}`);
const tlsMade = stack.tls.made.ca ? 'made by this start: trust it once' : stack.tls.made.cert ? `kept; server certificate made again (${stack.tls.made.reason})` : 'kept';
out(`  local CA:  ${path.relative(process.cwd(), stack.tls.caFile)} (SHA-256 ${stack.tls.caFingerprint}; ${tlsMade})`);
out('endpoints:');
out(`  AWS_ENDPOINT_URL=${stack.edgeUrl}   (${stack.edge.serviceNames.join(', ')}; region ${env.region}, account ${env.accountId})`);
out(`  GraphQL (AppSync):  ${stack.graphqlUrl}   realtime: ${stack.realtimeUrl}   introspection: ${values.introspection ? 'enabled (--introspection)' : 'disabled, as deployed'}`);
out(`  GraphQL over TLS:   ${stack.graphqlHttpsUrl}   realtime: ${stack.realtimeWssUrl}   (Amplify; trust ${path.relative(process.cwd(), stack.tls.caFile)}: README, Trusting the local CA)`);
if (stack.amplifyOutputsFile) out(`  Amplify outputs:    ${path.relative(process.cwd(), stack.amplifyOutputsFile)}   (Amplify.configure(outputs); set Auth.Cognito.userPoolEndpoint to ${stack.edgeUrl})`);
out(`  web UI:             ${web.url}${web.building ? '   (building it now; the page says when it is ready)' : ''}`);
out(`  Cognito user pool:  ${stack.cognito.poolId} (app client ${stack.cognito.clientId}) on the edge`);
out(
  `  state machine:      ${env.stateMachineArn} (Express; agent runtime ${agentRuntime}` +
    `${values['duplicate-executions'] ? '; --duplicate-executions: every execution starts twice, as AWS may' : ''})`,
);
out(`  model:              ${modelId} (${model.ref.model.name}, ${model.status}; played by the local agent)`);
out('principals (keys in ' + path.join(path.relative(process.cwd(), dataDir) || '.', LOCAL_ENV_FILE) + '):');
const principalNotes: Record<string, string> = { 'publish-answer': ' (the publish role: validate-context and invoke-agent publish as its sessions)' };
for (const [name, p] of Object.entries(env.principals)) out(`  ${name.padEnd(17)} ${p.arn}${principalNotes[name] ?? ''}`);
out(`  ${'tenant-access'.padEnd(17)} ${env.tenantAccessRoleArn} (assumed by mint-credentials only)`);
out('tables:');
out(`  ${stack.tables.config}, ${stack.tables.runs}, ${stack.tables.claims}, ${stack.tables.conversations}, ${[...new Set(stack.users.map((u) => stack.tables.orders(u.tenantId)))].join(', ')}`);
out('users:');
for (const u of passwords) {
  const secret = u.temporaryPassword ? `temporary password ${u.temporaryPassword}` : u.password ? `password ${u.password}` : 'password set';
  out(`  ${u.username.padEnd(15)} ${u.tenantId.padEnd(8)} ${secret.padEnd(38)} sub=${u.sub}`);
}
out(`  (in ${path.join(path.relative(process.cwd(), dataDir) || '.', 'local-users.json')}; the first sign-in sets a new password, as on Cognito)`);
out('try:');
out('  npm run ask -- --user tenant1-user "What\'s your return policy?"');
out('  npm run orders -- tenant1-user add');
out('  npm run creds -- --user tenant2-user');
out('  npm run executions -- list --status FAILED');
out(`  open ${web.url} in a browser (executions view: keys from npm run creds -- --operator)`);
out(`ready: edge ${stack.edgeUrl} (started in ${Math.round(performance.now() - started)} ms; Ctrl-C stops)`);
if (web.building) {
  web.ready.then(
    () => out(`web UI built: ${web.url}`),
    (err: unknown) => process.stderr.write(`The web UI failed to build: ${(err as Error).message}\n`),
  );
}

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  process.stderr.write(`${signal}: stopping the local stack${values.memory ? '' : ' (data is kept)'}\n`);
  await stack.stop();
  process.exit(0);
}
process.off('SIGINT', stopDuringStart);
process.off('SIGTERM', stopDuringStart);
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
