/**
 * The local stack, started in-process: the edge with its stand-ins, the local principals, the
 * users, and the seeded tables. `npm start` and the tests both start it through `startLocalStack`.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { sealKeyPolicy } from '../../tasks/policies.ts';
import { SEED_TENANTS, SEED_USERS, type SeedTenant, type SeedUser } from '../../tasks/seed.ts';
import { TableNames } from '../../tasks/tables.ts';
import { handler as preTokenGeneration } from '../../tasks/pre-token-generation.ts';
import { seedPlan, seedStepName, seedStore, type SeededRecord, type SeedingJournal, type SeedStep } from './seeding.ts';
import type { AgentRuntimeKind } from '../../tasks/config.ts';
import type { TaskHandler } from '../../tasks/task-modules.ts';
import { LocalAppSync } from './services/appsync/graphql.ts';
import { DeliveryLog } from './services/appsync/delivery-log.ts';
import { deliveredEndingOf, releaseCutOffSlots } from './cut-off-runs.ts';
import { writePrivateFile } from '../../client/cli/private-file.ts';
import { CognitoService, writeLocalUsers, type LocalUser } from './services/cognito/service.ts';
import type { LocalClientConfig } from '../../client/cli/targets.ts';
import { loadResolver } from './services/appsync/resolver-runtime.ts';
import { signedHttpDataSource } from './services/appsync/http-data-source.ts';
import { dynamodbDataSource } from './services/appsync/dynamodb-data-source.ts';
import { apiEnvironment, RESOLVERS } from '../resolvers.ts';
import { BedrockService } from './services/bedrock/service.ts';
import { DynamoService } from './services/dynamodb/service.ts';
import { LocalLambdaRuntime } from './services/lambda/runtime.ts';
import { LogsService, stepFunctionsLogEvents } from './services/logs/service.ts';
import { localFunctionArn, localTaskConfig, runsInSandbox, startLocalFunctions, type LocalFunctions, type LocalFunctionsOptions } from './services/lambda/functions.ts';
import { StepFunctionsService, type StepFunctionsOptions } from './services/stepfunctions/service.ts';
import { isLambdaFunctionError, lambdaTaskError } from './services/stepfunctions/lambda-task.ts';
import { substituteFunctionArns } from '../../states/definition.ts';
import { TASK_NAMES, type TaskName } from '../../tasks/task-names.ts';
import { Edge } from './edge/edge.ts';
import { PolicyEvaluator } from './iam/evaluator.ts';
import { KmsService, type KmsKey } from './services/kms/service.ts';
import { jsonLogger, type Logger, type LogLevel } from './edge/log.ts';
import { API_DATA_SOURCE, API_USAGE_DATA_SOURCE, LOCAL_MODEL_ID, LocalIam, SEAL_KEY_ALIAS, SEAL_KEY_ID, STATE_MACHINE_LOG_GROUP, STATE_MACHINE_NAME, type LocalCredentials, type LocalPrincipalName, type PersistedKeys } from './iam/principals.ts';
import { StsService } from './services/sts/service.ts';
import { SsmService } from './services/ssm/service.ts';
import { SecretsManagerService } from './services/secretsmanager/service.ts';
import { claimDataDir, type DataDirLock } from './data-dir-lock.ts';
import { localTls, type LocalTls } from './tls.ts';
import { AMPLIFY_OUTPUTS_FILE, amplifyOutputsJson } from '../../tasks/amplify-outputs.ts';
import { bootstrapVersionParameter, installedBootstrapVersion, MIN_BOOTSTRAP_VERSION } from '../aws/bootstrap.ts';

/** What a persisted stack keeps between starts, besides the DynamoDB data. */
interface StackState {
  keys: PersistedKeys;
  kmsKeys: KmsKey[];
  users: LocalUser[];
  /**
   * The seed entries already added to this data directory (written once their seeding finished), so
   * that a seed tenant or user an operator removed is not added again at the next start, while an
   * entry new to the seed lists is. Absent in data directories of earlier versions: then the users
   * found are the seeded ones, and every seed tenant is ensured once (nothing existing is changed).
   */
  seeded?: SeededRecord;
  /**
   * The seeding a start began and has not finished (seeding.ts): the orders each seed user being
   * added is owed. Written before the store is seeded, dropped once it is; a start killed in between
   * leaves it for the next start, which completes the entries not yet in `seeded`.
   */
  seeding?: SeedingJournal;
}

