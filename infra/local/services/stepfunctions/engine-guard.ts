/**
 * The engine guard: engine errors are not business failures.
 *
 * `aws-local-stepfunctions` treats any thrown value as a catchable, retryable error named by its
 * `name`, so a defect of the engine (a TypeError, a missing `Promise.withResolvers`) would be caught
 * by `States.ALL` and run the workflow's failure path as if a task had failed. Here every error that
 * reaches a state's Retry/Catch is classified first:
 * - thrown by `invokeTask` (tracked by identity): a task failure, matched by its name;
 * - one of the engine's own runtime errors (States.Timeout, States.NoChoiceMatched, Fail states,
 *   States.Runtime ...; they carry the engine's `isRetryable`/`isCatchable` flags): as the engine says;
 * - anything else: an engine failure. It is made non-retryable and non-catchable before Retry and
 *   Catch are evaluated, no further task is started, and the execution FAILS with `States.Runtime`.
 * The hook that sees each error first is the engine's event logger (`dispatchStateFailedEvent` runs
 * before Retry/Catch are evaluated). It is reached by wrapping `StateMachine.prototype.execute` once;
 * the wrapper acts only for runs that this service started (a symbol in the run options, which the
 * engine passes on to nested Parallel/Map runs) and changes nothing for anyone else.
 */
import { StateMachine, type RunOptions } from 'aws-local-stepfunctions';
import type { Failure } from './history.ts';

const ENGINE_GUARD = Symbol.for('multi-tenant-ai-assistant.local-stepfunctions.guard');
const HOOK_INSTALLED = Symbol.for('multi-tenant-ai-assistant.local-stepfunctions.hook');

/** Errors thrown by `invokeTask`: task failures, whatever their name. */
const taskErrors = new WeakSet<object>();
/** Errors the guard classified as engine failures (and marked non-retryable, non-catchable). */
const engineErrors = new WeakSet<object>();

interface EngineState {
  name: string;
  type: string;
  input?: unknown;
  output?: unknown;
}
export interface EngineEvent {
  type: string;
  state?: EngineState;
}
/** The engine's per-run event logger, as far as the guard uses it. */
export interface EngineEventLogger {
  dispatch(event: EngineEvent): void;
  dispatchStateFailedEvent(stateName: string, stateType: string, input: unknown, error: unknown): void;
  forwardNestedMapEvent?: (...args: unknown[]) => void;
  forwardNestedParallelEvent?: (...args: unknown[]) => void;
}
/** What a guarded run does with its event logger (and the loggers of its nested runs). */
export interface EngineGuard {
  attach(logger: EngineEventLogger): void;
}
type ExecuteOptions = { eventLogger?: EngineEventLogger; runOptions?: Record<PropertyKey, unknown> };
type ExecuteFn = (this: unknown, input: unknown, options: ExecuteOptions, cleanup: () => void) => Promise<unknown>;

/**
 * Prepares the engine for guarded runs: checks that the runtime has what the engine needs, and
 * wraps its `execute` once, so that runs carrying a guard hand it their event logger.
 */
export function installEngineGuard(): void {
  if (typeof (Promise as { withResolvers?: unknown }).withResolvers !== 'function') {
    throw new Error('Promise.withResolvers is missing: import infra/local/node-compat.ts before starting the local Step Functions.');
  }
  const proto = StateMachine.prototype as unknown as { execute?: ExecuteFn; [HOOK_INSTALLED]?: boolean };
  if (proto[HOOK_INSTALLED]) return;
  const original = proto.execute;
  if (typeof original !== 'function') {
    throw new Error('aws-local-stepfunctions: StateMachine.prototype.execute is missing; the engine guard cannot be installed.');
  }
  proto.execute = function execute(this: unknown, input: unknown, options: ExecuteOptions, cleanup: () => void) {
    const guard = options?.runOptions?.[ENGINE_GUARD] as EngineGuard | undefined;
    if (guard && options.eventLogger) guard.attach(options.eventLogger);
    return original.call(this, input, options, cleanup);
  };
  Object.defineProperty(proto, HOOK_INSTALLED, { value: true });
}

/** The run options of a guarded run: `guard` sees the event logger of the run and of its nested runs. */
export function guardedRunOptions(runOptions: Record<string, unknown>, guard: EngineGuard): RunOptions {
  return { ...runOptions, [ENGINE_GUARD]: guard } as unknown as RunOptions;
}

