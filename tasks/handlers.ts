/**
 * One handler per task: build the task's dependencies once (clients signed with the task's own
 * role), then call the pure task function per invocation. The Lambda entries (tasks/lambda/) and
 * the local Step Functions stand-in both use `createTaskHandler`, so the same code runs in both.
 */
import type { TaskName } from './policies.ts';
import type { ClientOptions, TaskConfig } from './config.ts';
import { invokeAgent, invokeAgentDeps } from './invoke-agent.ts';
import { mintCredentials, mintCredentialsDeps } from './mint-credentials.ts';
import { publishAnswer, publishAnswerDeps } from './publish-answer.ts';
import { recordFailure, recordFailureDeps } from './record-failure.ts';
import { validateContext, validateContextDeps } from './validate-context.ts';

export type TaskHandler = (event: unknown) => Promise<unknown>;

interface TaskModule<D> {
  run(input: unknown, deps: D): Promise<unknown>;
  deps(config: TaskConfig, clients: ClientOptions): D;
}

const module = <D>(m: TaskModule<D>): TaskModule<D> => m;

export const TASK_MODULES = {
  'validate-context': module({ run: validateContext, deps: validateContextDeps }),
  'mint-credentials': module({ run: mintCredentials, deps: mintCredentialsDeps }),
  'invoke-agent': module({ run: invokeAgent, deps: invokeAgentDeps }),
  'publish-answer': module({ run: publishAnswer, deps: publishAnswerDeps }),
  'record-failure': module({ run: recordFailure, deps: recordFailureDeps }),
} satisfies Record<TaskName, unknown>;

export interface HandlerOptions {
  /** Replace some dependencies (tests: a hostile tool registry, a failing publisher). */
  override?: Record<string, unknown>;
  log?: (line: Record<string, unknown>) => void;
}

const defaultLog = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`);

/**
 * The handler for `task`. Logs one structured line per invocation with the task, outcome and
 * duration: never the event, the result or credentials.
 */
export function createTaskHandler(task: TaskName, config: TaskConfig, clients: ClientOptions, options: HandlerOptions = {}): TaskHandler {
  const m = TASK_MODULES[task] as TaskModule<object>;
  const deps = { ...m.deps(config, clients), ...options.override };
  const log = options.log ?? defaultLog;
  return async (event) => {
    const started = Date.now();
    try {
      const result = await m.run(event, deps);
      log({ level: 'info', task, msg: 'task.succeeded', ms: Date.now() - started });
      return result;
    } catch (err) {
      const e = err as Error;
      log({ level: 'warn', task, msg: 'task.failed', error: e.name, ms: Date.now() - started });
      throw err;
    }
  };
}
