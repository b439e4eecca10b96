/**
 * Step Functions (JSON 1.0, `AWSStepFunctions.<Operation>`): StartExecution, DescribeExecution,
 * ListExecutions, GetExecutionHistory, StopExecution and DescribeStateMachine for the configured
 * Express state machines. The ASL runs on `aws-local-stepfunctions` (runner.ts); every Task state is
 * handed to `invokeTask(state.Resource, input, meta)`, and a task's thrown `error.name` is the error
 * name that Retry and Catch match, as Lambda's `errorType` is on AWS. Engine errors are not business
 * failures: engine-guard.ts keeps a defect of the engine from running the workflow's failure path.
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
 * - The 256 KiB payload quota (payload-limits.ts) is checked where AWS checks it, except that the
 *   output of a Parallel or Map state, and of a Task state with a ResultSelector or an OutputPath
 *   other than `$`, is checked only as the state exits: its own Catch does not see the error.
 *
 * What AWS may do, on request: asynchronous Express executions are at-least-once ("Execution
 * guarantees"), so one StartExecution may run the workflow twice. With `duplicateExecutions`, every
 * StartExecution also starts a second, concurrent execution with the same input and its own name
 * and ARN (`<name>-duplicate`), visible in ListExecutions; the caller gets the first one's ARN.
 */
import { randomUUID } from 'node:crypto';
import type { AwsLocation } from '../../../../tasks/aws-location.ts';
import { AwsError, jsonResponse, parseJsonBody, type Protocol, type WireResponse } from '../../edge/aws-error.ts';
import type { EdgeCall, EdgeService } from '../../edge/edge.ts';
import type { Logger } from '../../edge/log.ts';
import { optionalBoolean, optionalString, type Fields } from '../../edge/wire.ts';
import type { PolicyEvaluator } from '../../iam/evaluator.ts';
import type { Principal } from '../../iam/principals.ts';
import { installEngineGuard } from './engine-guard.ts';
import { Execution, STORE_VERSION, type ExecutionDescription, type StoredExecution } from './execution.ts';
import { epochSeconds, wireEvent, type HistoryEventView } from './history.ts';
import { compileMachine, type LocalStateMachine, type Machine } from './machines.ts';
import {
  checkStateMachineArn,
  decodeToken,
  encodeToken,
  executionArnOf,
  executionInput,
  executionName,
  pageSize,
  stateMachineArnOf,
  statusFilterOf,
  stopFailureOf,
} from './requests.ts';
import { stoppedCause, STOPPED_ERROR, whereOf, type DeliveredEnding } from './recovery.ts';
import { ExecutionRunner, type InvokeTask } from './runner.ts';
import { ExecutionStore } from './store.ts';

export type { ExecutionDescription, ExecutionStatus } from './execution.ts';
export type { HistoryEventView } from './history.ts';
export type { LocalStateMachine } from './machines.ts';
export type { InvokeTask, TaskInvocationMeta } from './runner.ts';

/** Step Functions' own error namespace, as the service sends it in `__type` (the SDK strips it). */
export const STATES_PROTOCOL: Protocol = { kind: 'json', version: '1.0', errorPrefix: 'com.amazonaws.swf.service.v2.model#' };

const TARGET_PREFIX = 'AWSStepFunctions.';

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
  /** Whether a run left RUNNING by a stopped process had delivered its terminal event (store.ts, recovery.ts). @default none */
  deliveredEnding?: DeliveredEnding;
  /** How long `stop()` waits for task handlers of aborted executions to return. @default 10000 */
  shutdownGraceMs?: number;
  /**
   * Start every execution twice, as AWS may run an asynchronous Express execution more than once
   * (`npm start -- --duplicate-executions`). @default false
   */
  duplicateExecutions?: boolean;
}

/** The execution names may be 80 characters: room for the duplicate's suffix. */
const DUPLICATE_SUFFIX = '-duplicate';
const MAX_NAME = 80;

/**
 * The local Step Functions service. Executions run in the background; `waitForExecution` awaits
 * one, `drain()` awaits all running ones, and `stop()` lets a run whose terminal event was delivered
 * finish (within `shutdownGraceMs`) and aborts the other running ones (status ABORTED,
 * error States.Runtime, cause "the local stack stopped while this run was in state X", as a restart
 * would record it too), waits for their task handlers to return (up to `shutdownGraceMs`) and for
 * pending writes.
 */
export class StepFunctionsService implements EdgeService {
  readonly protocol = STATES_PROTOCOL;
  private readonly machines = new Map<string, Machine>();
  private readonly store: ExecutionStore;
  private readonly runner: ExecutionRunner;
  private stopping = false;
  private duplicate: boolean;

