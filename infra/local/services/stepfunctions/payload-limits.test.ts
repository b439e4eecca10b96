/**
 * Step Functions' payload quota (256 KiB of UTF-8 JSON) on the local stand-in: StartExecution
 * refuses a larger input, and a state whose input (after Parameters), task result or output is
 * larger fails with States.DataLimitExceeded, which States.ALL does not match and its own name does.
 * Every limit is tested at exactly 262,144 bytes (accepted) and one byte over (refused).
 */
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failure } from '../../../../test/aws-failure.ts';
import { Edge } from '../../edge/edge.ts';
import { silentLogger } from '../../edge/log.ts';
import { PolicyEvaluator } from '../../iam/evaluator.ts';
import { LocalIam } from '../../iam/principals.ts';
import { DATA_LIMIT_EXCEEDED, MAX_PAYLOAD_BYTES, overLimit, payloadBytes, taskStateOutput } from './payload-limits.ts';
import { StepFunctionsService, type ExecutionDescription, type HistoryEventView, type InvokeTask, type StepFunctionsOptions } from './service.ts';

const LIMIT = MAX_PAYLOAD_BYTES;
const WORK = 'arn:aws:lambda:us-east-1:000000000000:function:work';
const bytesOf = (value: unknown) => payloadBytes(JSON.stringify(value));

/** `make(n)` with the n for which its JSON is exactly `target` bytes (n pads one ASCII string that appears once). */
function sized<T>(target: number, make: (n: number) => T): T {
  const n = target - bytesOf(make(0));
  if (n < 0) throw new Error('the target is smaller than the empty shape');
  const value = make(n);
  expect(bytesOf(value)).toBe(target);
  return value;
}

describe('measuring', () => {
  it('counts UTF-8 bytes of the JSON text, not characters', () => {
    expect(payloadBytes('"é€😀"')).toBe(2 + 2 + 3 + 4);
    const exact = `"${'é'.repeat((LIMIT - 2) / 2)}"`;
    expect(payloadBytes(exact)).toBe(LIMIT);
    expect(overLimit(exact)).toBe(false);
    expect(overLimit(`${exact} `)).toBe(true);
    // Control: as many characters as the limit, but more bytes.
    expect(exact.length).toBeLessThan(LIMIT);
  });

  it("computes a Task state's output from its raw input and result as ResultPath and OutputPath do", () => {
    const raw = { a: 1, nested: { keep: true } };
    expect(taskStateOutput({}, raw, { r: 2 })).toEqual({ r: 2 });
    expect(taskStateOutput({ ResultPath: '$' }, raw, { r: 2 })).toEqual({ r: 2 });
    expect(taskStateOutput({ ResultPath: null }, raw, { r: 2 })).toEqual(raw);
    expect(taskStateOutput({ ResultPath: '$.nested.result' }, raw, 'x')).toEqual({ a: 1, nested: { keep: true, result: 'x' } });
    expect(taskStateOutput({ ResultPath: '$.r', OutputPath: null }, raw, 'x')).toEqual({});
    // Forms left to the engine (checked as the state exits): undefined, never a guess.
    expect(taskStateOutput({ ResultSelector: { 'v.$': '$' } }, raw, 'x')).toBeUndefined();
    expect(taskStateOutput({ ResultPath: "$['r']" }, raw, 'x')).toBeUndefined();
    expect(taskStateOutput({ ResultPath: '$.r', OutputPath: '$.a' }, raw, 'x')).toBeUndefined();
    expect(taskStateOutput({ ResultPath: '$.r' }, ['not', 'an', 'object'], 'x')).toBeUndefined();
  });
});

describe('StartExecution over the edge', () => {
  const iam = new LocalIam();
  let edge: Edge;
  let svc: StepFunctionsService;
  let sfn: SFNClient;
  beforeAll(async () => {
    const definition = { StartAt: 'Done', States: { Done: { Type: 'Pass', Result: 'ok', End: true } } };
    svc = new StepFunctionsService({
      location: iam.location,
      evaluator: new PolicyEvaluator(),
      logger: silentLogger,
      clock: () => new Date(),
      stateMachines: [{ name: 'assistant', arn: iam.resources.stateMachineArn, definition, type: 'EXPRESS' }],
      invokeTask: () => Promise.reject(new Error('no tasks here')),
    });
    edge = new Edge({ iam, services: { states: svc }, clock: () => new Date(), logger: silentLogger });
    sfn = new SFNClient({ endpoint: await edge.listen(0), region: 'us-east-1', credentials: iam.credentials('operator'), maxAttempts: 1 });
  });
  afterAll(async () => {
    sfn?.destroy();
    await svc?.stop();
    await edge?.close();
  });

  it('starts an execution whose input is exactly 262,144 bytes, and refuses one byte more with ValidationException', async () => {
    // Two-byte characters: the quota counts bytes, not characters.
    const input = sized(LIMIT, (n) => ({ text: 'é'.repeat(1000), pad: 'x'.repeat(n) }));
    const started = await sfn.send(new StartExecutionCommand({ stateMachineArn: iam.resources.stateMachineArn, input: JSON.stringify(input) }));
    expect((await svc.waitForExecution(started.executionArn!)).status).toBe('SUCCEEDED');

    const over = JSON.stringify({ ...input, pad: `${input.pad}x` });
    const refused = await failure(sfn.send(new StartExecutionCommand({ stateMachineArn: iam.resources.stateMachineArn, input: over })));
    expect(refused).toMatchObject({ name: 'ValidationException', status: 400 });
    expect(refused.message).toContain(`${LIMIT}`);
    // The input is sensitive: the message does not quote it.
    expect(refused.message).not.toContain('xxxx');
  });
});

