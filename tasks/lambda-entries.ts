/**
 * Each task's Lambda entry (tasks/lambda/<entry>.ts) in a deployment: one per task, except
 * invoke-agent, which has one per agent runtime so that its bundle holds only the Bedrock client
 * that runtime uses. CDK (infra/aws/workflow.ts) bundles the entry this names under the task's own
 * function; the local Lambda runtime builds the same entry's module (tasks/task-modules.ts).
 */
import { AGENT_RUNTIMES, type AgentRuntimeKind } from './config.ts';
import { TASK_NAMES, type TaskName } from './task-names.ts';

export type LambdaEntryName = Exclude<TaskName, 'invoke-agent'> | `invoke-agent-${AgentRuntimeKind}`;

/** The entry of `task` for a deployment whose agent runtime is `agentRuntime`. */
export function lambdaEntry(task: TaskName, agentRuntime: AgentRuntimeKind): LambdaEntryName {
  return task === 'invoke-agent' ? `invoke-agent-${agentRuntime}` : task;
}

/** Every Lambda entry, whatever the runtime (the bundle tests and the benchmark build each). */
export const LAMBDA_ENTRIES: readonly LambdaEntryName[] = [...new Set(TASK_NAMES.flatMap((task) => AGENT_RUNTIMES.map((runtime) => lambdaEntry(task, runtime))))];
