/**
 * The real definition (states/definition.ts) run on the local Step Functions stand-in with stub
 * tasks: no Lambda sandbox, no edge, no IAM. What it proves is the definition's routing: which
 * states run, in which order, what each receives, and what is retried, caught and ended.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  StepFunctionsService,
  type ExecutionDescription,
  type HistoryEventView,
  type InvokeTask,
  type StepFunctionsOptions,
} from '../infra/local/services/stepfunctions/service.ts';
import { MAX_PAYLOAD_BYTES } from '../infra/local/services/stepfunctions/payload-limits.ts';
import { ErrorName, WorkflowError } from '../tasks/errors.ts';
import { MAX_ANSWER_CHARS } from '../tasks/invoke-agent.ts';
import { TASK_NAMES, type TaskName } from '../tasks/task-names.ts';
import { MAX_ANSWER_ID_CHARS, MAX_CONVERSATION_ID_CHARS, MAX_QUESTION_CHARS } from '../tasks/workflow-input.ts';
import { DATA_LIMIT_EXCEEDED, STATE_NAMES, substituteFunctionArns } from './definition.ts';

/** The longest path: every task ran, PublishAnswer failed, the failure was recorded and published. */
const PUBLISH_FAILED_PATH = [
  STATE_NAMES.validate,
  STATE_NAMES.mint,
  STATE_NAMES.invoke,
  STATE_NAMES.publish,
  STATE_NAMES.record,
  STATE_NAMES.publishFailure,
  STATE_NAMES.failed,
];

const MACHINE_ARN = 'arn:aws:states:us-east-1:000000000000:stateMachine:assistant';
const functionArn = (task: TaskName) => `arn:aws:lambda:us-east-1:000000000000:function:${task}`;
const ARNS = Object.fromEntries(TASK_NAMES.map((t) => [t, functionArn(t)])) as Record<TaskName, string>;

type StateName = (typeof STATE_NAMES)[keyof typeof STATE_NAMES];
/** The task each Task state must invoke (PublishFailure reuses publish-answer). */
const TASK_OF: Readonly<Partial<Record<StateName, TaskName>>> = {
  [STATE_NAMES.validate]: 'validate-context',
  [STATE_NAMES.mint]: 'mint-credentials',
  [STATE_NAMES.invoke]: 'invoke-agent',
  [STATE_NAMES.publish]: 'publish-answer',
  [STATE_NAMES.record]: 'record-failure',
  [STATE_NAMES.publishFailure]: 'publish-answer',
};

/** A stub task: its result, or a throw; `attempt` counts its calls in this execution from 1. */
type Stub = (input: Record<string, unknown>, attempt: number) => unknown;
type Stubs = Partial<Record<StateName, Stub>>;

interface TaskCall {
  state: string;
  resource: string;
  input: Record<string, unknown>;
}

type EdgeCall = Parameters<StepFunctionsService['handle']>[0];

/** The caller of StartExecution: the API's data source role, as the ask resolver's is on AWS. */
const CALLER: EdgeCall['principal'] = {
  arn: 'arn:aws:sts::000000000000:assumed-role/appsync-api/resolver',
  ownerArn: 'arn:aws:iam::000000000000:role/appsync-api',
  userId: 'AROAAPPSYNCAPI0000000:resolver',
  identityPolicies: [],
  tags: {},
};

const identity = { tenantId: 'tenant1', userId: 'user-1', username: 'alice' };
const request = { answerId: 'user-1.a1', question: 'What is your return policy?' };
const input = { identity, request };

const context = { sessionId: 's-1', storeName: 'Tenant One Store', nextSeq: 3 };
const sealed = { sealedCredentials: 'c2VhbGVk', expiration: '2030-01-01T00:15:00.000Z' };
const answer = { text: 'Within 10 days.', toolCalls: 1, nextSeq: 6 };
const published = { status: 'DONE' };
const failurePublished = { status: 'FAILED' };

const happy: Stubs = {
  [STATE_NAMES.validate]: () => context,
  [STATE_NAMES.mint]: () => sealed,
  [STATE_NAMES.invoke]: () => answer,
  [STATE_NAMES.publish]: () => published,
};
const failurePath: Stubs = {
  [STATE_NAMES.record]: () => ({ recorded: true }),
  [STATE_NAMES.publishFailure]: () => failurePublished,
};

const throwing = (name: ErrorName, message: string) => () => {
  throw new WorkflowError(name, message);
};

