/**
 * The local "Lambda" functions: each task's handler, built by the same `createTaskHandler` the
 * Lambda entries use, with that task's own role credentials and the edge as its endpoint. Every
 * SDK call a task makes is therefore signed and checked by the edge, as on AWS.
 */
import type { AgentRuntimeKind, TaskConfig } from '../../tasks/config.ts';
import { createTaskHandler, type TaskHandler } from '../../tasks/handlers.ts';
import { TASK_NAMES, type TaskName } from '../../tasks/policies.ts';
import type { Logger } from './log.ts';
import { LOCAL_AGENT_ALIAS_ID, LOCAL_AGENT_ID, LOCAL_MODEL_ID, localUserPoolId, SEAL_KEY_ALIAS, type LocalIam } from './principals.ts';

export function localFunctionArn(iam: LocalIam, task: TaskName): string {
  const { partition, region, accountId } = iam.location;
  return `arn:${partition}:lambda:${region}:${accountId}:function:${task}`;
}

export function localTaskConfig(iam: LocalIam, graphqlUrl: string, agentRuntime: AgentRuntimeKind): TaskConfig {
  return {
    location: iam.location,
    tables: iam.tables,
    tenantAccessRoleArn: iam.resources.tenantAccessRoleArn,
    sealKeyId: SEAL_KEY_ALIAS,
    graphqlUrl,
    agentRuntime,
    agentId: LOCAL_AGENT_ID,
    agentAliasId: LOCAL_AGENT_ALIAS_ID,
    modelId: LOCAL_MODEL_ID,
    userPoolId: localUserPoolId(iam.location.region),
  };
}

export interface LocalFunctionsOptions {
  iam: LocalIam;
  edgeUrl: string;
  config: TaskConfig;
  logger: Logger;
  /** Dependency overrides per task (tests: a hostile tool registry, a broken publisher). */
  overrides?: Partial<Record<TaskName, Record<string, unknown>>>;
}

/** Task handlers keyed by their local function ARN. */
export function localFunctions(options: LocalFunctionsOptions): Map<string, TaskHandler> {
  const functions = new Map<string, TaskHandler>();
  for (const task of TASK_NAMES) {
    const handler = createTaskHandler(
      task,
      options.config,
      { region: options.iam.location.region, endpoint: options.edgeUrl, credentials: options.iam.credentials(task) },
      {
        ...(options.overrides?.[task] ? { override: options.overrides[task] } : {}),
        log: ({ level, msg, ...fields }) => options.logger.log(level === 'warn' ? 'warn' : 'debug', String(msg), fields),
      },
    );
    functions.set(localFunctionArn(options.iam, task), handler);
  }
  return functions;
}
