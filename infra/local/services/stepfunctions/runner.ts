/**
 * Running executions on `aws-local-stepfunctions`: every Task state is handed to
 * `invokeTask(state.Resource, input, meta)`, the engine's state events become AWS history events,
 * the engine guard (engine-guard.ts) classifies every error before Retry and Catch see it, and an
 * execution ends exactly once (SUCCEEDED, FAILED, ABORTED or TIMED_OUT), with its record persisted
 * and its history delivered to `onExecutionEnded`.
 */
import { ExecutionAbortedError, ExecutionError, ExecutionTimeoutError, type StateMachine } from 'aws-local-stepfunctions';
import type { Logger } from '../../edge/log.ts';
import {
  classify,
  engineFailure,
  errorText,
  guardedRunOptions,
  hookEventLogger,
  isMarkedEngineFailure,
  markTaskError,
  markUncatchable,
  TaskNotStarted,
  TaskResultInvalid,
  type EngineEvent,
  type EngineEventLogger,
} from './engine-guard.ts';
import type { Execution, ExecutionStatus, TaskAttempt } from './execution.ts';
import { historyView, taskEventFamily, type Failure, type HistoryEventView } from './history.ts';
import type { Machine, TaskInfo } from './machines.ts';
import { DataLimitExceeded, overLimit, stateInputTooLarge, stateOutputTooLarge, taskResultTooLarge, taskStateOutput } from './payload-limits.ts';
import type { ExecutionStore } from './store.ts';

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

/** What the runner needs of the service's options (see StepFunctionsOptions). */
export interface RunnerOptions {
  location: { region: string };
  logger: Logger;
  clock: () => Date;
  invokeTask: InvokeTask;
  onExecutionEnded?: (executionArn: string, history: readonly HistoryEventView[]) => void;
}

export class ExecutionRunner {
  private readonly inflightTasks = new Set<Promise<unknown>>();

  constructor(
    private readonly options: RunnerOptions,
    private readonly store: ExecutionStore,
  ) {}