export interface LocalStackOptions {
  /** Directory for persisted state (LevelDB, keys, users). In memory when undefined. */
  dataDir?: string;
  /** Edge port; 0 picks a free one. @default 4566 */
  port?: number;
  host?: string;
  /** The stand-ins' clock (session expiry, signature dates). @default real time */
  clock?: () => Date;
  logger?: Logger;
  /** Memoise policy decisions. @default true */
  policyCache?: boolean;
  /** Random orders for each seed user when it is added. @default 0 (a seeded user starts with no orders) */
  seedOrdersPerUser?: number;
  /**
   * Told each finished seeding step (seeding.ts seedStepName) once it is recorded in stack.json, and
   * awaited before seeding goes on: `npm start`'s LOCAL_STACK_PAUSE_AT pauses there, so that the
   * crash suite kills the stack at a named point.
   */
  seedCheckpoint?: (step: string) => Promise<void>;
  /**
   * The seed tenants and users (tests add one). On every start, a missing table, config row or user
   * is added and an existing one left as it is. @default SEED_TENANTS, SEED_USERS (tasks/seed.ts)
   */
  seed?: { tenants: readonly SeedTenant[]; users: readonly SeedUser[] };
  /** Local AppSync port; 0 picks a free one. @default 3000, or 0 when `port` is 0 */
  appsyncPort?: number;
  /** The same GraphQL and realtime endpoints over HTTPS/WSS, with the local CA's certificate (tls.ts); 0 picks a free one. @default 3443, or 0 when the AppSync port is 0 */
  appsyncHttpsPort?: number;
  /** Which agent runtime adapter the invoke-agent task uses. @default 'bedrock-agent' */
  agentRuntime?: AgentRuntimeKind;
  /**
   * The model (tasks/models.ts: a model id or an inference profile id) the agent runs on: the
   * Converse runtime's MODEL_ID, the local agent's foundation model, what invoke-agent may invoke.
   * Not checked here (tests start stacks on retired models); `npm start` refuses an unavailable one.
   * @default LOCAL_MODEL_ID
   */
  modelId?: string;
  /** Dependency overrides per task function (tests: a hostile tool registry). */
  taskOverrides?: LocalFunctionsOptions['overrides'];
  /** The local AppSync serves introspection (`__schema`, `__type`): for development tools only. @default false, as deployed */
  introspection?: boolean;
  /** Run the task functions in their sandbox thread (lambda-runtime.ts). @default true */
  lambdaSandbox?: boolean;
  /** false: mint-credentials assumes a session per question (SCOPED_SESSION_REUSE=off; `npm run bench -- workflow`'s before). @default true */
  scopedSessionReuse?: boolean;
  /** Function timeouts in seconds per task (tests: a fraction of a second). @default FUNCTION_TIMEOUT_SECONDS (tasks/task-names.ts) */
  functionTimeoutSeconds?: LocalFunctionsOptions['timeoutSeconds'];
  /** Retry pauses in ms instead of the definition's backoff (tests use 0). @default the definition's */
  retryIntervalOverrides?: StepFunctionsOptions['retryIntervalOverrides'];
  /** Start every execution twice, as AWS may run an Express execution more than once. @default false */
  duplicateExecutions?: boolean;
  /**
   * Where `local-users.json` is kept in step when an administrator adds, removes or resets users
   * (npm start writes it there at start, --memory included). @default dataDir; none without either
   */
  localUsersDir?: string;
}

