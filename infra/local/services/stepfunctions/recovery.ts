/**
 * What a start records for an execution that a previous process left RUNNING (it stopped, or was
 * killed, while the execution ran). Step Functions itself never stops mid-run, so AWS documents
 * nothing for this; the local stack records what its own record proves, and no more:
 *
 * - The record is written in order and durably (runner.ts, store.ts): before a task is called, the
 *   record on disk shows that its state was entered and its task started; before a task's result
 *   goes back to the engine, the record on disk shows that the task returned. So the last state in
 *   the record is the state the run was in, and a task that returned is recorded as returned.
 * - A run whose record shows that the task of its last state returned successfully, where that
 *   state ends the execution (`End: true`, or `Next` a Succeed or Fail state), had done all its work:
 *   the terminal event to the asker (DONE from PublishAnswer, FAILED from PublishFailure) is sent
 *   by that very task, before it returns. The engine had only its own bookkeeping left, which this
 *   module completes exactly as the engine would have: SUCCEEDED (or FAILED, with the Fail state's
 *   error and cause), with the state's output. Such a run is never recorded ABORTED.
 * - Any other run is ABORTED (States.Runtime), with a cause that names the state it was in, and
 *   whether that state's task had returned. One case stays in doubt and says so: a task that was
 *   still running when the process died may have sent its event (the terminal one included) in the
 *   moment between AppSync accepting it and the task returning; the record cannot show that moment.
 */
import type { StoredEvent } from './history.ts';
import type { ExecutionStatus, StoredExecution } from './execution.ts';
import type { Machine } from './machines.ts';
import { taskStateOutput } from './payload-limits.ts';

/** The error an interrupted run ends with, as the runner's own stop records it. */
export const STOPPED_ERROR = 'States.Runtime';

/** The cause of a run the local stack stopped (at stop, or found RUNNING at the next start). */
export function stoppedCause(where: Where): string {
  if (!where.state) return 'the local stack stopped before this run entered its first state';
  if (where.between) return `the local stack stopped after this run's state ${where.state} and before the next one`;
  const task = where.taskRunning ? ' (its task had started and had not returned: anything the task sent before the stop may have been delivered)' : '';
  return `the local stack stopped while this run was in state ${where.state}${task}`;
}

/** Where a run was: its last state, whether it had left it, whether that state's task was running. */
export interface Where {
  state?: string;
  stateType?: string;
  between?: boolean;
  taskRunning?: boolean;
  /** The last settled task attempt of the open state: its success and output (JSON). */
  taskResult?: { ok: boolean; output?: string };
  /** The open state's raw input, or the output of the state it left (JSON). */
  data?: string;
}

const TASK_SCHEDULED = new Set(['TaskScheduled', 'LambdaFunctionScheduled', 'ActivityScheduled']);
const TASK_SUCCEEDED = new Set(['TaskSucceeded', 'LambdaFunctionSucceeded', 'ActivitySucceeded']);
const TASK_ENDED = /^(Task|LambdaFunction|Activity)(Succeeded|Failed|TimedOut|StartFailed|ScheduleFailed|SubmitFailed)$/;

/** Reads where the run was from its history (the top-level states; Map and Parallel inner states are not told apart). */
export function whereOf(events: readonly StoredEvent[]): Where {
  const where: Where = {};
  for (const e of events) {
    const details = e.details as { name?: string; input?: string; output?: string } | undefined;
    if (e.type.endsWith('StateEntered')) {
      Object.assign(where, { state: details?.name, stateType: e.type.slice(0, -'StateEntered'.length), between: false, taskRunning: false, data: details?.input });
      delete where.taskResult;
    } else if (e.type.endsWith('StateExited') && details?.name === where.state) {
      Object.assign(where, { between: true, taskRunning: false, data: details?.output });
      delete where.taskResult;
    } else if (TASK_SCHEDULED.has(e.type)) {
      where.taskRunning = true;
      delete where.taskResult;
    } else if (TASK_ENDED.test(e.type)) {
      where.taskRunning = false;
      const output = (e.details as { output?: string } | undefined)?.output;
      where.taskResult = { ok: TASK_SUCCEEDED.has(e.type), ...(output !== undefined ? { output } : {}) };
    }
  }
  return where;
}

type State = Record<string, unknown>;

/** A JSONPath of the plain dotted form (`$`, `$.a.b`) read from `value`; undefined for any other form. */
function readPath(value: unknown, path: unknown): { found: boolean; value?: unknown } {
  if (typeof path !== 'string' || !/^\$(\.[A-Za-z_][\w-]*)*$/.test(path)) return { found: false };
  let v = value;
  for (const key of path.split('.').slice(1)) {
    if (typeof v !== 'object' || v === null || !(key in v)) return { found: false };
    v = (v as Record<string, unknown>)[key];
  }
  return { found: true, value: v };
}

interface Ending {
  status: Extract<ExecutionStatus, 'SUCCEEDED' | 'FAILED'>;
  /** Events the engine would have recorded, before the execution's own. */
  events: [type: string, detailsKey?: string, details?: Record<string, unknown>][];
  output?: string;
  error?: string;
  cause?: string;
}

