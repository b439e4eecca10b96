/**
 * Step Functions (JSON 1.0, `AWSStepFunctions.<Operation>`): StartExecution, DescribeExecution,
 * ListExecutions, GetExecutionHistory, StopExecution and DescribeStateMachine for the configured
 * Express state machines. The ASL runs on `aws-local-stepfunctions`; every Task state is handed to
 * `invokeTask(state.Resource, input, meta)`, and a task's thrown `error.name` is the error name that
 * Retry and Catch match, as Lambda's `errorType` is on AWS.
 *
 * Differences from AWS, on purpose:
 * - AWS answers DescribeExecution, ListExecutions, GetExecutionHistory and StopExecution only for
 *   Standard workflows (Express history goes to CloudWatch Logs). Locally they work for Express
 *   executions too, so that the operator and the tests can look inside a run. Execution ARNs use
 *   `:execution:` (as the operator policy does) where AWS's Express ARNs use `:express:`.
 * - As for Express workflows on AWS, an execution runs at most 5 minutes (the definition's
 *   `TimeoutSeconds`, capped at 300). A Task state without `TimeoutSeconds` gets the execution's
 *   limit, not the engine's default of 60 seconds.
 * - Map iteration and Parallel branch events are not recorded; the states inside them are.
 *
 * Engine errors are not business failures. The engine treats any thrown value as a catchable,
 * retryable error named by its `name`, so a defect of the engine (a TypeError, a missing
 * `Promise.withResolvers`) would be caught by `States.ALL` and run the workflow's failure path as if
 * a task had failed. Here every error that reaches a state's Retry/Catch is classified first:
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
import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, unlinkSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { writePrivateFile, writePrivateFileSync } from '../../../../client/cli/private-file.ts';
import path from 'node:path';
import {
  ExecutionAbortedError,
  ExecutionError,
  ExecutionTimeoutError,
  StateMachine,
  type RunOptions,
  type StateMachineDefinition,
} from 'aws-local-stepfunctions';
import type { AwsLocation } from '../../../../tasks/aws-location.ts';
import { AwsError, jsonResponse, parseJsonBody, type Protocol, type WireResponse } from '../../edge/aws-error.ts';
import type { EdgeCall, EdgeService } from '../../edge/edge.ts';
import type { PolicyEvaluator } from '../../iam/evaluator.ts';
import type { Logger } from '../../edge/log.ts';
import type { Principal } from '../../iam/principals.ts';

/** Step Functions' own error namespace, as the service sends it in `__type` (the SDK strips it). */
export const STATES_PROTOCOL: Protocol = { kind: 'json', version: '1.0', errorPrefix: 'com.amazonaws.swf.service.v2.model#' };

const TARGET_PREFIX = 'AWSStepFunctions.';
/** Express workflows run at most five minutes. */
const EXPRESS_MAX_SECONDS = 300;
const MAX_INPUT_BYTES = 262_144;
const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;
const STORE_VERSION = 1;

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED' | 'TIMED_OUT';

export interface LocalStateMachine {
  name: string;
  arn: string;
  /** The ASL definition, resources already substituted. */
  definition: object;
  type: 'EXPRESS';
  /** Reported in ExecutionStarted and DescribeStateMachine. */
  roleArn?: string;
}

export interface TaskInvocationMeta {
  executionArn: string;
  stateName: string;
  /** Aborted when the execution is stopped (StopExecution, or the service stops). */
  signal: AbortSignal;
}

/**
 * Runs one Task state: `resourceArn` is the state's `Resource`, `input` its effective input (after
 * InputPath and Parameters, as a JSON copy). Resolves with the task result (JSON); a rejection is a
 * task failure whose `name` Retry and Catch match.
 */
export type InvokeTask = (resourceArn: string, input: unknown, meta: TaskInvocationMeta) => Promise<unknown>;

export interface StepFunctionsOptions {
  location: AwsLocation;
  evaluator: PolicyEvaluator;
  logger: Logger;
  clock: () => Date;
  /** Executions persist under `<dataDir>/executions/`; in memory only when undefined. */
  dataDir?: string;
  stateMachines: readonly LocalStateMachine[];
  invokeTask: InvokeTask;
  /**
   * Retry pauses in milliseconds instead of IntervalSeconds/BackoffRate: by state name (the engine's
   * `retryIntervalOverrides`), or one number for every state that has a Retry.
   */
  retryIntervalOverrides?: number | Record<string, number | number[]>;
  /**
   * Called once per execution when it ends, with its whole history (as GetExecutionHistory gives
   * it): where Step Functions delivers an Express execution's log records (logging level ALL).
   */
  onExecutionEnded?: (executionArn: string, history: readonly HistoryEventView[]) => void;
  /** Finished executions kept (in memory and on disk); the oldest are dropped. @default 1000 */
  maxExecutions?: number;
  /** How long `stop()` waits for task handlers of aborted executions to return. @default 10000 */
  shutdownGraceMs?: number;
}

/** DescribeExecution, for in-process callers. */
export interface ExecutionDescription {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  status: ExecutionStatus;
  startDate: Date;
  stopDate?: Date;
  input: string;
  output?: string;
  error?: string;
  cause?: string;
}

/** A history event as GetExecutionHistory returns it through the SDK: details under their AWS field name. */
export type HistoryEventView = { id: number; previousEventId: number; timestamp: Date; type: string } & Record<string, unknown>;

/** A history event as stored: `timestamp` in epoch milliseconds, details under their AWS field name. */
interface StoredEvent {
  id: number;
  previousEventId: number;
  timestamp: number;
  type: string;
  detailsKey?: string;
  details?: Record<string, unknown>;
}

interface StoredExecution {
  version: number;
  /** Start order, for newest-first listing and pagination. */
  seq: number;
  executionArn: string;
  stateMachineArn: string;
  name: string;
  status: ExecutionStatus;
  startDate: number;
  stopDate?: number;
  input: string;
  output?: string;
  error?: string;
  cause?: string;
  events: StoredEvent[];
}

interface Failure {
  error: string;
  cause: string;
}

/** One call of a task handler, until it settles (or times out). */
interface TaskAttempt {
  family: TaskEventFamily;
  settled: boolean;
}