export interface LocalStack {
  readonly edgeUrl: string;
  readonly iam: LocalIam;
  readonly tables: TableNames;
  readonly users: readonly LocalUser[];
  readonly evaluator: PolicyEvaluator;
  readonly dynamo: DynamoService;
  readonly bedrock: BedrockService;
  /** STS: records the role sessions it grants (tests count the tenant access sessions). */
  readonly sts: StsService;
  /** The model the agent runs on. */
  readonly modelId: string;
  /** CloudWatch Logs: the state machine's log group receives each execution's records. */
  readonly logs: LogsService;
  /** Parameter Store: holds the CDK bootstrap version, as a bootstrapped account's does. */
  readonly ssm: SsmService;
  /** Secrets Manager: the users' first passwords (`MultiTenantAiAssistant/seed-users/<username>`). */
  readonly secrets: SecretsManagerService;
  readonly states: StepFunctionsService;
  readonly cognito: CognitoService;
  /** The realtime WebSocket endpoint (`ws://127.0.0.1:3000/graphql/realtime`). */
  readonly realtimeUrl: string;
  readonly edge: Edge;
  readonly appsync: LocalAppSync;
  /** The local AppSync GraphQL endpoint (`http://127.0.0.1:3000/graphql`). */
  readonly graphqlUrl: string;
  /** The same endpoints over TLS (`https://127.0.0.1:3443/graphql`, `wss://127.0.0.1:3443/graphql/realtime`), as Amplify needs them. */
  readonly graphqlHttpsUrl: string;
  readonly realtimeWssUrl: string;
  /** The local CA clients trust for them (its file and SHA-256 fingerprint), and what this start made (tls.ts). */
  readonly tls: Pick<LocalTls, 'caFile' | 'caFingerprint' | 'made'>;
  /** Where this start wrote amplify_outputs.json (tasks/amplify-outputs.ts); undefined when it has no directory. */
  readonly amplifyOutputsFile: string | undefined;
  /** The task functions by local function ARN, as the state machine invokes them. */
  readonly functions: ReadonlyMap<string, TaskHandler>;
  /** The Lambda sandbox the functions run in (undefined with `lambdaSandbox: false`). */
  readonly lambdaRuntime: LocalLambdaRuntime | undefined;
  /** True when this start added anything the seed lists (a table, a config row, a user). */
  readonly seeded: boolean;
  /** The data directory's lock (data-dir-lock.ts): held until stop(); says whether a stale one was taken over. */
  readonly dataDirLock: DataDirLock | undefined;
  /** SDK client configuration for a local principal, or for any credentials (e.g. minted ones). */
  clientConfig(who: LocalPrincipalName | LocalCredentials): LocalClientConfig;
  user(username: string): LocalUser;
  stop(): Promise<void>;
}

const STATE_FILE = 'stack.json';

// The seeding is resumable (seeding.ts); tests and the isolation suite create tables with it too.
export { ensureTable } from './seeding.ts';

async function loadState(dataDir: string | undefined): Promise<StackState | undefined> {
  if (!dataDir) return undefined;
  const file = path.join(dataDir, STATE_FILE);
  if (!existsSync(file)) return undefined;
  return JSON.parse(await readFile(file, 'utf8')) as StackState;
}

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const logger = options.logger ?? jsonLogger((process.env.LOG_LEVEL as LogLevel | 'silent' | undefined) ?? 'warn');
  // The Lambda sandbox loads its code on the other core while the stand-ins start.
  const sandboxed = TASK_NAMES.some((t) => runsInSandbox(t, options.lambdaSandbox, options.taskOverrides));
  const lambdaRuntime = sandboxed ? new LocalLambdaRuntime(logger) : undefined;
  try {
    return await startStack(options, logger, lambdaRuntime);
  } catch (err) {
    await lambdaRuntime?.stop();
    throw err;
  }
}