export interface StateEventHooks {
  /** Every state event of the run itself (not those forwarded from nested runs, which report their own). */
  onEvent(event: EngineEvent): void;
  /** A state failed; runs before the engine evaluates its Retry and Catch. */
  onStateFailed(stateName: string, stateType: string, error: unknown): void;
}

/** Takes over a run's event logger, so that `hooks` see its state events and its errors before Retry/Catch. */
export function hookEventLogger(logger: EngineEventLogger, hooks: StateEventHooks): void {
  if (typeof logger.dispatch !== 'function' || typeof logger.dispatchStateFailedEvent !== 'function') {
    throw new Error('aws-local-stepfunctions: the event logger changed; the engine guard cannot attach.');
  }
  const dispatch = logger.dispatch.bind(logger);
  const dispatchStateFailed = logger.dispatchStateFailedEvent.bind(logger);
  // Events forwarded from nested runs were recorded by the nested run's own logger.
  let forwarding = 0;
  logger.dispatch = (event) => {
    if (forwarding === 0) hooks.onEvent(event);
    dispatch(event);
  };
  logger.dispatchStateFailedEvent = (stateName, stateType, input, error) => {
    hooks.onStateFailed(stateName, stateType, error);
    forwarding++;
    try {
      dispatchStateFailed(stateName, stateType, input, error);
    } finally {
      forwarding--;
    }
  };
  for (const method of ['forwardNestedMapEvent', 'forwardNestedParallelEvent'] as const) {
    const original = logger[method];
    if (typeof original !== 'function') continue;
    logger[method] = (...args: unknown[]) => {
      forwarding++;
      try {
        original.apply(logger, args);
      } finally {
        forwarding--;
      }
    };
  }
}

export type ErrorKind = 'task' | 'engine-runtime' | 'engine-failure';

/** Records `error` as a task failure: thrown by `invokeTask`, whatever its name. */
export function markTaskError(error: Error): void {
  taskErrors.add(error);
}

export function classify(error: unknown): ErrorKind {
  if (typeof error === 'object' && error !== null) {
    if (engineErrors.has(error)) return 'engine-failure';
    if (taskErrors.has(error)) return 'task';
    const flags = error as { isRetryable?: unknown; isCatchable?: unknown };
    if (error instanceof Error && typeof flags.isRetryable === 'boolean' && typeof flags.isCatchable === 'boolean') return 'engine-runtime';
  }
  return 'engine-failure';
}

/** True when the guard has already marked `error` as an engine failure (seen again, e.g. by an enclosing Parallel or Map state). */
export function isMarkedEngineFailure(error: unknown): boolean {
  return typeof error === 'object' && error !== null && engineErrors.has(error);
}

/** Makes the engine neither retry nor catch `error`; false when it cannot (a primitive, a frozen object). */
export function markUncatchable(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  engineErrors.add(error);
  try {
    Object.defineProperties(error, { isRetryable: { value: false, configurable: true }, isCatchable: { value: false, configurable: true } });
  } catch {
    return false;
  }
  const flags = error as { isRetryable?: unknown; isCatchable?: unknown };
  return flags.isRetryable === false && flags.isCatchable === false;
}

/** An error for logs and causes: its name and message, never the value itself (it may hold anything). */
export function errorText(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return `thrown value of type ${typeof error}`;
}

export function engineFailure(stateName: string | undefined, error: unknown): Failure {
  const where = stateName ? `while executing the state '${stateName}'` : 'while executing the state machine';
  return { error: 'States.Runtime', cause: `An error occurred ${where}: the local Step Functions engine failed (${errorText(error)}).` };
}

/** A task result that cannot be serialised as JSON. */
export class TaskResultInvalid extends Error {
  readonly isRetryable = false;
  readonly isCatchable = false;
  constructor(detail: string) {
    super(`The task result is not valid JSON (${detail}).`);
    this.name = 'States.Runtime';
  }
}

/** Thrown instead of starting a task once the execution has ended or the engine has failed. */
export class TaskNotStarted extends Error {
  readonly isRetryable = false;
  readonly isCatchable = false;
  constructor() {
    super('The execution has ended; the task was not started.');
    this.name = 'States.Runtime';
  }
}
