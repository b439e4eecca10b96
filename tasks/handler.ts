/**
 * One handler per task: build the task's dependencies once (clients signed with the task's own
 * role), then call the pure task function per invocation. Each Lambda entry (tasks/lambda/) wraps
 * only its own task module, so its bundle holds only that task's code and clients; the local stack
 * wraps all five through tasks/task-modules.ts.
 */
import type { ClientOptions, TaskConfig } from './config.ts';
import type { TaskName } from './task-names.ts';

export type TaskHandler = (event: unknown) => Promise<unknown>;

/** A structured log line: a level, a `msg` and fields; never an event, a token or a credential. */
export type TaskLog = (line: Record<string, unknown>) => void;

export interface TaskModule<D> {
  run(input: unknown, deps: D): Promise<unknown>;
  /** `log` is the handler's own logger, for tasks that log beside their outcome. */
  deps(config: TaskConfig, clients: ClientOptions, log: TaskLog): D;
}

export interface HandlerOptions {
  /** Replace some dependencies (tests: a hostile tool registry, a failing publisher). */
  override?: Record<string, unknown>;
  log?: TaskLog;
}

const defaultLog: TaskLog = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);

/**
 * The handler for one task module. Logs one structured line per invocation with the task, outcome
 * and duration: never the event, the result or credentials.
 */
export function wrapTask<D extends object>(
  task: TaskName,
  m: TaskModule<D>,
  config: TaskConfig,
  clients: ClientOptions,
  options: HandlerOptions = {},
): TaskHandler {
  const log = options.log ?? defaultLog;
  const deps = { ...m.deps(config, clients, log), ...options.override } as D;
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