async function startStack(options: LocalStackOptions, logger: Logger, lambdaRuntime: LocalLambdaRuntime | undefined): Promise<LocalStack> {
  // What has started, to be stopped last-started-first: by stop(), or at once if the start fails.
  const closers: (() => Promise<void>)[] = [];
  const closeAll = async () => {
    for (const close of closers.splice(0).reverse()) await close();
  };
  try {
    return await startServices(options, logger, lambdaRuntime, closers, closeAll);
  } catch (err) {
    await closeAll();
    throw err;
  }
}

async function startServices(
  options: LocalStackOptions,
  logger: Logger,
  lambdaRuntime: LocalLambdaRuntime | undefined,
  closers: (() => Promise<void>)[],
  closeAll: () => Promise<void>,
): Promise<LocalStack> {
  const clock = options.clock ?? (() => new Date());
  const tables = new TableNames();
  // Before anything in the data directory is read or written: one stack per directory, files checked.
  const dataDirLock = await claimDataDir(options.dataDir, options.localUsersDir);
  if (dataDirLock) closers.push(async () => dataDirLock.release());
  if (dataDirLock?.tookOverFrom) logger.log('warn', 'stack.stale_lock_taken_over', { lock: dataDirLock.file, pid: dataDirLock.tookOverFrom.pid, startedAt: dataDirLock.tookOverFrom.startedAt });
  // The local CA (refused, with the way out, when it cannot be used) and the HTTPS endpoint's certificate.
  const tls = await localTls({ dataDir: options.dataDir, clock });
  closers.push(() => tls.dispose());
  if (tls.made.cert) logger.log('info', 'stack.tls_certificate_made', { reason: tls.made.reason, caMade: tls.made.ca });
  const state = await loadState(options.dataDir);

  const modelId = options.modelId ?? LOCAL_MODEL_ID;
  const iam = new LocalIam({ tables, agentRuntime: options.agentRuntime ?? 'bedrock-agent', modelId, ...(state ? { keys: state.keys } : {}) });
  const evaluator = new PolicyEvaluator({ cache: options.policyCache !== false });
  const kmsKeys = state?.kmsKeys ?? [KmsService.newKey(SEAL_KEY_ID, [SEAL_KEY_ALIAS])];
  const seedLists = options.seed ?? { tenants: SEED_TENANTS, users: SEED_USERS };
  // The users of the last start, and the seed users missing from them (new ones get a new sub).
  const known = state?.users ?? [];
  const seededBefore = state?.seeded ?? { tenants: [], users: known.map((u) => u.username) };
  const addedUsers = seedLists.users
    .filter((u) => !known.some((k) => k.username === u.username) && !seededBefore.users.includes(u.username))
    .map((u) => ({ username: u.username, tenantId: u.tenantId, sub: randomUUID() }));
  const users: LocalUser[] = [...known, ...addedUsers];
  // What this start seeds: the seed entries not yet recorded (an interrupted start's included).
  const plan = seedPlan(seedLists, users, seededBefore, state?.seeding, options.seedOrdersPerUser ?? 0);
  const seededRecord: SeededRecord = { tenants: [...seededBefore.tenants], users: [...seededBefore.users] };
  let journal: SeedingJournal | undefined = { orders: Object.fromEntries(plan.users.map((u) => [u.user.username, u.orders])) };
  const stackState = (): StackState => ({ keys: iam.persistedKeys(), kmsKeys, users, seeded: seededRecord, ...(journal ? { seeding: journal } : {}) });

  // Users an administrator adds or removes at runtime are kept as seeded ones are: in stack.json's
  // users (the pool's authoritative list at the next start), and in local-users.json. One write at a time.
  const usersDir = options.localUsersDir ?? options.dataDir;
  let userFiles: Promise<void> = Promise.resolve();
  const saveState = (alsoUsersFile: boolean): Promise<void> => {
    const run = userFiles.then(async () => {
      if (options.dataDir) await writePrivateFile(path.join(options.dataDir, STATE_FILE), JSON.stringify(stackState(), null, 2));
      if (alsoUsersFile && usersDir) await writeLocalUsers(usersDir, cognito);
    });
    userFiles = run.catch(() => undefined);
    return run;
  };
  const onUsersChanged = (): Promise<void> => {
    users.splice(0, users.length, ...cognito.listUsers().map(({ username, tenantId, sub }) => ({ username, tenantId, sub })));
    return saveState(true);
  };
  // The identity (keys, users and their subs) and the seeding plan are on disk before anything uses them.
  await saveState(false);
  // The pool's pre token generation trigger is the function CDK deploys, called in this thread.
  const cognito = await CognitoService.create({
    location: iam.location,
    evaluator,
    users,
    clock,
    logger,
    onUsersChanged,
    preTokenGeneration,
    ...(options.dataDir ? { dataDir: options.dataDir } : {}),
  });
  closers.push(() => cognito.flush());
  closers.push(() => userFiles);
  const dynamo = new DynamoService({
    ...(options.dataDir ? { path: path.join(options.dataDir, 'dynamodb'), dataDir: options.dataDir } : {}),
    location: iam.location,
    evaluator,
    clock,
  });
  await dynamo.start();
  closers.push(() => dynamo.stop());
  const agentRuntime = options.agentRuntime ?? 'bedrock-agent';
  // The agent is an Agents Classic resource of the account only with the bedrock-agent runtime.
  const bedrock = new BedrockService({ location: iam.location, evaluator, logger, modelId, clock, agentListed: agentRuntime === 'bedrock-agent' });
  // The local account is bootstrapped as `cdk bootstrap` of the installed CLI leaves an account.
  const ssm = new SsmService(iam.location, evaluator, clock);
  ssm.putParameter(bootstrapVersionParameter(), String(installedBootstrapVersion() ?? MIN_BOOTSTRAP_VERSION));
  const secrets = new SecretsManagerService({ location: iam.location, evaluator, clock, ...(options.dataDir ? { dataDir: options.dataDir } : {}) });
  closers.push(() => secrets.flush());
  // As on AWS (logging level ALL with execution data), each execution's records go to the state
  // machine's log group when it ends; the operator reads them with FilterLogEvents.
  const logs = new LogsService(iam.location, evaluator, { clock });
  logs.createLogGroup(STATE_MACHINE_LOG_GROUP);
  // The task functions need the endpoints, which exist once the servers listen: bound below.
  const bound: { functions?: ReadonlyMap<string, TaskHandler> } = {};
  const functionArns = Object.fromEntries(TASK_NAMES.map((t) => [t, localFunctionArn(iam, t)])) as Record<TaskName, string>;
  // Read before the executions are recovered: which terminal events AppSync accepted before a crash (cut-off-runs.ts).
  const deliveryLog = DeliveryLog.open(options.dataDir);
  closers.push(() => deliveryLog.close());
  const states = new StepFunctionsService({
    deliveredEnding: deliveredEndingOf(deliveryLog),
    location: iam.location,
    evaluator,
    logger,
    clock,
    ...(options.dataDir ? { dataDir: options.dataDir } : {}),
    ...(options.retryIntervalOverrides !== undefined ? { retryIntervalOverrides: options.retryIntervalOverrides } : {}),
    duplicateExecutions: options.duplicateExecutions ?? false,
    onExecutionEnded: (executionArn, history) =>
      logs.deliver(STATE_MACHINE_LOG_GROUP, `states/${STATE_MACHINE_NAME}/${executionArn.split(':').pop()}`, stepFunctionsLogEvents(executionArn, history)),
    stateMachines: [{ name: STATE_MACHINE_NAME, arn: iam.resources.stateMachineArn, definition: substituteFunctionArns(functionArns) as object, type: 'EXPRESS' }],
    // A function ARN Resource: a function error becomes the Error and Cause Step Functions reports for it.
    invokeTask: async (resourceArn, input) => {
      const fn = bound.functions?.get(resourceArn);
      if (!fn) throw new Error(`No local function ${resourceArn}`);
      try {
        return await fn(input);
      } catch (err) {
        throw isLambdaFunctionError(err) ? lambdaTaskError(err) : err;
      }
    },
  });
  const sts = new StsService(iam, evaluator, clock);
  const edge = new Edge({
    iam,
    clock,
    logger,
    services: {
      dynamodb: dynamo,
      sts,
      kms: new KmsService(iam.location, evaluator, kmsKeys, { [SEAL_KEY_ID]: sealKeyPolicy(iam.resources) }),
      bedrock,
      states,
      'cognito-idp': cognito,
      logs,
      ssm,
      secretsmanager: secrets,
    },
  });
  // The edge URL is known only once it listens: the data source reads it when called.
  const edgeRef: { url?: string; dataSource?: ReturnType<typeof signedHttpDataSource>; dynamodb?: ReturnType<typeof dynamodbDataSource> } = {};
  const appsync = new LocalAppSync({
    iam,
    evaluator,
    clock,
    logger,
    apiArn: iam.resources.graphqlApiArn,
    resolvers: await Promise.all(RESOLVERS.map(loadResolver)),
    env: apiEnvironment({ stateMachineArn: iam.resources.stateMachineArn, tables }),
    introspection: options.introspection ?? false,
    deliveryLog,
    // The verifier is built on first use, once the issuer (the edge URL) is known.
    // ID and access tokens, of the web client only (appIdClientRegex, as deployed).
    verifyUserPoolToken: (token) => cognito.verifiers().apiToken.verify(token) as Promise<Record<string, unknown>>,
    httpDataSource: (service, request) => {
      edgeRef.dataSource ??= signedHttpDataSource({ endpoint: edgeRef.url!, region: iam.location.region, credentials: iam.credentials(API_DATA_SOURCE) });
      return edgeRef.dataSource(service, request);
    },
    // The DynamoDB data sources sign as their own role (apiUsageDataSourcePolicy), through the edge.
    dynamodbDataSource: (table, request) => {
      if (!edgeRef.dynamodb) {
        const signed = signedHttpDataSource({ endpoint: edgeRef.url!, region: iam.location.region, credentials: iam.credentials(API_USAGE_DATA_SOURCE) });
        edgeRef.dynamodb = dynamodbDataSource({ tables: { usage: tables.usage, config: tables.config }, send: (req) => signed('dynamodb', req) });
      }
      return edgeRef.dynamodb(table, request);
    },
  });
  closers.push(() => edge.close());
  const edgeUrl = await edge.listen(options.port ?? 4566, options.host ?? '127.0.0.1');
  edgeRef.url = edgeUrl;
  cognito.setIssuerBase(edgeUrl);
  closers.push(() => appsync.close());
  const appsyncPort = options.appsyncPort ?? (options.port === 0 ? 0 : 3000);
  const graphqlUrl = await appsync.listen(appsyncPort, options.host ?? '127.0.0.1');
  const graphqlHttpsUrl = await appsync.listenTls(options.appsyncHttpsPort ?? (appsyncPort === 0 ? 0 : 3443), options.host ?? '127.0.0.1', tls);
  dataDirLock?.listening({ edge: edgeUrl, graphql: graphqlUrl, graphqlHttps: graphqlHttpsUrl });
  const outputsDir = options.dataDir ?? options.localUsersDir;
  const amplifyOutputsFile = outputsDir ? path.join(outputsDir, AMPLIFY_OUTPUTS_FILE) : undefined;
  const backend = { region: iam.location.region, userPoolId: cognito.poolId, userPoolClientId: cognito.clientId, graphqlUrl: graphqlHttpsUrl };
  if (amplifyOutputsFile) await writePrivateFile(amplifyOutputsFile, amplifyOutputsJson(backend));
  const lambdas: LocalFunctions = await startLocalFunctions({
    iam,
    edgeUrl,
    logger,
    config: { ...localTaskConfig(iam, graphqlUrl, options.agentRuntime ?? 'bedrock-agent', modelId), ...(options.scopedSessionReuse === false ? { scopedSessionReuse: false } : {}) },
    ...(options.taskOverrides ? { overrides: options.taskOverrides } : {}),
    ...(options.lambdaSandbox !== undefined ? { sandbox: options.lambdaSandbox } : {}),
    ...(options.functionTimeoutSeconds ? { timeoutSeconds: options.functionTimeoutSeconds } : {}),
    ...(lambdaRuntime ? { runtime: lambdaRuntime } : {}),
  });
  closers.push(() => lambdas.stop());
  // Stopped first: no execution may call a function that is gone.
  closers.push(() => states.stop());
  const functions = lambdas.handlers;
  bound.functions = functions;

  const clientConfig = (who: LocalPrincipalName | LocalCredentials): LocalClientConfig => ({
    endpoint: edgeUrl,
    region: iam.location.region,
    credentials:
      typeof who === 'string'
        ? iam.credentials(who)
        : { accessKeyId: who.accessKeyId, secretAccessKey: who.secretAccessKey, ...(who.sessionToken ? { sessionToken: who.sessionToken } : {}) },
    maxAttempts: 1,
  });

  // Each entry is recorded once complete, before seeding goes on: a start killed at any step leaves
  // the rest to the next start (seeding.ts).
  const stepDone = async (step: SeedStep) => {
    if (step.kind === 'tenant' || step.kind === 'user') {
      if (step.kind === 'tenant') seededRecord.tenants.push(step.tenantId);
      else {
        seededRecord.users.push(step.username);
        delete journal?.orders[step.username];
      }
      await saveState(false);
    }
    await options.seedCheckpoint?.(seedStepName(step));
  };
  const seededData = await seedStore(new DynamoDBClient(clientConfig('operator')), tables, plan, stepDone);
  const seeded = seededData || addedUsers.length > 0;
  // The runs a stopped process cut off give their askers' admission slots back (cut-off-runs.ts).
  await releaseCutOffSlots(states.abortedAtStart(), { dynamodb: new DynamoDBClient(clientConfig('publish-answer')), tables, logger });
  // Seeding is complete: every entry of the seed lists is recorded (one an operator removed stays removed).
  for (const t of seedLists.tenants) if (!seededRecord.tenants.includes(t.tenantId)) seededRecord.tenants.push(t.tenantId);
  for (const u of seedLists.users) if (!seededRecord.users.includes(u.username)) seededRecord.users.push(u.username);
  journal = undefined;
  if (options.dataDir) await onUsersChanged();
  await options.seedCheckpoint?.('seeded');
  logger.log('info', 'stack.started', { edgeUrl, persisted: Boolean(options.dataDir), seeded });

  return {
    edgeUrl,
    iam,
    tables,
    users,
    evaluator,
    dynamo,
    bedrock,
    sts,
    modelId,
    logs,
    ssm,
    secrets,
    states,
    cognito,
    realtimeUrl: LocalAppSync.realtimeUrl(graphqlUrl),
    edge,
    appsync,
    graphqlUrl,
    graphqlHttpsUrl,
    realtimeWssUrl: LocalAppSync.realtimeUrl(graphqlHttpsUrl),
    tls: { caFile: tls.caFile, caFingerprint: tls.caFingerprint, made: tls.made },
    amplifyOutputsFile,
    functions,
    lambdaRuntime: lambdas.runtime,
    seeded,
    dataDirLock,
    clientConfig,
    user(username) {
      const u = users.find((x) => x.username === username);
      if (!u) throw new Error(`Unknown local user '${username}'. Known: ${users.map((x) => x.username).join(', ')}`);
      return u;
    },
    stop: closeAll,
  };
}
