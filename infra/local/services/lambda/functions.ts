/**
 * The local "Lambda" functions: each task's handler, built (`buildFunction`) by the same
 * `createTaskHandler` the Lambda entries use, from the same environment CDK sets, with that task's own role credentials
 * and the edge as its endpoint. Every SDK call a task makes is therefore signed and checked by the
 * edge, as on AWS. They run in a sandbox thread of their own (lambda-runtime.ts).
 */
import { taskEnvironment, type AgentRuntimeKind, type TaskConfig } from '../../../../tasks/config.ts';
import type { TaskHandler } from '../../../../tasks/task-modules.ts';
import { FUNCTION_TIMEOUT_SECONDS, TASK_NAMES, type TaskName } from '../../../../tasks/task-names.ts';
import { withTimeout } from './invocation.ts';
import { buildFunction, type SandboxFunction } from './protocol.ts';
import { withPayloadLimits } from './payload-limits.ts';
import { LocalLambdaRuntime } from './runtime.ts';
import { logFunctionLine, type Logger } from '../../edge/log.ts';
import { LOCAL_AGENT_ALIAS_ID, LOCAL_AGENT_ID, LOCAL_MODEL_ID, localUserPoolId, SEAL_KEY_ALIAS, type LocalIam } from '../../iam/principals.ts';

export function localFunctionArn(iam: LocalIam, task: TaskName): string {
  const { partition, region, accountId } = iam.location;
  return `arn:${partition}:lambda:${region}:${accountId}:function:${task}`;
}

export function localTaskConfig(iam: LocalIam, graphqlUrl: string, agentRuntime: AgentRuntimeKind, modelId = LOCAL_MODEL_ID): TaskConfig {
  return {
    location: iam.location,
    tables: iam.tables,
    tenantAccessRoleArn: iam.resources.tenantAccessRoleArn,
    publishRoleArn: iam.resources.publishRoleArn,
    sealKeyId: SEAL_KEY_ALIAS,
    graphqlUrl,
    agentRuntime,
    agentId: LOCAL_AGENT_ID,
    agentAliasId: LOCAL_AGENT_ALIAS_ID,
    modelId,
    userPoolId: localUserPoolId(iam.location.region),
  };
}

export interface LocalFunctionsOptions {
  iam: LocalIam;
  edgeUrl: string;
  config: TaskConfig;
  logger: Logger;
  /**
   * Dependency overrides per task (tests: a hostile tool registry, a broken publisher). Functions
   * cannot cross into the sandbox, so an overridden task runs in this thread instead.
   */
  overrides?: Partial<Record<TaskName, Record<string, unknown>>>;
  /** Run the functions in this thread instead of the sandbox (the benchmark's floor). @default true */
  sandbox?: boolean;
  /**
   * Function timeouts in seconds instead of FUNCTION_TIMEOUT_SECONDS (tests: a fraction of a second,
   * which Lambda itself does not allow). @default FUNCTION_TIMEOUT_SECONDS
   */
  timeoutSeconds?: Partial<Record<TaskName, number>>;
  /**
   * A sandbox started early (it loads its code while the stack starts), given when some function
   * runs in the sandbox; one is made otherwise.
   */
  runtime?: LocalLambdaRuntime;
}

/** Whether `task` runs in the sandbox: unless the sandbox is off or the task's deps are overridden (functions cannot cross into it). */
export function runsInSandbox(task: TaskName, sandbox: boolean | undefined, overrides: LocalFunctionsOptions['overrides']): boolean {
  return sandbox !== false && !overrides?.[task];
}

/** Each function as its Lambda is configured: ARN, task, environment and its role's credentials. */
function localFunctionDefinitions(options: Pick<LocalFunctionsOptions, 'iam' | 'config'>): SandboxFunction[] {
  const { iam, config } = options;
  return TASK_NAMES.map((task) => ({
    functionArn: localFunctionArn(iam, task),
    task,
    environment: { AWS_REGION: config.location.region, ...taskEnvironment({ ...config, tablePrefix: config.tables.prefix }) },
    credentials: iam.credentials(task),
  }));
}

/** The functions of the stack: handlers by local function ARN, and how to stop them. */
export interface LocalFunctions {
  readonly handlers: ReadonlyMap<string, TaskHandler>;
  /** The sandbox the functions run in; undefined when every function runs in this thread. */
  readonly runtime: LocalLambdaRuntime | undefined;
  stop(): Promise<void>;
}

/**
 * Starts the task functions: in the sandbox (lambda-runtime.ts) unless `sandbox` is false, except
 * the overridden ones, which run here. Either way a function is built from its Lambda environment
 * (`taskConfigFromEnv`) and signs with its own role's credentials; every SDK call goes to the edge;
 * it fails with the same error document (invocation.ts), and within the same timeout, which runs
 * here, beside the sandbox, so that a function that blocks its thread still times out.
 */
export async function startLocalFunctions(options: LocalFunctionsOptions): Promise<LocalFunctions> {
  const definitions = localFunctionDefinitions(options);
  const sandboxed = definitions.filter((d) => runsInSandbox(d.task, options.sandbox, options.overrides));
  const inThread = definitions.filter((d) => !runsInSandbox(d.task, options.sandbox, options.overrides));
  const runtime = sandboxed.length > 0 ? (options.runtime ?? new LocalLambdaRuntime(options.logger)) : undefined;
  await runtime?.start({ endpoint: options.edgeUrl, functions: sandboxed });
  const built = new Map(runtime?.handlers());
  for (const d of inThread) {
    const override = options.overrides?.[d.task];
    const log = (line: Record<string, unknown>) => logFunctionLine(options.logger, d.functionArn, line);
    built.set(d.functionArn, buildFunction(d, options.edgeUrl, { log, ...(override ? { override } : {}) }));
  }
  // withTimeout also makes what an in-thread function throws the error document the sandbox reports.
  const handlers = new Map<string, TaskHandler>();
  for (const d of definitions) {
    const timeout = options.timeoutSeconds?.[d.task] ?? FUNCTION_TIMEOUT_SECONDS[d.task];
    handlers.set(d.functionArn, withTimeout(built.get(d.functionArn)!, timeout));
  }
  return {
    // Invoked as Lambda's synchronous Invoke: held to its request and response quotas.
    handlers: new Map([...handlers].map(([arn, fn]) => [arn, withPayloadLimits(fn)])),
    runtime,
    stop: async () => {
      await runtime?.stop();
    },
  };
}