class Execution {
  closed: boolean;
  readonly terminal: Promise<void>;
  readonly controller = new AbortController();
  abortRun?: () => void;
  /** Set when the engine itself failed; the execution ends FAILED with States.Runtime. */
  engineFailure?: Failure;
  /** States entered and not yet exited or failed (for the `...StateAborted` events). */
  readonly openStates = new Map<string, string>();
  /** Map/Parallel states that failed since they last started. */
  readonly failedComposite = new Set<string>();
  readonly attempts = new Map<string, TaskAttempt[]>();
  writing?: Promise<void>;
  dirty = false;
  private markTerminal!: () => void;

  constructor(readonly data: StoredExecution) {
    this.closed = data.status !== 'RUNNING';
    this.terminal = new Promise<void>((resolve) => (this.markTerminal = resolve));
    if (this.closed) this.markTerminal();
  }

  event(now: Date, type: string, detailsKey?: string, details?: Record<string, unknown>): void {
    const id = this.data.events.length + 1;
    const event: StoredEvent = { id, previousEventId: id - 1, timestamp: now.getTime(), type };
    if (detailsKey && details) {
      event.detailsKey = detailsKey;
      event.details = details;
    }
    this.data.events.push(event);
  }

  close(): void {
    this.closed = true;
    this.markTerminal();
  }
}

// ---------------------------------------------------------------------------------------------
// The engine guard.

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
interface EngineEvent {
  type: string;
  state?: EngineState;
}
/** The engine's per-run event logger, as far as the guard uses it. */
interface EngineEventLogger {
  dispatch(event: EngineEvent): void;
  dispatchStateFailedEvent(stateName: string, stateType: string, input: unknown, error: unknown): void;
  forwardNestedMapEvent?: (...args: unknown[]) => void;
  forwardNestedParallelEvent?: (...args: unknown[]) => void;
}
interface EngineGuard {
  attach(logger: EngineEventLogger): void;
}
type ExecuteOptions = { eventLogger?: EngineEventLogger; runOptions?: Record<PropertyKey, unknown> };
type ExecuteFn = (this: unknown, input: unknown, options: ExecuteOptions, cleanup: () => void) => Promise<unknown>;