interface Run {
  execution: ExecutionDescription;
  history: readonly HistoryEventView[];
  /** The task calls of this execution, in order. */
  calls: TaskCall[];
}

/**
 * One service with the real definition for the whole file (building the engine validates the ASL,
 * which takes a while); each execution gets its own stubs, and a task call without one is refused.
 */
function harness() {
  const stubsOf = new Map<string, Stubs>();
  const callsOf = new Map<string, TaskCall[]>();
  const refused: TaskCall[] = [];
  const authorized: string[] = [];
  const histories = new Map<string, readonly HistoryEventView[]>();
  const errors: string[] = [];
  const invokeTask: InvokeTask = async (resource, taskInput, meta) => {
    const call: TaskCall = { state: meta.stateName, resource, input: taskInput as Record<string, unknown> };
    const calls = callsOf.get(meta.executionArn) ?? [];
    callsOf.set(meta.executionArn, calls);
    calls.push(call);
    const task = TASK_OF[meta.stateName as StateName];
    const stub = stubsOf.get(meta.executionArn)?.[meta.stateName as StateName];
    if (!task || resource !== ARNS[task] || !stub) {
      refused.push(call);
      throw new Error(`Unexpected task call: ${meta.stateName} (${resource})`);
    }
    return stub(call.input, calls.filter((c) => c.state === call.state).length);
  };
  // StartExecution on this machine is the only call the tests make; anything else is refused.
  const evaluator = {
    authorize: async ({ action, resource }: { action: string; resource: string }) => {
      if (action !== 'states:StartExecution' || resource !== MACHINE_ARN) throw new Error(`Unexpected authorization: ${action} on ${resource}`);
      authorized.push(action);
    },
  } as unknown as StepFunctionsOptions['evaluator'];
  const service = new StepFunctionsService({
    location: { partition: 'aws', region: 'us-east-1', accountId: '000000000000' },
    evaluator,
    logger: { log: (level, msg) => (level === 'error' ? errors.push(msg) : undefined) },
    clock: () => new Date(),
    stateMachines: [{ name: 'assistant', arn: MACHINE_ARN, definition: substituteFunctionArns(ARNS) as object, type: 'EXPRESS' }],
    invokeTask,
    // The definition's MaxAttempts and error names decide; only the pauses are shortened.
    retryIntervalOverrides: 1,
    onExecutionEnded: (arn, history) => histories.set(arn, history),
  });
  let runs = 0;

  /**
   * Starts an execution as the ask resolver does, with `stubs` as its tasks, and waits for its end.
   * Fails the test when a task call was refused, the engine logged an error, or StartExecution was
   * not the one call authorized.
   */
  async function run(stubs: Stubs, runInput: object = input): Promise<Run> {
    const name = `run-${++runs}`;
    const executionArn = `${MACHINE_ARN.replace(':stateMachine:', ':execution:')}:${name}`;
    stubsOf.set(executionArn, stubs);
    const call: EdgeCall = {
      principal: CALLER,
      body: Buffer.from(JSON.stringify({ stateMachineArn: MACHINE_ARN, name, input: JSON.stringify(runInput) })),
      headers: {},
      target: 'AWSStepFunctions.StartExecution',
      requestId: `req-${runs}`,
      method: 'POST',
      path: '/',
    };
    const response = await service.handle(call);
    expect(response.status).toBe(200);
    expect(JSON.parse(String(response.body))).toMatchObject({ executionArn });
    const execution = await service.waitForExecution(executionArn);
    const history = histories.get(executionArn);
    if (!history) throw new Error('the execution ended without a history');
    expect(refused).toEqual([]);
    expect(errors).toEqual([]);
    expect(authorized).toEqual(Array.from({ length: runs }, () => 'states:StartExecution'));
    return { execution, history, calls: callsOf.get(executionArn) ?? [] };
  }

  return { service, run };
}

/** The states the execution entered, in order, from its history. */
const entered = (history: readonly HistoryEventView[]) =>
  history.filter((e) => e.type.endsWith('StateEntered')).map((e) => (e.stateEnteredEventDetails as { name: string }).name);

/** The outcome of each Lambda call in the history, with the error of each failure. */
const lambdaOutcomes = (history: readonly HistoryEventView[]) =>
  history
    .filter((e) => e.type === 'LambdaFunctionSucceeded' || e.type === 'LambdaFunctionFailed')
    .map((e) => (e.type === 'LambdaFunctionFailed' ? [e.type, (e.lambdaFunctionFailedEventDetails as { error: string }).error] : [e.type]));