  constructor(private readonly options: StepFunctionsOptions) {
    this.duplicate = options.duplicateExecutions ?? false;
    installEngineGuard();
    for (const config of options.stateMachines) {
      checkStateMachineArn(config.arn);
      const { location, retryIntervalOverrides } = options;
      this.machines.set(config.arn, compileMachine(config, { location, retryIntervalOverrides, createdAt: options.clock() }));
    }
    this.store = new ExecutionStore(options, this.machines);
    this.runner = new ExecutionRunner(options, this.store);
  }

  /**
   * The runs that this start found left RUNNING by a stopped process and ended ABORTED (recovery.ts),
   * with their inputs: the local stack releases what they held (stack.ts).
   */
  abortedAtStart(): readonly { executionArn: string; input: string }[] {
    return this.store.abortedAtStart;
  }

  // ---- the wire API --------------------------------------------------------------------------

  async handle({ principal, target, body, requestId }: EdgeCall): Promise<WireResponse> {
    const operation = target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : '';
    const input: Fields = parseJsonBody(body);
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
    const e = this.store.get(arn);
    if (!e) throw new AwsError('ExecutionDoesNotExist', `Execution Does Not Exist: '${arn}'`, 400);
    return e;
  }

  private async startExecution(principal: Principal, input: Fields) {
    const stateMachineArn = stateMachineArnOf(input);
    await this.authorize(principal, 'StartExecution', stateMachineArn);
    if (this.stopping) throw new AwsError('ServiceUnavailable', 'The local Step Functions is stopping.', 503);
    const machine = this.machine(stateMachineArn);
    const name = executionName(input);
    const { text, value } = executionInput(input);
    const executionArn = `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
    const existing = this.store.get(executionArn);
    if (existing) {
      // As on AWS: the same name and input while it runs is the same request; anything else is a conflict.
      if (existing.data.status === 'RUNNING' && existing.data.input === text) {
        return { executionArn, startDate: epochSeconds(existing.data.startDate) };
      }
      throw new AwsError('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`, 400);
    }
    const exec = this.launch(machine, executionArn, name, text, value);
    if (this.duplicate) {
      // As AWS may: the same input runs again, concurrently, as an execution of its own.
      let dupName = `${name.slice(0, MAX_NAME - DUPLICATE_SUFFIX.length)}${DUPLICATE_SUFFIX}`;
      const arnOf = (n: string) => `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${n}`;
      if (this.store.get(arnOf(dupName))) dupName = `${randomUUID()}${DUPLICATE_SUFFIX}`;
      this.launch(machine, arnOf(dupName), dupName, text, JSON.parse(text) as unknown);
      this.options.logger.log('info', 'sfn.duplicate_started', { executionArn: arnOf(dupName), duplicateOf: executionArn });
    }
    return { executionArn, startDate: epochSeconds(exec.data.startDate) };
  }

  private launch(machine: Machine, executionArn: string, name: string, text: string, value: unknown): Execution {
    const now = this.options.clock();
    const exec = new Execution({
      version: STORE_VERSION,
      seq: this.store.nextSeq(),
      executionArn,
      stateMachineArn: machine.config.arn,
      name,
      status: 'RUNNING',
      startDate: now.getTime(),
      input: text,
      events: [],
    });
    exec.event(now, 'ExecutionStarted', 'executionStartedEventDetails', { input: text, inputDetails: { truncated: false }, roleArn: machine.roleArn });
    this.store.add(exec);
    this.options.logger.log('info', 'sfn.execution_started', { executionArn, stateMachine: machine.config.name });
    void this.store.persist(exec);
    this.runner.launch(machine, exec, value);
    return exec;
  }

  private async describeExecution(principal: Principal, input: Fields) {
    const executionArn = executionArnOf(input);
    await this.authorize(principal, 'DescribeExecution', executionArn);
    const d = this.execution(executionArn).data;
    return {
      executionArn: d.executionArn,
      stateMachineArn: d.stateMachineArn,
      name: d.name,
      status: d.status,
      startDate: epochSeconds(d.startDate),
      ...(d.stopDate !== undefined ? { stopDate: epochSeconds(d.stopDate) } : {}),
      input: d.input,
      inputDetails: { included: true },
      ...(d.output !== undefined ? { output: d.output, outputDetails: { included: true } } : {}),
      ...(d.error !== undefined ? { error: d.error } : {}),
      ...(d.cause !== undefined ? { cause: d.cause } : {}),
    };
  }

  private async listExecutions(principal: Principal, input: Fields) {
    const stateMachineArn = stateMachineArnOf(input);
    await this.authorize(principal, 'ListExecutions', stateMachineArn);
    this.machine(stateMachineArn);
    const statusFilter = statusFilterOf(input);
    const limit = pageSize(input);
    const token = optionalString(input, 'nextToken');
    type ListToken = { arn: string; status: string | null; before: number };
    const from = token
      ? decodeToken<ListToken>(token, (t) => t.arn === stateMachineArn && t.status === (statusFilter ?? null) && typeof t.before === 'number')
      : undefined;
    const matching = [...this.store.values()]
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
        startDate: epochSeconds(d.startDate),
        ...(d.stopDate !== undefined ? { stopDate: epochSeconds(d.stopDate) } : {}),
      })),
      ...(matching.length > limit && last ? { nextToken: encodeToken({ arn: stateMachineArn, status: statusFilter ?? null, before: last.seq }) } : {}),
    };
  }

  private async getExecutionHistory(principal: Principal, input: Fields) {
    const executionArn = executionArnOf(input);
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

  private async stopExecution(principal: Principal, input: Fields) {
    const executionArn = executionArnOf(input);
    const failure = stopFailureOf(input);
    await this.authorize(principal, 'StopExecution', executionArn);
    const exec = this.execution(executionArn);
    // Stopping a finished execution changes nothing and reports when it stopped.
    if (!exec.closed) this.runner.abort(exec, failure, 'stopped');
    return { stopDate: epochSeconds(exec.data.stopDate ?? exec.data.startDate) };
  }

  private async describeStateMachine(principal: Principal, input: Fields) {
    const stateMachineArn = stateMachineArnOf(input);
    await this.authorize(principal, 'DescribeStateMachine', stateMachineArn);
    const m = this.machine(stateMachineArn);
    return {
      stateMachineArn,
      name: m.config.name,
      status: 'ACTIVE',
      definition: JSON.stringify(m.config.definition),
      roleArn: m.roleArn,
      type: m.config.type,
      creationDate: epochSeconds(m.createdAt.getTime()),
    };
  }

  // ---- in-process API ------------------------------------------------------------------------

  /** Turns the duplicate executions on or off for the executions started from now on. */
  setDuplicateExecutions(on: boolean): void {
    this.duplicate = on;
  }

  /** Resolves when the execution has ended (and its record is written); rejects ExecutionDoesNotExist. */
  async waitForExecution(executionArn: string): Promise<ExecutionDescription> {
    const exec = this.execution(executionArn);
    await exec.terminal;
    await this.store.flushed(exec);
    return exec.describe();
  }

  /**
   * Test control (an in-process crash): once a record matching `when` is on disk, nothing more of
   * this service reaches the disk, as if its process had been killed right after that write.
   */
  freezeDiskWhen(when: (record: StoredExecution) => boolean): void {
    this.store.freezeDiskWhen(when);
  }

  /** Resolves when every pending write of an execution record has reached the disk. */
  async flush(): Promise<void> {
    await this.store.flush();
  }

  /** Resolves when every execution running now has ended. */
  async drain(): Promise<void> {
    const running = [...this.store.values()].filter((e) => !e.closed);
    await Promise.all(running.map((e) => this.waitForExecution(e.data.executionArn)));
  }

  /**
   * Refuses new executions, aborts the running ones (ABORTED, States.Runtime, "the local stack
   * stopped"), waits up to `shutdownGraceMs` for their task handlers, then for pending writes.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    const graceMs = this.options.shutdownGraceMs ?? 10_000;
    // A run whose terminal event already reached its asker (the delivery log holds it) is in its
    // final publishing task, which returns at once: it is let finish, within the grace, rather than
    // recorded ABORTED for an answer its asker has (a restart after a crash records it the same way).
    const delivered = [...this.store.values()].filter((e) => !e.closed && this.options.deliveredEnding?.(e.data.input) !== undefined);
    if (delivered.length > 0) await settledWithin(Promise.all(delivered.map((e) => e.terminal)), graceMs);
    for (const exec of this.store.values()) {
      if (exec.closed) continue;
      this.runner.abort(exec, { error: STOPPED_ERROR, cause: stoppedCause(whereOf(exec.data.events)) }, 'service_stopped');
    }
    await this.runner.tasksReturned(graceMs);
    await this.store.flush();
    await this.store.removed();
  }
}

/** Waits for `promise` or `ms`, whichever comes first. */
async function settledWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