  /** Starts running `exec` in the background; it ends through `finish`, whatever happens. */
  launch(machine: Machine, exec: Execution, input: unknown): void {
    const { executionArn, name, stateMachineArn } = exec.data;
    const handlers: Record<string, (input: unknown) => Promise<unknown>> = {};
    for (const [stateName, task] of machine.tasks) handlers[stateName] = (taskInput) => this.runTask(exec, machine, stateName, task, taskInput);
    const runOptions = guardedRunOptions(
      {
        overrides: {
          taskResourceLocalHandlers: handlers,
          ...(machine.retryIntervalOverrides ? { retryIntervalOverrides: machine.retryIntervalOverrides } : {}),
        },
        context: {
          Execution: { Id: executionArn, Name: name, RoleArn: machine.roleArn },
          StateMachine: { Id: stateMachineArn, Name: machine.config.name },
        },
        noThrowOnAbort: true,
      },
      { attach: (logger) => this.attach(machine, exec, logger) },
    );
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

  /** Ends a running execution as ABORTED: its open states are aborted, its task handlers signalled. */
  abort(exec: Execution, failure: Partial<Failure>, reason: string): void {
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

  /** Waits up to `graceMs` for the task handlers still running (those of aborted executions included). */
  async tasksReturned(graceMs: number): Promise<void> {
    if (this.inflightTasks.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      Promise.allSettled([...this.inflightTasks]).then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), graceMs))),
    ]);
    clearTimeout(timer);
    if (timedOut) this.options.logger.log('warn', 'sfn.stop_tasks_still_running', { tasks: this.inflightTasks.size, graceMs });
  }

  /**
   * Runs one Task state through `invokeTask`, recording its scheduled/started/succeeded/failed
   * events. The payload quota applies to the state's input (after InputPath and Parameters), the
   * task's result and the state's output (payload-limits.ts).
   */
  private runTask(exec: Execution, machine: Machine, stateName: string, task: TaskInfo, input: unknown): Promise<unknown> {
    if (exec.closed || exec.engineFailure) return Promise.reject(new TaskNotStarted());
    // Read before anything awaits: the engine entered this state in the same synchronous step.
    const rawInput = exec.stateInputs.get(stateName);
    const family = taskEventFamily(task.resource, this.options.location.region);
    const parameters = JSON.stringify(input ?? null);
    if (overLimit(parameters)) return Promise.reject(stateInputTooLarge(stateName));
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
    // The record is durable and in order (recovery.ts): on disk before the task runs (the state and
    // its started task), and again before the task's outcome goes back to the engine.
    const durable = () => this.store.persist(exec);
    const call = (async () => {
      await durable();
      // Stopped, or the state timed out, while the record was written: the task is not called.
      if (exec.closed || attempt.settled) throw new TaskNotStarted();
      let result: unknown;
      try {
        result = await this.options.invokeTask(task.resource, JSON.parse(parameters), meta);
      } catch (thrown) {
        const error = thrown instanceof Error ? thrown : Object.assign(new Error(String(thrown)), { name: 'Error' });
        markTaskError(error);
        if (settle()) this.record(exec, ...family.failed({ error: error.name, cause: error.message }));
        this.options.logger.log('debug', 'sfn.task_failed', { executionArn: exec.data.executionArn, state: stateName, error: error.name });
        await durable();
        throw error;
      }
      let output: string;
      try {
        output = JSON.stringify(result) ?? 'null';
      } catch (err) {
        // As on AWS, a result that is not JSON fails the state with States.Runtime (not catchable).
        const error = new TaskResultInvalid(errorText(err));
        if (settle()) this.record(exec, ...family.failed({ error: error.name, cause: error.message }));
        await durable();
        throw error;
      }
      if (overLimit(output)) {
        const error = taskResultTooLarge(task.resource);
        if (settle()) this.record(exec, ...family.failed({ error: error.name, cause: error.message }));
        await durable();
        throw error;
      }
      // A task that returned is recorded as returned before anything else happens: whatever it sent
      // (PublishAnswer's DONE) is then never recorded as anything but done (recovery.ts).
      if (settle()) this.record(exec, ...family.succeeded(output));
      await durable();
      const value = JSON.parse(output) as unknown;
      // The state's output, checked here so that the state's own Retry and Catch see the error.
      const state = machine.states.get(stateName);
      const stateOutput = state && rawInput !== undefined ? taskStateOutput(state, rawInput, value) : undefined;
      if (stateOutput !== undefined && overLimit(JSON.stringify(stateOutput))) throw stateOutputTooLarge(stateName);
      return value;
    })();
    // The engine may drop this promise (a timeout, or the engine failing before it awaits it).
    const tracked = call.catch(() => undefined);
    this.inflightTasks.add(tracked);
    void tracked.then(() => this.inflightTasks.delete(tracked));
    return call;
  }

  /** Takes over a run's event logger: records its state events, and classifies errors before Retry/Catch. */
  private attach(machine: Machine, exec: Execution, logger: EngineEventLogger): void {
    hookEventLogger(logger, {
      onEvent: (event) => {
        // Every state's output is held to the payload quota as it exits (a Task state's was checked
        // before its Retry and Catch). Thrown outside `safely`: the run fails with the error.
        if (event.type === 'StateExited' && event.state && overLimit(JSON.stringify(event.state.output ?? null))) {
          throw stateOutputTooLarge(event.state.name);
        }
        this.safely(exec, () => this.onStateEvent(exec, event));
      },
      onStateFailed: (stateName, stateType, error) => this.onStateFailed(machine, exec, stateName, stateType, error),
    });
  }

  /** The guard: runs before the engine evaluates Retry and Catch for `error`. */
  private onStateFailed(machine: Machine, exec: Execution, stateName: string, stateType: string, error: unknown): void {
    if (error instanceof DataLimitExceeded) error.matchOnlyByName(machine.states.get(stateName));
    const kind = classify(error);
    if (kind === 'engine-failure' && !isMarkedEngineFailure(error)) {
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
          this.record(exec, ...attempt.family.timedOut({ error: 'States.Timeout' }));
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
        exec.stateInputs.set(state.name, state.input);
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
        exec.stateInputs.set(state.name, state.input);
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
    void this.store.persist(exec);
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
    void this.store.persist(exec);
    if (this.options.onExecutionEnded) {
      const history = historyView(d.events);
      try {
        this.options.onExecutionEnded(d.executionArn, history);
      } catch (err) {
        this.options.logger.log('warn', 'sfn.log_delivery_failed', { executionArn: d.executionArn, error: (err as Error).message });
      }
    }
    this.store.prune();
  }
}