const states = (calls: TaskCall[]) => calls.map((c) => c.state);

let h: ReturnType<typeof harness>;
beforeAll(() => {
  h = harness();
});
afterAll(async () => {
  await h?.service.stop();
});

describe('the workflow on the local Step Functions, with stub tasks', () => {
  it('runs ValidateContext -> MintCredentials -> InvokeAgent -> PublishAnswer and SUCCEEDS, each result at its path', async () => {
    const { execution, history, calls } = await h.run(happy);
    expect(execution.status).toBe('SUCCEEDED');
    expect(entered(history)).toEqual([STATE_NAMES.validate, STATE_NAMES.mint, STATE_NAMES.invoke, STATE_NAMES.publish]);
    expect(states(calls)).toEqual([STATE_NAMES.validate, STATE_NAMES.mint, STATE_NAMES.invoke, STATE_NAMES.publish]);
    // Each task receives the whole state so far; the results accumulate at their ResultPaths.
    // ValidateContext gets the state and the execution's id (to claim the answerId with).
    const validateInput = { input, executionArn: execution.executionArn };
    expect(calls.map((c) => c.input)).toEqual([validateInput, { ...input, context }, { ...input, context, sealed }, { ...input, context, sealed, answer }]);
    // PublishAnswer's result (the published event) is not kept: ResultPath null.
    expect(JSON.parse(execution.output!)).toEqual({ ...input, context, sealed, answer });
  });

  it('retries a task that fails with Throttled, and goes on when it succeeds', async () => {
    const { execution, history, calls } = await h.run({ ...happy, [STATE_NAMES.invoke]: (_, attempt) => (attempt <= 2 ? throwing(ErrorName.Throttled, 'slow down')() : answer) });
    expect(execution.status).toBe('SUCCEEDED');
    expect(states(calls)).toEqual([
      STATE_NAMES.validate,
      STATE_NAMES.mint,
      STATE_NAMES.invoke,
      STATE_NAMES.invoke,
      STATE_NAMES.invoke,
      STATE_NAMES.publish,
    ]);
    // A retry is not a new state: InvokeAgent is entered once, its Lambda called three times.
    expect(entered(history)).toEqual([STATE_NAMES.validate, STATE_NAMES.mint, STATE_NAMES.invoke, STATE_NAMES.publish]);
    expect(lambdaOutcomes(history)).toEqual([
      ['LambdaFunctionSucceeded'],
      ['LambdaFunctionSucceeded'],
      ['LambdaFunctionFailed', ErrorName.Throttled],
      ['LambdaFunctionFailed', ErrorName.Throttled],
      ['LambdaFunctionSucceeded'],
      ['LambdaFunctionSucceeded'],
    ]);
  });

  it("gives up on Throttled after the definition's MaxAttempts (3 retries), then fails through RecordFailure -> PublishFailure", async () => {
    const { execution, history, calls } = await h.run({ ...happy, ...failurePath, [STATE_NAMES.mint]: throwing(ErrorName.Throttled, 'still throttled') });
    expect(calls.filter((c) => c.state === STATE_NAMES.mint)).toHaveLength(4);
    expect(entered(history)).toEqual([STATE_NAMES.validate, STATE_NAMES.mint, STATE_NAMES.record, STATE_NAMES.publishFailure, STATE_NAMES.failed]);
    expect(execution).toMatchObject({ status: 'FAILED', error: ErrorName.Throttled, cause: 'still throttled' });
  });

  it('ends a lost claim quietly: Duplicate from ValidateContext -> AlreadyAnswered, SUCCEEDED, no other task, no retry', async () => {
    const cause = 'Another execution has claimed this answer: it answers, this one ends here.';
    // Only ValidateContext has a stub: a call to any other task (RecordFailure, PublishFailure) is refused.
    const { execution, history, calls } = await h.run({ [STATE_NAMES.validate]: throwing(ErrorName.Duplicate, cause) });
    expect(states(calls)).toEqual([STATE_NAMES.validate]);
    expect(entered(history)).toEqual([STATE_NAMES.validate, STATE_NAMES.alreadyAnswered]);
    expect(execution.status).toBe('SUCCEEDED');
    expect(JSON.parse(execution.output!)).toEqual({ ...input, duplicate: { Error: ErrorName.Duplicate, Cause: cause } });
    // Control: the same state failing with another non-transient error takes the failure path (test below).
  });

  it('gives every attempt of ValidateContext the same executionArn, so that a retry claims again', async () => {
    const { execution, calls } = await h.run({ ...happy, [STATE_NAMES.validate]: (_, attempt) => (attempt === 1 ? throwing(ErrorName.ServiceUnavailable, 'blip')() : context) });
    expect(execution.status).toBe('SUCCEEDED');
    const attempts = calls.filter((c) => c.state === STATE_NAMES.validate);
    expect(attempts.map((c) => c.input)).toEqual([
      { input, executionArn: execution.executionArn },
      { input, executionArn: execution.executionArn },
    ]);
  });

  it('sends an InvalidRequest from ValidateContext, not retried, through RecordFailure -> PublishFailure to Failed', async () => {
    const { execution, history, calls } = await h.run({ ...failurePath, [STATE_NAMES.validate]: throwing(ErrorName.InvalidRequest, 'The question is empty.') });
    expect(entered(history)).toEqual([STATE_NAMES.validate, STATE_NAMES.record, STATE_NAMES.publishFailure, STATE_NAMES.failed]);
    expect(states(calls)).toEqual([STATE_NAMES.validate, STATE_NAMES.record, STATE_NAMES.publishFailure]);
    const error = { Error: ErrorName.InvalidRequest, Cause: 'The question is empty.' };
    // RecordFailure gets the caught error in the state and the execution's ARN; PublishFailure the state with both.
    expect(calls[1]!.input).toEqual({ state: { ...input, error }, executionArn: execution.executionArn });
    expect(calls[2]!.input).toEqual({ ...input, error, recorded: { recorded: true } });
    expect(execution).toMatchObject({ status: 'FAILED', error: ErrorName.InvalidRequest, cause: 'The question is empty.' });
    expect(history.at(-1)).toMatchObject({ type: 'ExecutionFailed', executionFailedEventDetails: { error: ErrorName.InvalidRequest, cause: 'The question is empty.' } });
  });

  it('still publishes the FAILED event when the run cannot be recorded', async () => {
    const { execution, history, calls } = await h.run({
      ...failurePath,
      [STATE_NAMES.validate]: throwing(ErrorName.TenantUnavailable, 'The store tenant1 is not active.'),
      [STATE_NAMES.record]: throwing(ErrorName.AgentFailed, 'the runs table is gone'),
    });
    expect(entered(history)).toEqual([STATE_NAMES.validate, STATE_NAMES.record, STATE_NAMES.publishFailure, STATE_NAMES.failed]);
    const publishFailure = calls.find((c) => c.state === STATE_NAMES.publishFailure)!;
    expect(publishFailure.input).toMatchObject({ error: { Error: ErrorName.TenantUnavailable }, recordError: { Error: ErrorName.AgentFailed } });
    // The asker's error, not the recording's, is the execution's.
    expect(execution).toMatchObject({ status: 'FAILED', error: ErrorName.TenantUnavailable });
  });

  it('sends a failure of PublishAnswer itself to PublishFailure: exactly one terminal event is published', async () => {
    const { execution, history, calls } = await h.run({ ...happy, ...failurePath, [STATE_NAMES.publish]: throwing(ErrorName.PublishFailed, 'AppSync refused') });
    expect(entered(history)).toEqual(PUBLISH_FAILED_PATH);
    // PublishFailed is not retried: one DONE attempt that failed, then one FAILED.
    expect(states(calls).filter((s) => s === STATE_NAMES.publish || s === STATE_NAMES.publishFailure)).toEqual([STATE_NAMES.publish, STATE_NAMES.publishFailure]);
    expect(calls.at(-1)!.input.error).toEqual({ Error: ErrorName.PublishFailed, Cause: 'AppSync refused' });
    expect(execution).toMatchObject({ status: 'FAILED', error: ErrorName.PublishFailed });
  });
});