/** Wraps the engine's `execute` once, so that runs carrying a guard hand it their event logger. */
function installEngineHook(): void {
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

type ErrorKind = 'task' | 'engine-runtime' | 'engine-failure';

function classify(error: unknown): ErrorKind {
  if (typeof error === 'object' && error !== null) {
    if (engineErrors.has(error)) return 'engine-failure';
    if (taskErrors.has(error)) return 'task';
    const flags = error as { isRetryable?: unknown; isCatchable?: unknown };
    if (error instanceof Error && typeof flags.isRetryable === 'boolean' && typeof flags.isCatchable === 'boolean') return 'engine-runtime';
  }
  return 'engine-failure';
}

/** Makes the engine neither retry nor catch `error`; false when it cannot (a primitive, a frozen object). */
function markUncatchable(error: unknown): boolean {
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

function errorText(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return `thrown value of type ${typeof error}`;
}

function engineFailure(stateName: string | undefined, error: unknown): Failure {
  const where = stateName ? `while executing the state '${stateName}'` : 'while executing the state machine';
  return { error: 'States.Runtime', cause: `An error occurred ${where}: the local Step Functions engine failed (${errorText(error)}).` };
}

/** A task result that cannot be serialised as JSON. */
class TaskResultInvalid extends Error {
  readonly isRetryable = false;
  readonly isCatchable = false;
  constructor(detail: string) {
    super(`The task result is not valid JSON (${detail}).`);
    this.name = 'States.Runtime';
  }
}

/** Thrown instead of starting a task once the execution has ended or the engine has failed. */
class TaskNotStarted extends Error {
  readonly isRetryable = false;
  readonly isCatchable = false;
  constructor() {
    super('The execution has ended; the task was not started.');
    this.name = 'States.Runtime';
  }
}

// ---------------------------------------------------------------------------------------------
// History events for task resources: Lambda functions, service integrations, activities.

interface TaskEventFamily {
  scheduled(parameters: string, timeoutInSeconds: number | undefined): [string, string, Record<string, unknown>];
  started(): [string, string | undefined, Record<string, unknown> | undefined];
  succeeded(output: string): [string, string, Record<string, unknown>];
  failed(f: Failure): [string, string, Record<string, unknown>];
  timedOut(f: Failure): [string, string, Record<string, unknown>];
}

const detailsKeyOf = (type: string) => `${type[0]!.toLowerCase()}${type.slice(1)}EventDetails`;
const ev = (type: string, details: Record<string, unknown>): [string, string, Record<string, unknown>] => [type, detailsKeyOf(type), details];
const withTimeout = (d: Record<string, unknown>, t: number | undefined) => (t === undefined ? d : { ...d, timeoutInSeconds: t });

function taskEventFamily(resource: string, region: string): TaskEventFamily {
  const parts = resource.split(':');
  if (parts[2] === 'lambda' && parts[5] === 'function') {
    return {
      scheduled: (input, t) => ev('LambdaFunctionScheduled', withTimeout({ resource, input, inputDetails: { truncated: false } }, t)),
      started: () => ['LambdaFunctionStarted', undefined, undefined],
      succeeded: (output) => ev('LambdaFunctionSucceeded', { output, outputDetails: { truncated: false } }),
      failed: (f) => ev('LambdaFunctionFailed', { ...f }),
      timedOut: (f) => ev('LambdaFunctionTimedOut', { ...f }),
    };
  }
  if (parts[2] === 'states' && parts[5] === 'activity') {
    return {
      scheduled: (input, t) => ev('ActivityScheduled', withTimeout({ resource, input, inputDetails: { truncated: false } }, t)),
      started: () => ev('ActivityStarted', { workerName: 'local' }),
      succeeded: (output) => ev('ActivitySucceeded', { output, outputDetails: { truncated: false } }),
      failed: (f) => ev('ActivityFailed', { ...f }),
      timedOut: (f) => ev('ActivityTimedOut', { ...f }),
    };
  }
  // Service integrations: arn:aws:states:::lambda:invoke, arn:aws:states:::aws-sdk:dynamodb:getItem, ...
  let resourceType = parts[5] ?? resource;
  let action = parts.slice(6).join(':');
  if (resourceType === 'aws-sdk' && parts.length > 7) {
    resourceType = `aws-sdk:${parts[6]}`;
    action = parts.slice(7).join(':');
  }
  const base = { resourceType, resource: action };
  return {
    scheduled: (parameters, t) => ev('TaskScheduled', withTimeout({ ...base, region, parameters }, t)),
    started: () => ev('TaskStarted', { ...base }),
    succeeded: (output) => ev('TaskSucceeded', { ...base, output, outputDetails: { truncated: false } }),
    failed: (f) => ev('TaskFailed', { ...base, ...f }),
    timedOut: (f) => ev('TaskTimedOut', { ...base, ...f }),
  };
}

// ---------------------------------------------------------------------------------------------
// Definitions.

type AnyState = Record<string, unknown> & { Type?: unknown };
type AnyDefinition = { StartAt?: unknown; States?: Record<string, AnyState>; TimeoutSeconds?: unknown };

interface TaskInfo {
  resource: string;
  /** The state's own TimeoutSeconds, if it sets one (for the history). */
  timeoutSeconds: number | undefined;
}

/** Every Task state by name, and the states with a Retry; nested Parallel branches and Map processors included. */
function collectStates(def: AnyDefinition, tasks: Map<string, TaskInfo>, names: Set<string>, retrying: Set<string>): void {
  for (const [name, state] of Object.entries(def.States ?? {})) {
    if (names.has(name)) throw new Error(`State names must be unique in a state machine, and '${name}' is not.`);
    names.add(name);
    if (Array.isArray(state.Retry)) retrying.add(name);
    if (state.Type === 'Task') {
      if (typeof state.Resource !== 'string') throw new Error(`Task state '${name}' has no Resource.`);
      tasks.set(name, { resource: state.Resource, timeoutSeconds: typeof state.TimeoutSeconds === 'number' ? state.TimeoutSeconds : undefined });
    } else if (state.Type === 'Parallel' && Array.isArray(state.Branches)) {
      for (const branch of state.Branches as AnyDefinition[]) collectStates(branch, tasks, names, retrying);
    } else if (state.Type === 'Map') {
      const processor = (state.ItemProcessor ?? state.Iterator) as AnyDefinition | undefined;
      if (processor) collectStates(processor, tasks, names, retrying);
    }
  }
}

/** The definition the engine runs: the Express time limit, and Task timeouts no longer than it. */
function engineDefinition(def: AnyDefinition, limitSeconds: number): AnyDefinition {
  const copy = structuredClone(def);
  const visit = (d: AnyDefinition) => {
    for (const state of Object.values(d.States ?? {})) {
      if (state.Type === 'Task' && state.TimeoutSeconds === undefined && state.TimeoutSecondsPath === undefined) state.TimeoutSeconds = limitSeconds;
      if (state.Type === 'Parallel' && Array.isArray(state.Branches)) for (const b of state.Branches as AnyDefinition[]) visit(b);
      if (state.Type === 'Map') {
        const processor = (state.ItemProcessor ?? state.Iterator) as AnyDefinition | undefined;
        if (processor) visit(processor);
      }
    }
  };
  visit(copy);
  copy.TimeoutSeconds = limitSeconds;
  return copy;
}

interface Machine {
  config: LocalStateMachine;
  roleArn: string;
  engine: StateMachine;
  tasks: Map<string, TaskInfo>;
  retryIntervalOverrides?: Record<string, number | number[]>;
  createdAt: Date;
}

// ---------------------------------------------------------------------------------------------
// Request helpers.

type Input = Record<string, unknown>;

function optionalString(input: Input, field: string): string | undefined {
  const v = input[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new AwsError('SerializationException', `Field '${field}' must be a string.`, 400);
  return v;
}

function requiredString(input: Input, field: string): string {
  const v = optionalString(input, field);
  if (v === undefined) {
    throw new AwsError('ValidationException', `1 validation error detected: Value null at '${field}' failed to satisfy constraint: Member must not be null`, 400);
  }
  return v;
}

function optionalBoolean(input: Input, field: string): boolean | undefined {
  const v = input[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new AwsError('SerializationException', `Field '${field}' must be a boolean.`, 400);
  return v;
}

function pageSize(input: Input): number {
  const v = input.maxResults;
  if (v === undefined || v === null || v === 0) return DEFAULT_PAGE;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_PAGE) {
    throw new AwsError(
      'ValidationException',
      `1 validation error detected: Value '${String(v)}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to ${MAX_PAGE}`,
      400,
    );
  }
  return v;
}

const STATE_MACHINE_ARN = /^arn:[a-z-]+:states:[a-z0-9-]+:\d{12}:stateMachine:[^:]+$/;
const EXECUTION_ARN = /^arn:[a-z-]+:states:[a-z0-9-]+:\d{12}:execution:[^:]+:[^:]+$/;
/** Execution names: 1-80 characters, no whitespace, brackets, wildcards, special or control characters. */
const INVALID_NAME_CHARS = /[\s<>{}[\]?*"#%\\^|~`$&,;:/]/;
const isControl = (c: number) => c <= 0x1f || (c >= 0x7f && c <= 0x9f);
function invalidName(name: string): boolean {
  if (name.length < 1 || name.length > 80 || INVALID_NAME_CHARS.test(name)) return true;
  for (let i = 0; i < name.length; i++) if (isControl(name.charCodeAt(i))) return true;
  return false;
}

function checkArn(arn: string, pattern: RegExp): void {
  if (!pattern.test(arn)) throw new AwsError('InvalidArn', `Invalid Arn: '${arn}'`, 400);
}

function encodeToken(value: object): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

function decodeToken<T>(token: string, valid: (t: Partial<T>) => boolean): T {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || !valid(parsed as Partial<T>)) {
    throw new AwsError('InvalidToken', 'Invalid Token: the pagination token is not valid for this request.', 400);
  }
  return parsed as T;
}

const seconds = (ms: number) => ms / 1000;

// ---------------------------------------------------------------------------------------------
// Persistence.

const STATUSES: readonly string[] = ['RUNNING', 'SUCCEEDED', 'FAILED', 'ABORTED', 'TIMED_OUT'];

function parseStored(text: string): StoredExecution {
  const d = JSON.parse(text) as Partial<StoredExecution>;
  const ok =
    d.version === STORE_VERSION &&
    typeof d.seq === 'number' &&
    typeof d.executionArn === 'string' &&
    typeof d.stateMachineArn === 'string' &&
    typeof d.name === 'string' &&
    typeof d.status === 'string' &&
    STATUSES.includes(d.status) &&
    typeof d.startDate === 'number' &&
    typeof d.input === 'string' &&
    Array.isArray(d.events);
  if (!ok) throw new Error('not an execution record of this version');
  return d as StoredExecution;
}

// ---------------------------------------------------------------------------------------------

/**
 * The local Step Functions service. Executions run in the background; `waitForExecution` awaits
 * one, `drain()` awaits all running ones, and `stop()` aborts the running ones (status ABORTED,
 * error States.Runtime, cause "the local stack stopped" — what a restart would record too), waits
 * for their task handlers to return (up to `shutdownGraceMs`) and for pending writes.
 */
export class StepFunctionsService implements EdgeService {
  readonly protocol = STATES_PROTOCOL;
  private readonly machines = new Map<string, Machine>();
  private readonly executions = new Map<string, Execution>();
  private readonly dir: string | undefined;
  private readonly inflightTasks = new Set<Promise<unknown>>();
  private readonly pendingRemovals = new Set<Promise<void>>();
  private seq = 1;
  private stopping = false;

  constructor(private readonly options: StepFunctionsOptions) {
    if (typeof (Promise as { withResolvers?: unknown }).withResolvers !== 'function') {
      throw new Error('Promise.withResolvers is missing: import infra/local/node-compat.ts before starting the local Step Functions.');
    }
    installEngineHook();
    const { partition, accountId } = options.location;
    for (const config of options.stateMachines) {
      checkArn(config.arn, STATE_MACHINE_ARN);
      const def = config.definition as AnyDefinition;
      const tasks = new Map<string, TaskInfo>();
      const retrying = new Set<string>();
      collectStates(def, tasks, new Set(), retrying);
      const overrides = options.retryIntervalOverrides;
      const retryIntervalOverrides = typeof overrides === 'number' ? Object.fromEntries([...retrying].map((n) => [n, overrides])) : overrides;
      const limit = Math.min(typeof def.TimeoutSeconds === 'number' ? def.TimeoutSeconds : EXPRESS_MAX_SECONDS, EXPRESS_MAX_SECONDS);
      // The engine validates the definition (asl-validator) and throws if it is not valid ASL.
      const engine = new StateMachine(engineDefinition(def, limit) as unknown as StateMachineDefinition);
      this.machines.set(config.arn, {
        config,
        roleArn: config.roleArn ?? `arn:${partition}:iam::${accountId}:role/${config.name}-state-machine`,
        engine,
        tasks,
        ...(retryIntervalOverrides ? { retryIntervalOverrides } : {}),
        createdAt: options.clock(),
      });
    }
    if (options.dataDir) {
      this.dir = path.join(options.dataDir, 'executions');
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      this.load();
    }
  }

  // ---- the wire API --------------------------------------------------------------------------

  async handle({ principal, target, body, requestId }: EdgeCall): Promise<WireResponse> {
    const operation = target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : '';
    const input: Input = parseJsonBody(body);
    const respond = (payload: unknown) => jsonResponse(STATES_PROTOCOL, payload, requestId);
    switch (operation) {
      case 'StartExecution':
        return respond(await this.startExecution(principal, input));
      case 'DescribeExecution':
        return respond(await this.describeExecution(principal, input));
      case 'ListExecutions':
        return respond(await this.listExecutions(principal, input));
      case 'GetExecutionHistory':
        return respond(await this.getExecutionHistory(principal, input));
      case 'StopExecution':
        return respond(await this.stopExecution(principal, input));
      case 'DescribeStateMachine':
        return respond(await this.describeStateMachine(principal, input));
      default:
        throw new AwsError('UnknownOperationException', `Operation ${operation || target || '(none)'} is not supported by the local Step Functions.`, 400);
    }
  }

  private async authorize(principal: Principal, action: string, resource: string): Promise<void> {
    await this.options.evaluator.authorize({ principal, action: `states:${action}`, resource });
  }

  private machine(arn: string): Machine {
    const m = this.machines.get(arn);
    if (!m) throw new AwsError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${arn}'`, 400);
    return m;
  }

  private execution(arn: string): Execution {
    const e = this.executions.get(arn);
    if (!e) throw new AwsError('ExecutionDoesNotExist', `Execution Does Not Exist: '${arn}'`, 400);
    return e;
  }

  private async startExecution(principal: Principal, input: Input) {
    const stateMachineArn = requiredString(input, 'stateMachineArn');
    checkArn(stateMachineArn, STATE_MACHINE_ARN);
    await this.authorize(principal, 'StartExecution', stateMachineArn);
    if (this.stopping) throw new AwsError('ServiceUnavailable', 'The local Step Functions is stopping.', 503);
    const machine = this.machine(stateMachineArn);
    const name = optionalString(input, 'name') ?? randomUUID();
    if (invalidName(name)) throw new AwsError('InvalidName', `Invalid Name: '${name}'`, 400);
    const text = optionalString(input, 'input') ?? '{}';
    if (Buffer.byteLength(text, 'utf8') > MAX_INPUT_BYTES) {
      throw new AwsError(
        'ValidationException',
        `1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have length less than or equal to ${MAX_INPUT_BYTES}`,
        400,
      );
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      // The message does not echo the input: it may hold anything.
      throw new AwsError('InvalidExecutionInput', 'Invalid State Machine Execution Input: the input is not valid JSON.', 400);
    }
    const executionArn = `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
    const existing = this.executions.get(executionArn);
    if (existing) {
      // As on AWS: the same name and input while it runs is the same request; anything else is a conflict.
      if (existing.data.status === 'RUNNING' && existing.data.input === text) {
        return { executionArn, startDate: seconds(existing.data.startDate) };
      }
      throw new AwsError('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`, 400);
    }
    const now = this.options.clock();
    const exec = new Execution({
      version: STORE_VERSION,
      seq: this.seq++,
      executionArn,
      stateMachineArn,
      name,
      status: 'RUNNING',
      startDate: now.getTime(),
      input: text,
      events: [],
    });
    exec.event(now, 'ExecutionStarted', 'executionStartedEventDetails', { input: text, inputDetails: { truncated: false }, roleArn: machine.roleArn });
    this.executions.set(executionArn, exec);
    this.options.logger.log('info', 'sfn.execution_started', { executionArn, stateMachine: machine.config.name });
    this.persist(exec);
    this.launch(machine, exec, value);
    return { executionArn, startDate: seconds(exec.data.startDate) };
  }

  private async describeExecution(principal: Principal, input: Input) {
    const executionArn = requiredString(input, 'executionArn');
    checkArn(executionArn, EXECUTION_ARN);
    await this.authorize(principal, 'DescribeExecution', executionArn);
    const d = this.execution(executionArn).data;
    return {
      executionArn: d.executionArn,
      stateMachineArn: d.stateMachineArn,
      name: d.name,
      status: d.status,
      startDate: seconds(d.startDate),
      ...(d.stopDate !== undefined ? { stopDate: seconds(d.stopDate) } : {}),
      input: d.input,
      inputDetails: { included: true },
      ...(d.output !== undefined ? { output: d.output, outputDetails: { included: true } } : {}),
      ...(d.error !== undefined ? { error: d.error } : {}),
      ...(d.cause !== undefined ? { cause: d.cause } : {}),
    };
  }

  private async listExecutions(principal: Principal, input: Input) {
    const stateMachineArn = requiredString(input, 'stateMachineArn');
    checkArn(stateMachineArn, STATE_MACHINE_ARN);
    await this.authorize(principal, 'ListExecutions', stateMachineArn);
    this.machine(stateMachineArn);
    const statusFilter = optionalString(input, 'statusFilter');
    if (statusFilter !== undefined && !STATUSES.includes(statusFilter)) {
      throw new AwsError(
        'ValidationException',
        `1 validation error detected: Value '${statusFilter}' at 'statusFilter' failed to satisfy constraint: Member must satisfy enum value set: [${STATUSES.join(', ')}]`,
        400,
      );
    }
    const limit = pageSize(input);
    const token = optionalString(input, 'nextToken');
    type ListToken = { arn: string; status: string | null; before: number };
    const from = token
      ? decodeToken<ListToken>(token, (t) => t.arn === stateMachineArn && t.status === (statusFilter ?? null) && typeof t.before === 'number')
      : undefined;
    const matching = [...this.executions.values()]
      .map((e) => e.data)
      .filter((d) => d.stateMachineArn === stateMachineArn && (!statusFilter || d.status === statusFilter) && (!from || d.seq < from.before))
      .sort((a, b) => b.seq - a.seq);
    const page = matching.slice(0, limit);
    const last = page[page.length - 1];
    return {
      executions: page.map((d) => ({
        executionArn: d.executionArn,
        stateMachineArn: d.stateMachineArn,
        name: d.name,
        status: d.status,
        startDate: seconds(d.startDate),
        ...(d.stopDate !== undefined ? { stopDate: seconds(d.stopDate) } : {}),
      })),
      ...(matching.length > limit && last ? { nextToken: encodeToken({ arn: stateMachineArn, status: statusFilter ?? null, before: last.seq }) } : {}),
    };
  }

  private async getExecutionHistory(principal: Principal, input: Input) {
    const executionArn = requiredString(input, 'executionArn');
    checkArn(executionArn, EXECUTION_ARN);
    await this.authorize(principal, 'GetExecutionHistory', executionArn);
    const exec = this.execution(executionArn);
    const reverse = optionalBoolean(input, 'reverseOrder') ?? false;
    const includeData = optionalBoolean(input, 'includeExecutionData') ?? true;
    const limit = pageSize(input);
    const token = optionalString(input, 'nextToken');
    type HistoryToken = { arn: string; reverse: boolean; index: number };
    const start = token
      ? decodeToken<HistoryToken>(token, (t) => t.arn === executionArn && t.reverse === reverse && Number.isInteger(t.index) && (t.index ?? -1) >= 0).index
      : 0;
    const ordered = reverse ? [...exec.data.events].reverse() : exec.data.events;
    const page = ordered.slice(start, start + limit);
    const next = start + page.length;
    return {
      events: page.map((e) => wireEvent(e, includeData)),
      ...(next < ordered.length ? { nextToken: encodeToken({ arn: executionArn, reverse, index: next }) } : {}),
    };
  }

  private async stopExecution(principal: Principal, input: Input) {
    const executionArn = requiredString(input, 'executionArn');
    checkArn(executionArn, EXECUTION_ARN);
    const error = optionalString(input, 'error');
    const cause = optionalString(input, 'cause');
    if (error !== undefined && error.length > 256) throw new AwsError('ValidationException', "1 validation error detected: Value at 'error' failed to satisfy constraint: Member must have length less than or equal to 256", 400);
    if (cause !== undefined && cause.length > 32_768) throw new AwsError('ValidationException', "1 validation error detected: Value at 'cause' failed to satisfy constraint: Member must have length less than or equal to 32768", 400);
    await this.authorize(principal, 'StopExecution', executionArn);
    const exec = this.execution(executionArn);
    // Stopping a finished execution changes nothing and reports when it stopped.
    if (!exec.closed) this.abort(exec, { ...(error !== undefined ? { error } : {}), ...(cause !== undefined ? { cause } : {}) }, 'stopped');
    return { stopDate: seconds(exec.data.stopDate ?? exec.data.startDate) };
  }

  private async describeStateMachine(principal: Principal, input: Input) {
    const stateMachineArn = requiredString(input, 'stateMachineArn');
    checkArn(stateMachineArn, STATE_MACHINE_ARN);
    await this.authorize(principal, 'DescribeStateMachine', stateMachineArn);
    const m = this.machine(stateMachineArn);
    return {
      stateMachineArn,
      name: m.config.name,
      status: 'ACTIVE',
      definition: JSON.stringify(m.config.definition),
      roleArn: m.roleArn,
      type: m.config.type,
      creationDate: seconds(m.createdAt.getTime()),
    };
  }

  // ---- in-process API ------------------------------------------------------------------------

  /** Resolves when the execution has ended (and its record is written); rejects ExecutionDoesNotExist. */
  async waitForExecution(executionArn: string): Promise<ExecutionDescription> {
    const exec = this.execution(executionArn);
    await exec.terminal;
    await this.flushed(exec);
    return describe(exec.data);
  }

  /** Resolves when every pending write of an execution record has reached the disk. */
  async flush(): Promise<void> {
    await Promise.all([...this.executions.values()].map((e) => this.flushed(e)));
  }

  /** Resolves when every execution running now has ended. */
  async drain(): Promise<void> {
    const running = [...this.executions.values()].filter((e) => !e.closed);
    await Promise.all(running.map((e) => this.waitForExecution(e.data.executionArn)));
  }

  /**
   * Refuses new executions, aborts the running ones (ABORTED, States.Runtime, "the local stack
   * stopped"), waits up to `shutdownGraceMs` for their task handlers, then for pending writes.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const exec of this.executions.values()) {
      if (!exec.closed) this.abort(exec, { error: 'States.Runtime', cause: 'the local stack stopped' }, 'service_stopped');
    }
    if (this.inflightTasks.size > 0) {
      const grace = this.options.shutdownGraceMs ?? 10_000;
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        Promise.allSettled([...this.inflightTasks]).then(() => false),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), grace))),
      ]);
      clearTimeout(timer);
      if (timedOut) this.options.logger.log('warn', 'sfn.stop_tasks_still_running', { tasks: this.inflightTasks.size, graceMs: grace });
    }
    await this.flush();
    await Promise.all([...this.pendingRemovals]);
  }

  // ---- running executions --------------------------------------------------------------------

  private launch(machine: Machine, exec: Execution, input: unknown): void {
    const { executionArn, name, stateMachineArn } = exec.data;
    const handlers: Record<string, (input: unknown) => Promise<unknown>> = {};
    for (const [stateName, task] of machine.tasks) handlers[stateName] = (taskInput) => this.runTask(exec, stateName, task, taskInput);
    const guard: EngineGuard = { attach: (logger) => this.attach(exec, logger) };
    const runOptions = {
      overrides: {
        taskResourceLocalHandlers: handlers,
        ...(machine.retryIntervalOverrides ? { retryIntervalOverrides: machine.retryIntervalOverrides } : {}),
      },
      context: {
        Execution: { Id: executionArn, Name: name, RoleArn: machine.roleArn },
        StateMachine: { Id: stateMachineArn, Name: machine.config.name },
      },
      noThrowOnAbort: true,
      [ENGINE_GUARD]: guard,
    } as unknown as RunOptions;
    let run: ReturnType<StateMachine['run']>;
    try {
      run = machine.engine.run(input as Parameters<StateMachine['run']>[0], runOptions);
    } catch (err) {
      this.finish(exec, 'FAILED', { failure: engineFailure(undefined, err) });
      this.logEngineFailure(exec, undefined, err);
      return;
    }
    exec.abortRun = run.abort;
    // The guard may have ended the execution while run() was still starting it.
    if (exec.closed) run.abort();
    run.result.then(
      (output) => {
        if (exec.closed) return;
        if (exec.engineFailure) this.finish(exec, 'FAILED', { failure: exec.engineFailure });
        else this.finish(exec, 'SUCCEEDED', { output: JSON.stringify(output ?? null) });
      },
      (err: unknown) => {
        if (exec.closed) return;
        if (err instanceof ExecutionTimeoutError) {
          this.finish(exec, 'TIMED_OUT', { failure: { error: 'States.Timeout', cause: 'The execution exceeded its time limit.' } });
          return;
        }
        if (err instanceof ExecutionAbortedError) {
          this.finish(exec, 'ABORTED', {});
          return;
        }
        const inner = err instanceof ExecutionError ? err.cause : err;
        if (exec.engineFailure) {
          this.finish(exec, 'FAILED', { failure: exec.engineFailure });
        } else if (classify(inner) === 'engine-failure') {
          exec.engineFailure = engineFailure(undefined, inner);
          this.logEngineFailure(exec, undefined, inner);
          this.finish(exec, 'FAILED', { failure: exec.engineFailure });
        } else {
          const e = inner as Error;
          this.finish(exec, 'FAILED', { failure: { error: e.name, cause: e.message } });
        }
      },
    );
  }

  /** Runs one Task state through `invokeTask`, recording its scheduled/started/succeeded/failed events. */
  private runTask(exec: Execution, stateName: string, task: TaskInfo, input: unknown): Promise<unknown> {
    if (exec.closed || exec.engineFailure) return Promise.reject(new TaskNotStarted());
    const family = taskEventFamily(task.resource, this.options.location.region);
    const parameters = JSON.stringify(input ?? null);
    const attempt: TaskAttempt = { family, settled: false };
    const list = exec.attempts.get(stateName) ?? [];
    list.push(attempt);
    exec.attempts.set(stateName, list);
    this.record(exec, ...family.scheduled(parameters, task.timeoutSeconds));
    this.record(exec, ...family.started());
    const settle = () => {
      const i = list.indexOf(attempt);
      if (i >= 0) list.splice(i, 1);
      const first = !attempt.settled;
      attempt.settled = true;
      return first;
    };
    const meta: TaskInvocationMeta = { executionArn: exec.data.executionArn, stateName, signal: exec.controller.signal };
    const call = (async () => {
      let result: unknown;
      try {
        result = await this.options.invokeTask(task.resource, JSON.parse(parameters), meta);
      } catch (thrown) {
        const error = thrown instanceof Error ? thrown : Object.assign(new Error(String(thrown)), { name: 'Error' });
        taskErrors.add(error);
        if (settle()) this.record(exec, ...family.failed({ error: error.name, cause: error.message }));
        this.options.logger.log('debug', 'sfn.task_failed', { executionArn: exec.data.executionArn, state: stateName, error: error.name });
        throw error;
      }
      let output: string;
      try {
        output = JSON.stringify(result) ?? 'null';
      } catch (err) {
        // As on AWS, a result that is not JSON fails the state with States.Runtime (not catchable).
        const error = new TaskResultInvalid(errorText(err));
        if (settle()) this.record(exec, ...family.failed({ error: error.name, cause: error.message }));
        throw error;
      }
      if (settle()) this.record(exec, ...family.succeeded(output));
      return JSON.parse(output) as unknown;
    })();
    // The engine may drop this promise (a timeout, or the engine failing before it awaits it).
    const tracked = call.catch(() => undefined);
    this.inflightTasks.add(tracked);
    void tracked.then(() => this.inflightTasks.delete(tracked));
    return call;
  }

  /** Takes over a run's event logger: records its state events, and classifies errors before Retry/Catch. */
  private attach(exec: Execution, logger: EngineEventLogger): void {
    if (typeof logger.dispatch !== 'function' || typeof logger.dispatchStateFailedEvent !== 'function') {
      throw new Error('aws-local-stepfunctions: the event logger changed; the engine guard cannot attach.');
    }
    const dispatch = logger.dispatch.bind(logger);
    const dispatchStateFailed = logger.dispatchStateFailedEvent.bind(logger);
    // Events forwarded from nested runs were recorded by the nested run's own logger.
    let forwarding = 0;
    logger.dispatch = (event) => {
      if (forwarding === 0) this.safely(exec, () => this.onStateEvent(exec, event));
      dispatch(event);
    };
    logger.dispatchStateFailedEvent = (stateName, stateType, input, error) => {
      this.onStateFailed(exec, stateName, stateType, error);
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

  /** The guard: runs before the engine evaluates Retry and Catch for `error`. */
  private onStateFailed(exec: Execution, stateName: string, stateType: string, error: unknown): void {
    const kind = classify(error);
    if (kind === 'engine-failure' && !engineErrors.has(error as object)) {
      if (!exec.engineFailure) {
        exec.engineFailure = engineFailure(stateName, error);
        this.logEngineFailure(exec, stateName, error);
      }
      if (!markUncatchable(error)) {
        // The engine would treat it as catchable: end the execution here, before any other state runs.
        exec.abortRun?.();
        this.finish(exec, 'FAILED', { failure: exec.engineFailure });
      }
    }
    this.safely(exec, () => {
      exec.openStates.delete(stateName);
      if (stateType === 'Task' && kind === 'engine-runtime' && (error as Error).name === 'States.Timeout') {
        const attempt = exec.attempts.get(stateName)?.find((a) => !a.settled);
        if (attempt) {
          attempt.settled = true;
          this.record(exec, ...attempt.family.timedOut({ error: 'States.Timeout', cause: 'The task did not finish within its TimeoutSeconds.' }));
        }
      }
      if (stateType === 'Map' || stateType === 'Parallel') {
        exec.failedComposite.add(stateName);
        this.record(exec, `${stateType}StateFailed`);
      }
    });
  }

  /** Maps the engine's state events to AWS history events. */
  private onStateEvent(exec: Execution, event: EngineEvent): void {
    const state = event.state;
    if (!state) return; // Execution-level events: this service records its own.
    const composite = state.type === 'Map' || state.type === 'Parallel';
    switch (event.type) {
      case 'StateEntered':
        exec.openStates.set(state.name, state.type);
        this.record(exec, `${state.type}StateEntered`, 'stateEnteredEventDetails', {
          name: state.name,
          input: JSON.stringify(state.input ?? null),
          inputDetails: { truncated: false },
        });
        if (composite) {
          exec.failedComposite.delete(state.name);
          this.record(exec, `${state.type}StateStarted`);
        }
        break;
      case 'StateRetried':
        exec.openStates.set(state.name, state.type);
        if (composite) {
          exec.failedComposite.delete(state.name);
          this.record(exec, `${state.type}StateStarted`);
        }
        break;
      case 'StateExited':
        exec.openStates.delete(state.name);
        if (composite && !exec.failedComposite.has(state.name)) this.record(exec, `${state.type}StateSucceeded`);
        exec.failedComposite.delete(state.name);
        this.record(exec, `${state.type}StateExited`, 'stateExitedEventDetails', {
          name: state.name,
          output: JSON.stringify(state.output ?? null),
          outputDetails: { truncated: false },
        });
        break;
      default:
        // StateCaught: AWS has no event for it (the state exits with the catcher's output).
        break;
    }
  }

  private record(exec: Execution, type: string, detailsKey?: string, details?: Record<string, unknown>): void {
    if (exec.closed) return;
    exec.event(this.options.clock(), type, detailsKey, details);
    this.persist(exec);
  }

  /** Recording must never throw into the engine: that would itself look like an engine failure. */
  private safely(exec: Execution, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.options.logger.log('error', 'sfn.history_error', { executionArn: exec.data.executionArn, error: errorText(err) });
    }
  }

  private logEngineFailure(exec: Execution, stateName: string | undefined, error: unknown): void {
    this.options.logger.log('error', 'sfn.engine_error', { executionArn: exec.data.executionArn, state: stateName, error: errorText(error) });
  }

  private abort(exec: Execution, failure: Partial<Failure>, reason: string): void {
    const now = this.options.clock();
    for (const type of exec.openStates.values()) {
      // The SDK models no details for these events; which state it was shows in the events before.
      if (['Task', 'Map', 'Parallel', 'Wait'].includes(type)) this.record(exec, `${type}StateAborted`);
    }
    this.finish(exec, 'ABORTED', { failure, now });
    exec.controller.abort();
    exec.abortRun?.();
    this.options.logger.log('info', 'sfn.execution_aborted', { executionArn: exec.data.executionArn, reason });
  }

  private finish(exec: Execution, status: Exclude<ExecutionStatus, 'RUNNING'>, end: { output?: string; failure?: Partial<Failure>; now?: Date }): void {
    if (exec.closed) return;
    const now = end.now ?? this.options.clock();
    const d = exec.data;
    const f = end.failure ?? {};
    const errorFields = { ...(f.error !== undefined ? { error: f.error } : {}), ...(f.cause !== undefined ? { cause: f.cause } : {}) };
    switch (status) {
      case 'SUCCEEDED':
        exec.event(now, 'ExecutionSucceeded', 'executionSucceededEventDetails', { output: end.output, outputDetails: { truncated: false } });
        d.output = end.output;
        break;
      case 'FAILED':
        exec.event(now, 'ExecutionFailed', 'executionFailedEventDetails', errorFields);
        break;
      case 'ABORTED':
        exec.event(now, 'ExecutionAborted', 'executionAbortedEventDetails', errorFields);
        break;
      case 'TIMED_OUT':
        exec.event(now, 'ExecutionTimedOut', 'executionTimedOutEventDetails', errorFields);
        break;
    }
    d.status = status;
    d.stopDate = now.getTime();
    if (f.error !== undefined) d.error = f.error;
    if (f.cause !== undefined) d.cause = f.cause;
    exec.close();
    exec.controller.abort();
    this.options.logger.log(status === 'SUCCEEDED' ? 'info' : 'warn', 'sfn.execution_finished', {
      executionArn: d.executionArn,
      status,
      error: d.error,
      ms: d.stopDate - d.startDate,
    });
    this.persist(exec);
    if (this.options.onExecutionEnded) {
      const history = d.events.map((e) => ({
        id: e.id,
        previousEventId: e.previousEventId,
        timestamp: new Date(e.timestamp),
        type: e.type,
        ...(e.detailsKey ? { [e.detailsKey]: e.details } : {}),
      }));
      try {
        this.options.onExecutionEnded(d.executionArn, history);
      } catch (err) {
        this.options.logger.log('warn', 'sfn.log_delivery_failed', { executionArn: d.executionArn, error: (err as Error).message });
      }
    }
    this.prune();
  }

  // ---- persistence ---------------------------------------------------------------------------

  private file(executionArn: string): string {
    return path.join(this.dir!, `${createHash('sha256').update(executionArn).digest('hex').slice(0, 40)}.json`);
  }

  /** Schedules a write of the record; writes of one execution never overlap and the last one wins. */
  private persist(exec: Execution): void {
    if (!this.dir) return;
    exec.dirty = true;
    if (!exec.writing) exec.writing = this.writeLoop(exec);
  }

  private async writeLoop(exec: Execution): Promise<void> {
    try {
      while (exec.dirty) {
        exec.dirty = false;
        try {
          await writePrivateFile(this.file(exec.data.executionArn), JSON.stringify(exec.data));
        } catch (err) {
          this.options.logger.log('error', 'sfn.persist_failed', { executionArn: exec.data.executionArn, error: errorText(err) });
        }
      }
    } finally {
      exec.writing = undefined;
    }
  }

  private async flushed(exec: Execution): Promise<void> {
    while (exec.writing) await exec.writing;
  }

  /** Loads persisted executions; those still RUNNING when the process stopped are ABORTED now. */
  private load(): void {
    const dir = this.dir!;
    for (const entry of readdirSync(dir)) {
      const file = path.join(dir, entry);
      if (entry.endsWith('.tmp')) {
        // A write that a stopped process left behind (not one of ours in flight).
        if (!entry.includes(`.${process.pid}.`)) unlinkSync(file);
        continue;
      }
      if (!entry.endsWith('.json')) continue;
      let data: StoredExecution;
      try {
        data = parseStored(readFileSync(file, 'utf8'));
      } catch (err) {
        this.options.logger.log('warn', 'sfn.load_skipped', { file: entry, error: errorText(err) });
        continue;
      }
      if (this.executions.has(data.executionArn)) continue;
      if (data.status === 'RUNNING') {
        const now = this.options.clock();
        const failure = { error: 'States.Runtime', cause: 'the local stack stopped' };
        data.events.push({
          id: data.events.length + 1,
          previousEventId: data.events.length,
          timestamp: now.getTime(),
          type: 'ExecutionAborted',
          detailsKey: 'executionAbortedEventDetails',
          details: failure,
        });
        Object.assign(data, { status: 'ABORTED', stopDate: now.getTime() }, failure);
        writePrivateFileSync(file, JSON.stringify(data));
        this.options.logger.log('warn', 'sfn.execution_interrupted', { executionArn: data.executionArn });
      }
      this.executions.set(data.executionArn, new Execution(data));
      this.seq = Math.max(this.seq, data.seq + 1);
    }
    this.prune();
  }

  /** Keeps at most `maxExecutions` finished executions: the oldest go, from memory and disk. */
  private prune(): void {
    const max = this.options.maxExecutions ?? 1000;
    const finished = [...this.executions.values()].filter((e) => e.closed);
    if (finished.length <= max) return;
    finished.sort((a, b) => a.data.seq - b.data.seq);
    for (const exec of finished.slice(0, finished.length - max)) {
      this.executions.delete(exec.data.executionArn);
      if (!this.dir) continue;
      const removal = (async () => {
        await this.flushed(exec);
        await unlink(this.file(exec.data.executionArn)).catch(() => undefined);
      })();
      this.pendingRemovals.add(removal);
      void removal.then(() => this.pendingRemovals.delete(removal));
    }
  }
}

function describe(d: StoredExecution): ExecutionDescription {
  return {
    executionArn: d.executionArn,
    stateMachineArn: d.stateMachineArn,
    name: d.name,
    status: d.status,
    startDate: new Date(d.startDate),
    ...(d.stopDate !== undefined ? { stopDate: new Date(d.stopDate) } : {}),
    input: d.input,
    ...(d.output !== undefined ? { output: d.output } : {}),
    ...(d.error !== undefined ? { error: d.error } : {}),
    ...(d.cause !== undefined ? { cause: d.cause } : {}),
  };
}

const DATA_FIELDS = new Set(['input', 'inputDetails', 'output', 'outputDetails', 'parameters']);

function wireEvent(e: StoredEvent, includeData: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = { timestamp: seconds(e.timestamp), type: e.type, id: e.id, previousEventId: e.previousEventId };
  if (e.detailsKey && e.details) {
    out[e.detailsKey] = includeData ? e.details : Object.fromEntries(Object.entries(e.details).filter(([k]) => !DATA_FIELDS.has(k)));
  }
  return out;
}
