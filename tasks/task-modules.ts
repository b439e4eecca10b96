/**
 * All five task modules, for the local stack (which runs every task in one process). Lambda entries
 * import only their own module through tasks/handler.ts.
 */
import type { ClientOptions, TaskConfig } from './config.ts';
import { wrapTask, type HandlerOptions, type TaskHandler, type TaskModule } from './handler.ts';
import { invokeAgent, invokeAgentDeps } from './invoke-agent.ts';
import { mintCredentials, mintCredentialsDeps } from './mint-credentials.ts';
import type { TaskName } from './task-names.ts';
import { publishAnswer, publishAnswerDeps } from './publish-answer.ts';
import { recordFailure, recordFailureDeps } from './record-failure.ts';
import { validateContext, validateContextDeps } from './validate-context.ts';

export type { HandlerOptions, TaskHandler } from './handler.ts';

const module = <D>(m: TaskModule<D>): TaskModule<D> => m;

export const TASK_MODULES = {
  'validate-context': module({ run: validateContext, deps: validateContextDeps }),
  'mint-credentials': module({ run: mintCredentials, deps: mintCredentialsDeps }),
  'invoke-agent': module({ run: invokeAgent, deps: invokeAgentDeps }),
  'publish-answer': module({ run: publishAnswer, deps: publishAnswerDeps }),
  'record-failure': module({ run: recordFailure, deps: recordFailureDeps }),
} satisfies Record<TaskName, unknown>;

export function createTaskHandler(task: TaskName, config: TaskConfig, clients: ClientOptions, options: HandlerOptions = {}): TaskHandler {
  return wrapTask(task, TASK_MODULES[task] as TaskModule<object>, config, clients, options);
}