/** Every payload of an execution's history: state inputs and outputs, task inputs and results. */
const payloads = (history: readonly HistoryEventView[]) =>
  history.flatMap((e) => {
    const details = Object.values(e).find((v): v is Record<string, unknown> => typeof v === 'object' && v !== null && !(v instanceof Date)) ?? {};
    return (['input', 'output', 'parameters'] as const).flatMap((k) => (typeof details[k] === 'string' ? [{ type: e.type, bytes: Buffer.byteLength(details[k]) }] : []));
  });

describe("the workflow under Step Functions' 256 KiB payload quota", () => {
  const oversized = { text: 'x'.repeat(MAX_PAYLOAD_BYTES), toolCalls: 0, nextSeq: 6 };

  it('an InvokeAgent result over the quota fails with States.DataLimitExceeded, is caught by name, recorded, and the asker gets FAILED', async () => {
    const { execution, history, calls } = await h.run({ ...happy, ...failurePath, [STATE_NAMES.invoke]: () => oversized });
    expect(entered(history)).toEqual([STATE_NAMES.validate, STATE_NAMES.mint, STATE_NAMES.invoke, STATE_NAMES.record, STATE_NAMES.publishFailure, STATE_NAMES.failed]);
    expect(lambdaOutcomes(history).at(2)).toEqual(['LambdaFunctionFailed', DATA_LIMIT_EXCEEDED]);
    const publishFailure = calls.find((c) => c.state === STATE_NAMES.publishFailure)!;
    expect(publishFailure.input.error).toMatchObject({ Error: DATA_LIMIT_EXCEEDED });
    // The oversized answer never entered the state.
    expect(publishFailure.input.answer).toBeUndefined();
    expect(execution).toMatchObject({ status: 'FAILED', error: DATA_LIMIT_EXCEEDED });
  });

  it('an answer that fits, but makes the state too large, fails InvokeAgent the same way', async () => {
    const fits = { ...oversized, text: 'x'.repeat(MAX_PAYLOAD_BYTES - 100) };
    expect(Buffer.byteLength(JSON.stringify(fits))).toBeLessThan(MAX_PAYLOAD_BYTES);
    const { execution, history, calls } = await h.run({ ...happy, ...failurePath, [STATE_NAMES.invoke]: () => fits });
    // The task succeeded; its state did not.
    expect(lambdaOutcomes(history).at(2)).toEqual(['LambdaFunctionSucceeded']);
    expect(entered(history)).toEqual([STATE_NAMES.validate, STATE_NAMES.mint, STATE_NAMES.invoke, STATE_NAMES.record, STATE_NAMES.publishFailure, STATE_NAMES.failed]);
    expect(calls.at(-1)!.input.error).toMatchObject({ Error: DATA_LIMIT_EXCEEDED, Cause: expect.stringContaining(`'${STATE_NAMES.invoke}' has an output`) });
    expect(execution).toMatchObject({ status: 'FAILED', error: DATA_LIMIT_EXCEEDED });
  });

  it('the largest legal ask stays under the quota on its longest path, and its asker still gets FAILED', async () => {
    // Every field at its limit, in the character JSON makes longest (a lone surrogate: 6 bytes).
    const w = '\ud800';
    const largest = {
      identity: { tenantId: 'tenant1', userId: 'u'.repeat(128), username: w.repeat(128) },
      request: { answerId: `${'u'.repeat(128)}.${w.repeat(MAX_ANSWER_ID_CHARS - 129)}`, question: w.repeat(MAX_QUESTION_CHARS), conversationId: w.repeat(MAX_CONVERSATION_ID_CHARS) },
    };
    // Each task's largest result or error: a sealed blob far above KMS's, the longest answer, and
    // causes of 32,768 characters (the longest cause Step Functions records).
    const cause = 'c'.repeat(32_768);
    const longest: Stubs = {
      [STATE_NAMES.validate]: () => ({ ...context, storeName: w.repeat(256) }),
      [STATE_NAMES.mint]: () => ({ ...sealed, sealedCredentials: 's'.repeat(8192) }),
      [STATE_NAMES.invoke]: () => ({ ...answer, text: w.repeat(MAX_ANSWER_CHARS) }),
      [STATE_NAMES.publish]: throwing(ErrorName.PublishFailed, cause),
      [STATE_NAMES.record]: throwing(ErrorName.AgentFailed, cause),
      [STATE_NAMES.publishFailure]: () => failurePublished,
    };
    const { execution, history, calls } = await h.run(longest, largest);
    expect(entered(history)).toEqual(PUBLISH_FAILED_PATH);
    expect(calls.filter((c) => c.state === STATE_NAMES.publishFailure)).toHaveLength(1);
    expect(execution).toMatchObject({ status: 'FAILED', error: ErrorName.PublishFailed });
    const sizes = payloads(history);
    const max = Math.max(...sizes.map((p) => p.bytes));
    // Control: the sizes are measured (the answer alone is 24,000 bytes of JSON).
    expect(max).toBeGreaterThan(6 * MAX_ANSWER_CHARS);
    expect(max).toBeLessThan(MAX_PAYLOAD_BYTES / 2);
    console.log(`payload quota: the largest legal ask's largest state on its longest failure path is ${max} bytes of ${MAX_PAYLOAD_BYTES}`);
  });
});