/** The ending of a Succeed or Fail state entered with `input` (its own events after StateEntered). */
function endingAt(machine: Machine, name: string, input: unknown): Ending | undefined {
  const state = machine.states.get(name) as State | undefined;
  const text = JSON.stringify(input ?? null);
  if (state?.Type === 'Succeed') {
    if (state.InputPath !== undefined || state.OutputPath !== undefined) return undefined;
    return { status: 'SUCCEEDED', events: [['SucceedStateExited', 'stateExitedEventDetails', { name, output: text, outputDetails: { truncated: false } }]], output: text };
  }
  if (state?.Type === 'Fail') {
    const error = state.Error ?? readPath(input, state.ErrorPath).value;
    const cause = state.Cause ?? readPath(input, state.CausePath).value;
    if ((state.ErrorPath !== undefined && typeof error !== 'string') || (state.CausePath !== undefined && typeof cause !== 'string')) return undefined;
    return { status: 'FAILED', events: [], ...(typeof error === 'string' ? { error } : {}), ...(typeof cause === 'string' ? { cause } : {}) };
  }
  return undefined;
}

/**
 * How the run ends, when its record proves that nothing but the engine's bookkeeping was left:
 * its last state (`name`, with `output`) ends the execution or leads only to a Succeed or Fail state.
 */
function endingAfter(machine: Machine, name: string, output: unknown): Ending | undefined {
  const state = machine.states.get(name) as State | undefined;
  if (!state) return undefined;
  const text = JSON.stringify(output ?? null);
  if (state.End === true || state.Type === 'Succeed') return { status: 'SUCCEEDED', events: [], output: text };
  if (typeof state.Next !== 'string') return undefined;
  const next = machine.states.get(state.Next) as State | undefined;
  const ending = endingAt(machine, state.Next, output);
  if (!next || !ending) return undefined;
  const entered: Ending['events'][number] = [`${String(next.Type)}StateEntered`, 'stateEnteredEventDetails', { name: state.Next, input: text, inputDetails: { truncated: false } }];
  return { ...ending, events: [entered, ...ending.events] };
}

function parse(text: string | undefined): { ok: boolean; value?: unknown } {
  if (text === undefined) return { ok: false };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}

/** The ending the record proves, if it proves one (see the module's comment). */
function provenEnding(machine: Machine | undefined, where: Where): { ending: Ending; exit?: Ending['events'][number] } | undefined {
  if (!machine || !where.state) return undefined;
  const data = parse(where.data);
  if (!data.ok) return undefined;
  if (where.between || where.stateType === 'Succeed' || where.stateType === 'Fail') {
    const ending = where.between ? endingAfter(machine, where.state, data.value) : endingAt(machine, where.state, data.value);
    return ending ? { ending } : undefined;
  }
  // In a Task state whose last attempt returned successfully: its output as the engine makes it.
  if (where.stateType !== 'Task' || where.taskRunning || !where.taskResult?.ok) return undefined;
  const result = parse(where.taskResult.output);
  const state = machine.states.get(where.state);
  if (!result.ok || !state) return undefined;
  const output = taskStateOutput(state, data.value, result.value);
  if (output === undefined) return undefined;
  const ending = endingAfter(machine, where.state, output);
  if (!ending) return undefined;
  const exit: Ending['events'][number] = ['TaskStateExited', 'stateExitedEventDetails', { name: where.state, output: JSON.stringify(output), outputDetails: { truncated: false } }];
  return { ending, exit };
}

/**
 * Ends a record left RUNNING (in place): the ending its record proves, or ABORTED with a cause that
 * says where it was. Returns the status and the cause (for the log).
 */
export function recoverInterrupted(data: StoredExecution, machine: Machine | undefined, now: number): { status: ExecutionStatus; where: Where; reason: string } {
  const where = whereOf(data.events);
  const push = (type: string, detailsKey?: string, details?: Record<string, unknown>) => {
    const id = data.events.length + 1;
    data.events.push({ id, previousEventId: id - 1, timestamp: now, type, ...(detailsKey && details ? { detailsKey, details } : {}) });
  };
  const proven = provenEnding(machine, where);
  if (proven) {
    const { ending, exit } = proven;
    if (exit) push(...exit);
    for (const e of ending.events) push(...e);
    if (ending.status === 'SUCCEEDED') {
      push('ExecutionSucceeded', 'executionSucceededEventDetails', { output: ending.output, outputDetails: { truncated: false } });
      Object.assign(data, { status: 'SUCCEEDED', stopDate: now, output: ending.output });
    } else {
      const fields = { ...(ending.error !== undefined ? { error: ending.error } : {}), ...(ending.cause !== undefined ? { cause: ending.cause } : {}) };
      push('ExecutionFailed', 'executionFailedEventDetails', fields);
      Object.assign(data, { status: 'FAILED', stopDate: now }, fields);
    }
    return { status: data.status, where, reason: `its last state ${where.state} had completed; the local stack stopped before recording the end` };
  }
  if (where.state && !where.between && where.stateType && ['Task', 'Map', 'Parallel', 'Wait'].includes(where.stateType)) push(`${where.stateType}StateAborted`);
  const failure = { error: STOPPED_ERROR, cause: stoppedCause(where) };
  push('ExecutionAborted', 'executionAbortedEventDetails', failure);
  Object.assign(data, { status: 'ABORTED', stopDate: now }, failure);
  return { status: 'ABORTED', where, reason: failure.cause };
}