// ---- executions: a stand-in with a permissive caller and a few small state machines ----------

const arnOf = (name: string) => `arn:aws:states:us-east-1:000000000000:stateMachine:${name}`;
const done = (name: string) => ({ [name]: { Type: 'Pass', End: true } });

/** The Work task; `ResultPath: null` keeps its input as its output unless a test says otherwise. */
const work = (extra: Record<string, unknown>) => ({ Type: 'Task', Resource: WORK, ResultPath: null, End: true, ...extra });
const caughtAt = (name: string, errors: string[]) => ({ ErrorEquals: errors, ResultPath: '$.error', Next: name });
/** A catcher naming the error before the wildcard, as states/definition.ts has them. */
const explicitCatch = [caughtAt('CaughtLimit', [DATA_LIMIT_EXCEEDED]), caughtAt('CaughtOther', ['States.ALL'])];

const MACHINES: Record<string, object> = {
  explicit: { StartAt: 'Work', States: { Work: work({ Catch: explicitCatch }), ...done('CaughtLimit'), ...done('CaughtOther') } },
  // Only wildcards: States.TaskFailed and States.ALL.
  wildcard: {
    StartAt: 'Work',
    States: { Work: work({ Catch: [caughtAt('CaughtTask', ['States.TaskFailed']), caughtAt('CaughtAll', ['States.ALL'])] }), ...done('CaughtTask'), ...done('CaughtAll') },
  },
  // The result beside the input: the state's output is larger than either.
  merge: { StartAt: 'Work', States: { Work: work({ ResultPath: '$.work', Catch: explicitCatch }), ...done('CaughtLimit'), ...done('CaughtOther') } },
  // Parameters that copy `a` twice: the task's input is about twice the state's.
  params: {
    StartAt: 'Work',
    States: { Work: work({ Parameters: { 'a.$': '$.a', 'b.$': '$.a', 'c.$': '$.c', 'job.$': '$.job' }, Catch: explicitCatch }), ...done('CaughtLimit'), ...done('CaughtOther') },
  },
  retryAll: { StartAt: 'Work', States: { Work: work({ Retry: [{ ErrorEquals: ['States.ALL'], MaxAttempts: 2 }] }) } },
  retryNamed: { StartAt: 'Work', States: { Work: work({ Retry: [{ ErrorEquals: [DATA_LIMIT_EXCEEDED], MaxAttempts: 1 }] }) } },
  // A Pass state whose output holds `a` twice: checked as it exits (a Pass state has no Catch).
  pass: { StartAt: 'Copy', States: { Copy: { Type: 'Pass', Parameters: { 'a.$': '$.a', 'b.$': '$.b', 'copy.$': '$.a' }, End: true } } },
};

/** What the Work task does, read from its input: a result `{ r }` of `resultBytes` bytes, or an error. */
interface Job {
  resultBytes?: number;
  fail?: { name: string; message: string };
}

