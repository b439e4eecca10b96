/**
 * Every Lambda entry's task module, for the local stack (which runs every task in one process), keyed
 * as tasks/lambda-entries.ts names the entries: a function is built from the module of the entry CDK
 * would deploy for its task and agent runtime. Lambda entries import only their own module through
 * tasks/handler.ts.
 */
import { bedrockAgentRuntime } from './agent-runtime-bedrock-agent.ts';
import { converseRuntime } from './agent-runtime-converse.ts';
import type { ClientOptions, TaskConfig } from './config.ts';
import { wrapTask, type HandlerOptions, type TaskHandler, type TaskModule } from './handler.ts';
import { invokeAgentModule } from './invoke-agent.ts';
import { lambdaEntry, type LambdaEntryName } from './lambda-entries.ts';
import { mintCredentials, mintCredentialsDeps } from './mint-credentials.ts';
import type { TaskName } from './task-names.ts';
import { publishAnswer, publishAnswerDeps } from './publish-answer.ts';
import { recordFailure, recordFailureDeps } from './record-failure.ts';
import { validateContext, validateContextDeps } from './validate-context.ts';

export type { HandlerOptions, TaskHandler } from './handler.ts';

const module = <D>(m: TaskModule<D>): TaskModule<D> => m;

export const ENTRY_MODULES = {
  'validate-context': module({ run: validateContext, deps: validateContextDeps }),
  'mint-credentials': module({ run: mintCredentials, deps: mintCredentialsDeps }),
  'invoke-agent-converse': module(invokeAgentModule(converseRuntime)),
  'invoke-agent-bedrock-agent': module(invokeAgentModule(bedrockAgentRuntime)),
  'publish-answer': module({ run: publishAnswer, deps: publishAnswerDeps }),
  'record-failure': module({ run: recordFailure, deps: recordFailureDeps }),
} satisfies Record<LambdaEntryName, unknown>;

export function createTaskHandler(task: TaskName, config: TaskConfig, clients: ClientOptions, options: HandlerOptions = {}): TaskHandler {
  return wrapTask(task, ENTRY_MODULES[lambdaEntry(task, config.agentRuntime)] as TaskModule<object>, config, clients, options);
}