function harness() {
  const calls: string[] = [];
  const histories = new Map<string, readonly HistoryEventView[]>();
  const invokeTask: InvokeTask = async (resource, input, meta) => {
    calls.push(meta.executionArn);
    if (resource !== WORK) throw new Error(`unexpected resource ${resource}`);
    const job = (input as { job: Job }).job;
    if (job.fail) throw Object.assign(new Error(job.fail.message), { name: job.fail.name });
    return { r: 'x'.repeat((job.resultBytes ?? 8) - bytesOf({ r: '' })) };
  };
  const evaluator = { authorize: async () => {} } as unknown as StepFunctionsOptions['evaluator'];
  const svc = new StepFunctionsService({
    location: { partition: 'aws', region: 'us-east-1', accountId: '000000000000' },
    evaluator,
    logger: silentLogger,
    clock: () => new Date(),
    stateMachines: Object.entries(MACHINES).map(([name, definition]) => ({ name, arn: arnOf(name), definition, type: 'EXPRESS' as const })),
    invokeTask,
    retryIntervalOverrides: 1,
    onExecutionEnded: (arn, history) => histories.set(arn, history),
  });
  let n = 0;
  async function run(machine: string, input: unknown): Promise<{ execution: ExecutionDescription; history: readonly HistoryEventView[]; calls: number }> {
    const response = await svc.handle({
      principal: { arn: 'arn:aws:iam::000000000000:user/test', ownerArn: 'arn:aws:iam::000000000000:user/test', userId: 'test', identityPolicies: [], tags: {} },
      body: Buffer.from(JSON.stringify({ stateMachineArn: arnOf(machine), name: `run-${++n}`, input: JSON.stringify(input) })),
      headers: {},
      target: 'AWSStepFunctions.StartExecution',
      requestId: `req-${n}`,
      method: 'POST',
      path: '/',
    });
    const { executionArn } = JSON.parse(String(response.body)) as { executionArn: string };
    const execution = await svc.waitForExecution(executionArn);
    return { execution, history: histories.get(executionArn) ?? [], calls: calls.filter((c) => c === executionArn).length };
  }
  return { svc, run };
}

const entered = (history: readonly HistoryEventView[]) =>
  history.filter((e) => e.type.endsWith('StateEntered')).map((e) => (e.stateEnteredEventDetails as { name: string }).name);
const taskOutcomes = (history: readonly HistoryEventView[]) =>
  history
    .filter((e) => e.type === 'LambdaFunctionSucceeded' || e.type === 'LambdaFunctionFailed')
    .map((e) => (e.type === 'LambdaFunctionFailed' ? [e.type, (e.lambdaFunctionFailedEventDetails as { error: string }).error] : [e.type]));
const caughtError = (execution: ExecutionDescription) => (JSON.parse(execution.output ?? '{}') as { error?: { Error: string; Cause: string } }).error;

let h: ReturnType<typeof harness>;
beforeAll(() => {
  h = harness();
});
afterAll(async () => {
  await h?.svc.stop();
});

describe('a task result over the quota', () => {
  it('a result of exactly 262,144 bytes is accepted; one byte more fails the state with States.DataLimitExceeded, which the catcher naming it catches', async () => {
    const atLimit = await h.run('explicit', { job: { resultBytes: LIMIT } });
    expect(atLimit.execution.status).toBe('SUCCEEDED');
    expect(entered(atLimit.history)).toEqual(['Work']);
    expect(taskOutcomes(atLimit.history)).toEqual([['LambdaFunctionSucceeded']]);

    const over = await h.run('explicit', { job: { resultBytes: LIMIT + 1 } });
    expect(over.execution.status).toBe('SUCCEEDED');
    expect(entered(over.history)).toEqual(['Work', 'CaughtLimit']);
    expect(taskOutcomes(over.history)).toEqual([['LambdaFunctionFailed', DATA_LIMIT_EXCEEDED]]);
    expect(caughtError(over.execution)).toEqual({
      Error: DATA_LIMIT_EXCEEDED,
      Cause: `The state/task '${WORK}' returned a result with a size exceeding the maximum number of bytes service limit.`,
    });
  });

  it('States.ALL and States.TaskFailed do not catch it: the execution fails with States.DataLimitExceeded', async () => {
    const over = await h.run('wildcard', { job: { resultBytes: LIMIT + 1 } });
    expect(entered(over.history)).toEqual(['Work']);
    expect(over.execution).toMatchObject({ status: 'FAILED', error: DATA_LIMIT_EXCEEDED });
    expect(over.history.at(-1)).toMatchObject({ type: 'ExecutionFailed', executionFailedEventDetails: { error: DATA_LIMIT_EXCEEDED } });
    // Control: the same catchers catch a task's own error.
    const failing = await h.run('wildcard', { job: { fail: { name: 'Test.Broken', message: 'broken' } } });
    expect(failing.execution.status).toBe('SUCCEEDED');
    expect(entered(failing.history)).toEqual(['Work', 'CaughtTask']);
  });

  it('a States.ALL retrier does not retry it; a retrier naming it does', async () => {
    const all = await h.run('retryAll', { job: { resultBytes: LIMIT + 1 } });
    expect(all.calls).toBe(1);
    expect(all.execution.error).toBe(DATA_LIMIT_EXCEEDED);
    const named = await h.run('retryNamed', { job: { resultBytes: LIMIT + 1 } });
    expect(named.calls).toBe(2);
    expect(named.execution.error).toBe(DATA_LIMIT_EXCEEDED);
    // Control: the States.ALL retrier retries a task's own error.
    const failing = await h.run('retryAll', { job: { fail: { name: 'Test.Broken', message: 'broken' } } });
    expect(failing.calls).toBe(3);
  });
});

describe("a Task state's output over the quota (after ResultPath)", () => {
  /** An input whose state output (the input, with the task's 1,000-byte result at $.work) is `target` bytes. */
  const mergedTo = (target: number) => {
    const job = { resultBytes: 1000 };
    const output = sized(target, (n) => ({ job, tail: 'y'.repeat(n), work: { r: 'x'.repeat(1000 - bytesOf({ r: '' })) } }));
    return { job, tail: output.tail };
  };

  it('an output of exactly 262,144 bytes is accepted; one byte more is caught by the catcher naming States.DataLimitExceeded', async () => {
    const atLimit = await h.run('merge', mergedTo(LIMIT));
    expect(atLimit.execution.status).toBe('SUCCEEDED');
    expect(entered(atLimit.history)).toEqual(['Work']);
    expect(payloadBytes(atLimit.execution.output!)).toBe(LIMIT);

    const over = await h.run('merge', mergedTo(LIMIT + 1));
    expect(entered(over.history)).toEqual(['Work', 'CaughtLimit']);
    // The task itself succeeded; the state failed.
    expect(taskOutcomes(over.history)).toEqual([['LambdaFunctionSucceeded']]);
    expect(caughtError(over.execution)).toEqual({ Error: DATA_LIMIT_EXCEEDED, Cause: "The state 'Work' has an output with a size exceeding the maximum number of bytes service limit." });
  });
});

describe("a Task state's input after Parameters over the quota", () => {
  /** An input whose task input (Parameters: `a` twice, `c` once) is `target` bytes. */
  const paramsTo = (target: number) => {
    const job = { resultBytes: 8 };
    const pad = target - bytesOf({ a: '', b: '', c: '', job });
    const a = 'z'.repeat(Math.floor(pad / 2));
    const input = { a, c: 'z'.repeat(pad - 2 * a.length), job };
    return { input, taskInputBytes: bytesOf({ a, b: a, c: input.c, job }) };
  };

  it('a task input of the limit is invoked; over it, the task is not invoked and the catcher naming the error catches it', async () => {
    const atLimit = paramsTo(LIMIT);
    expect(atLimit.taskInputBytes).toBe(LIMIT);
    const ok = await h.run('params', atLimit.input);
    expect(ok.calls).toBe(1);
    expect(ok.execution.status).toBe('SUCCEEDED');
    expect(entered(ok.history)).toEqual(['Work']);

    const over = paramsTo(LIMIT + 1);
    expect(over.taskInputBytes).toBe(LIMIT + 1);
    const refused = await h.run('params', over.input);
    expect(refused.calls).toBe(0);
    expect(entered(refused.history)).toEqual(['Work', 'CaughtLimit']);
    expect(caughtError(refused.execution)).toMatchObject({ Error: DATA_LIMIT_EXCEEDED, Cause: expect.stringMatching(/^The state 'Work' has an input, after InputPath and Parameters/) });
    // The state's own input was well under the quota: it is the input after Parameters that counts.
    expect(bytesOf(over.input)).toBeLessThan(LIMIT);
  });
});

describe('any state, as it exits', () => {
  it("a Pass state's output of the limit passes; one byte more fails the execution (a Pass state has no Catch)", async () => {
    const a = 'a'.repeat(100_000);
    const at = sized(LIMIT, (n) => ({ a, b: 'b'.repeat(n), copy: a }));
    const ok = await h.run('pass', { a, b: at.b });
    expect(ok.execution.status).toBe('SUCCEEDED');
    expect(payloadBytes(ok.execution.output!)).toBe(LIMIT);

    const over = await h.run('pass', { a, b: `${at.b}b` });
    expect(over.execution).toMatchObject({ status: 'FAILED', error: DATA_LIMIT_EXCEEDED, cause: "The state 'Copy' has an output with a size exceeding the maximum number of bytes service limit." });
  });

  it("a catcher's output (the input with the error) over the quota fails the execution: the error is not caught twice", async () => {
    const fail = { name: 'Test.Broken', message: 'broken' };
    const error = { Error: fail.name, Cause: fail.message };
    const at = sized(LIMIT, (n) => ({ job: { fail }, tail: 't'.repeat(n), error }));
    const ok = await h.run('explicit', { job: at.job, tail: at.tail });
    expect(entered(ok.history)).toEqual(['Work', 'CaughtOther']);
    expect(ok.execution.status).toBe('SUCCEEDED');
    expect(payloadBytes(ok.execution.output!)).toBe(LIMIT);

    const over = await h.run('explicit', { job: at.job, tail: `${at.tail}t` });
    expect(entered(over.history)).toEqual(['Work']);
    expect(over.execution).toMatchObject({ status: 'FAILED', error: DATA_LIMIT_EXCEEDED, cause: "The state 'Work' has an output with a size exceeding the maximum number of bytes service limit." });
  });
});
