/**
 * The local Step Functions behind the edge, driven with @aws-sdk/client-sfn: executions run the
 * ASL with retries and catchers, history reads like AWS's, executions persist across a restart, the
 * caller's policy decides, and an engine failure is never mistaken for a business failure.
 */
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  DescribeExecutionCommand,
  DescribeStateMachineCommand,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
  type HistoryEvent,
} from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failure } from '../../../../test/aws-failure.ts';
import { AwsError } from '../../edge/aws-error.ts';
import { Edge } from '../../edge/edge.ts';
import { PolicyEvaluator } from '../../iam/evaluator.ts';
import { silentLogger } from '../../edge/log.ts';
import { LocalIam, type LocalPrincipalName } from '../../iam/principals.ts';
import { StepFunctionsService, type InvokeTask, type StepFunctionsOptions, type TaskInvocationMeta } from './service.ts';

const WORK = 'arn:aws:states:::lambda:invoke';
const RECORD = 'arn:aws:lambda:us-east-1:000000000000:function:record-failure';
const SLOW = 'arn:aws:lambda:us-east-1:000000000000:function:slow';
const RECOVER = 'arn:aws:lambda:us-east-1:000000000000:function:recover';

/** Pass -> Task (Retry on a transient error, Catch all) -> Task -> Fail. */
const definition = {
  Comment: 'Test workflow',
  StartAt: 'Prepare',
  States: {
    Prepare: { Type: 'Pass', Result: 'prepared', ResultPath: '$.stage', Next: 'Work' },
    Work: {
      Type: 'Task',
      Resource: WORK,
      Parameters: { FunctionName: 'work', 'Payload.$': '$' },
      ResultPath: '$.work',
      Retry: [{ ErrorEquals: ['Test.Transient'], IntervalSeconds: 1, BackoffRate: 2, MaxAttempts: 2 }],
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'RecordFailure' }],
      End: true,
    },
    RecordFailure: { Type: 'Task', Resource: RECORD, ResultPath: '$.recorded', Next: 'Failed' },
    Failed: { Type: 'Fail', Error: 'Test.Failed', Cause: 'the work failed' },
  },
};

interface Job {
  job: string;
  failTimes?: number;
  failWith?: string;
  hold?: boolean;
  throwTypeError?: boolean;
  items?: unknown[];
}

class TestError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

interface Deferred<T = void> {
  promise: Promise<T>;
  resolve: (value: T) => void;
}
function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** A fake `invokeTask`: Work fails `failTimes` times with `failWith`, then succeeds; holds when asked. */
class FakeTasks {
  readonly calls: { resource: string; input: unknown; meta: TaskInvocationMeta }[] = [];
  readonly entered = new Map<string, Deferred>();
  readonly release = new Map<string, Deferred>();
  readonly settled = new Map<string, Deferred>();

  hold(job: string): { entered: Promise<void>; release: () => void; settled: Promise<void> } {
    const entered = deferred();
    const release = deferred();
    const settled = deferred();
    this.entered.set(job, entered);
    this.release.set(job, release);
    this.settled.set(job, settled);
    return { entered: entered.promise, release: () => release.resolve(), settled: settled.promise };
  }

  callsOf(executionArn: string, resource?: string) {
    return this.calls.filter((c) => c.meta.executionArn === executionArn && (!resource || c.resource === resource));
  }

  readonly invoke: InvokeTask = async (resource, input, meta) => {
    this.calls.push({ resource, input, meta });
    if (resource === WORK || resource === SLOW) {
      const job = (resource === WORK ? (input as { Payload: Job }).Payload : (input as Job)) ?? { job: '?' };
      const attempt = this.callsOf(meta.executionArn, resource).length;
      if (job.hold && attempt === 1) {
        this.entered.get(job.job)?.resolve();
        try {
          await this.release.get(job.job)?.promise;
        } finally {
          this.settled.get(job.job)?.resolve();
        }
      }
      if (job.throwTypeError) throw new TypeError('a bug in the task');
      if (attempt <= (job.failTimes ?? 0)) throw new TestError(job.failWith ?? 'Test.Transient', `attempt ${attempt} failed`);
      return { done: job.job, attempts: attempt };
    }
    if (resource === RECORD) return { recorded: true };
    if (resource === RECOVER) return { recovered: true };
    throw new Error(`unexpected resource ${resource}`);
  };
}

interface Harness {
  iam: LocalIam;
  svc: StepFunctionsService;
  tasks: FakeTasks;
  arn: string;
  sfn(who?: LocalPrincipalName): SFNClient;
  close(): Promise<void>;
}

async function harness(
  options: { definition?: object; dataDir?: string; tasks?: FakeTasks; stateMachines?: StepFunctionsOptions['stateMachines']; retry?: StepFunctionsOptions['retryIntervalOverrides'] } = {},
): Promise<Harness> {
  const iam = new LocalIam();
  const tasks = options.tasks ?? new FakeTasks();
  const arn = iam.resources.stateMachineArn;
  const svc = new StepFunctionsService({
    location: iam.location,
    evaluator: new PolicyEvaluator(),
    logger: silentLogger,
    clock: () => new Date(),
    ...(options.dataDir ? { dataDir: options.dataDir } : {}),
    stateMachines: options.stateMachines ?? [{ name: 'assistant', arn, definition: options.definition ?? definition, type: 'EXPRESS' }],
    invokeTask: tasks.invoke,
    retryIntervalOverrides: options.retry ?? 1,
  });
  const edge = new Edge({ iam, services: { states: svc }, clock: () => new Date(), logger: silentLogger });
  const endpoint = await edge.listen(0);
  const clients: SFNClient[] = [];
  return {
    iam,
    svc,
    tasks,
    arn,
    sfn(who = 'operator') {
      const client = new SFNClient({ endpoint, region: 'us-east-1', credentials: iam.credentials(who), maxAttempts: 1 });
      clients.push(client);
      return client;
    },
    async close() {
      await svc.stop();
      await edge.close();
      for (const c of clients) c.destroy();
    },
  };
}

async function start(h: Harness, job: Job, name?: string): Promise<string> {
  const out = await h.sfn().send(new StartExecutionCommand({ stateMachineArn: h.arn, input: JSON.stringify(job), ...(name ? { name } : {}) }));
  expect(out.startDate).toBeInstanceOf(Date);
  return out.executionArn!;
}

async function history(h: Harness, executionArn: string, extra: { reverseOrder?: boolean; includeExecutionData?: boolean; maxResults?: number } = {}) {
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await h.sfn().send(new GetExecutionHistoryCommand({ executionArn, ...extra, ...(nextToken ? { nextToken } : {}) }));
    events.push(...page.events!);
    nextToken = page.nextToken;
  } while (nextToken);
  return events;
}

const types = (events: HistoryEvent[]) => events.map((e) => e.type);
const named = (events: HistoryEvent[], name: string) =>
  events.filter((e) => e.stateEnteredEventDetails?.name === name || e.stateExitedEventDetails?.name === name);

describe('executions over the edge', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('retries a transient task failure and succeeds, with AWS-shaped history', async () => {
    const input = { job: 'retry-ok', failTimes: 2 };
    const arn = await start(h, input);
    expect(arn).toMatch(/^arn:aws:states:us-east-1:000000000000:execution:assistant:[0-9a-f-]{36}$/);
    expect((await h.svc.waitForExecution(arn)).status).toBe('SUCCEEDED');

    const d = await h.sfn().send(new DescribeExecutionCommand({ executionArn: arn }));
    expect(d).toMatchObject({ executionArn: arn, stateMachineArn: h.arn, status: 'SUCCEEDED', input: JSON.stringify(input) });
    expect(d.startDate).toBeInstanceOf(Date);
    expect(d.stopDate).toBeInstanceOf(Date);
    expect(d.error).toBeUndefined();
    expect(JSON.parse(d.output!)).toEqual({ ...input, stage: 'prepared', work: { done: 'retry-ok', attempts: 3 } });
    expect(h.tasks.callsOf(arn, WORK)).toHaveLength(3);

    const events = await history(h, arn);
    expect(types(events)).toEqual([
      'ExecutionStarted',
      'PassStateEntered',
      'PassStateExited',
      'TaskStateEntered',
      'TaskScheduled',
      'TaskStarted',
      'TaskFailed',
      'TaskScheduled',
      'TaskStarted',
      'TaskFailed',
      'TaskScheduled',
      'TaskStarted',
      'TaskSucceeded',
      'TaskStateExited',
      'ExecutionSucceeded',
    ]);
    events.forEach((e, i) => {
      expect(e.id).toBe(i + 1);
      expect(e.previousEventId).toBe(i);
      expect(e.timestamp).toBeInstanceOf(Date);
    });
    expect(events[0]!.executionStartedEventDetails).toMatchObject({ input: JSON.stringify(input), roleArn: expect.stringMatching(/^arn:aws:iam::/) });
    expect(events[1]!.stateEnteredEventDetails).toEqual({ name: 'Prepare', input: JSON.stringify(input), inputDetails: { truncated: false } });
    expect(JSON.parse(events[2]!.stateExitedEventDetails!.output!)).toEqual({ ...input, stage: 'prepared' });
    expect(events[4]!.taskScheduledEventDetails).toMatchObject({ resourceType: 'lambda', resource: 'invoke', region: 'us-east-1' });
    expect(JSON.parse(events[4]!.taskScheduledEventDetails!.parameters!)).toEqual({ FunctionName: 'work', Payload: { ...input, stage: 'prepared' } });
    expect(events[5]!.taskStartedEventDetails).toEqual({ resourceType: 'lambda', resource: 'invoke' });
    expect(events[6]!.taskFailedEventDetails).toEqual({ resourceType: 'lambda', resource: 'invoke', error: 'Test.Transient', cause: 'attempt 1 failed' });
    expect(events[9]!.taskFailedEventDetails).toMatchObject({ error: 'Test.Transient', cause: 'attempt 2 failed' });
    expect(JSON.parse(events[12]!.taskSucceededEventDetails!.output!)).toEqual({ done: 'retry-ok', attempts: 3 });
    expect(events[13]!.stateExitedEventDetails!.name).toBe('Work');
    expect(JSON.parse(events[14]!.executionSucceededEventDetails!.output!)).toEqual(JSON.parse(d.output!));
  });

  it('catches a failure once retries are exhausted, runs the failure path, and fails the execution', async () => {
    const arn = await start(h, { job: 'retry-exhausted', failTimes: 5 });
    const done = await h.svc.waitForExecution(arn);
    expect(done).toMatchObject({ status: 'FAILED', error: 'Test.Failed', cause: 'the work failed' });
    expect(h.tasks.callsOf(arn, WORK)).toHaveLength(3); // the first attempt and MaxAttempts 2 retries
    expect(h.tasks.callsOf(arn, RECORD)).toHaveLength(1);

    const events = await history(h, arn);
    expect(types(events).slice(3)).toEqual([
      'TaskStateEntered',
      ...['TaskScheduled', 'TaskStarted', 'TaskFailed'],
      ...['TaskScheduled', 'TaskStarted', 'TaskFailed'],
      ...['TaskScheduled', 'TaskStarted', 'TaskFailed'],
      'TaskStateExited',
      'TaskStateEntered',
      'LambdaFunctionScheduled',
      'LambdaFunctionStarted',
      'LambdaFunctionSucceeded',
      'TaskStateExited',
      'FailStateEntered',
      'ExecutionFailed',
    ]);
    const caughtOutput = JSON.parse(named(events, 'Work').at(-1)!.stateExitedEventDetails!.output!);
    expect(caughtOutput.failure).toEqual({ Error: 'Test.Transient', Cause: 'attempt 3 failed' });
    const scheduled = events.find((e) => e.type === 'LambdaFunctionScheduled')!;
    expect(scheduled.lambdaFunctionScheduledEventDetails).toMatchObject({ resource: RECORD });
    expect(JSON.parse(scheduled.lambdaFunctionScheduledEventDetails!.input!).failure.Error).toBe('Test.Transient');
    expect(events.at(-1)!.executionFailedEventDetails).toEqual({ error: 'Test.Failed', cause: 'the work failed' });

    const d = await h.sfn().send(new DescribeExecutionCommand({ executionArn: arn }));
    expect(d).toMatchObject({ status: 'FAILED', error: 'Test.Failed', cause: 'the work failed' });
    expect(d.output).toBeUndefined();
  });

  it('does not retry an error the Retry does not name: it goes to the Catch at once', async () => {
    const arn = await start(h, { job: 'permanent', failTimes: 1, failWith: 'Test.Permanent' });
    expect((await h.svc.waitForExecution(arn)).error).toBe('Test.Failed');
    const failed = (await history(h, arn)).filter((e) => e.type === 'TaskFailed');
    expect(failed.map((e) => e.taskFailedEventDetails!.error)).toEqual(['Test.Permanent']);
  });

  it('pages history, in either order, with or without execution data', async () => {
    const arn = await start(h, { job: 'paged', failTimes: 1 });
    await h.svc.waitForExecution(arn);
    const all = await history(h, arn);
    expect(all.length).toBeGreaterThan(5);

    const first = await h.sfn().send(new GetExecutionHistoryCommand({ executionArn: arn, maxResults: 4 }));
    expect(first.events!.map((e) => e.id)).toEqual([1, 2, 3, 4]);
    expect(first.nextToken).toBeTruthy();
    expect(await history(h, arn, { maxResults: 4 })).toEqual(all);
    expect(await history(h, arn, { maxResults: 3, reverseOrder: true })).toEqual([...all].reverse());

    const bare = await history(h, arn, { includeExecutionData: false });
    expect(types(bare)).toEqual(types(all));
    expect(bare[0]!.executionStartedEventDetails).toEqual({ roleArn: all[0]!.executionStartedEventDetails!.roleArn });
    expect(bare[1]!.stateEnteredEventDetails).toEqual({ name: 'Prepare' });
    expect(bare.find((e) => e.type === 'TaskScheduled')!.taskScheduledEventDetails).toEqual({ resourceType: 'lambda', resource: 'invoke', region: 'us-east-1' });
    expect(JSON.stringify(bare)).not.toContain('"paged"');

    // A token belongs to its request.
    const wrongOrder = await failure(h.sfn().send(new GetExecutionHistoryCommand({ executionArn: arn, maxResults: 4, reverseOrder: true, nextToken: first.nextToken })));
    expect(wrongOrder.name).toBe('InvalidToken');
    expect((await failure(h.sfn().send(new GetExecutionHistoryCommand({ executionArn: arn, nextToken: 'garbage' })))).name).toBe('InvalidToken');
  });

  it('stops a running execution: ABORTED, no further state runs, and a late task result changes nothing', async () => {
    const held = h.tasks.hold('stop-me');
    const arn = await start(h, { job: 'stop-me', hold: true, failTimes: 9 });
    await held.entered;
    expect((await h.sfn().send(new DescribeExecutionCommand({ executionArn: arn }))).status).toBe('RUNNING');

    const stopped = await h.sfn().send(new StopExecutionCommand({ executionArn: arn, error: 'Operator.Stopped', cause: 'testing stop' }));
    expect(stopped.stopDate).toBeInstanceOf(Date);
    const [call] = h.tasks.callsOf(arn, WORK);
    expect(call!.meta.signal.aborted).toBe(true);
    const d = await h.sfn().send(new DescribeExecutionCommand({ executionArn: arn }));
    expect(d).toMatchObject({ status: 'ABORTED', error: 'Operator.Stopped', cause: 'testing stop' });
    expect(d.stopDate!.getTime()).toBe(stopped.stopDate!.getTime());

    const before = await history(h, arn);
    expect(types(before).slice(-2)).toEqual(['TaskStateAborted', 'ExecutionAborted']);
    expect(before.at(-1)!.executionAbortedEventDetails).toEqual({ error: 'Operator.Stopped', cause: 'testing stop' });

    // The held task now fails (failTimes 9): without the stop this would be retried and caught.
    held.release();
    await held.settled;
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(h.tasks.callsOf(arn)).toHaveLength(1);
    expect(await history(h, arn)).toEqual(before);
    expect((await h.svc.waitForExecution(arn)).status).toBe('ABORTED');

    // Stopping it again changes nothing.
    const again = await h.sfn().send(new StopExecutionCommand({ executionArn: arn, error: 'Other' }));
    expect(again.stopDate!.getTime()).toBe(stopped.stopDate!.getTime());
    expect((await h.sfn().send(new DescribeExecutionCommand({ executionArn: arn }))).error).toBe('Operator.Stopped');
  });

  it('validates names, inputs and ARNs, and reports unknown executions', async () => {
    const sfn = h.sfn();
    const bad = await failure(sfn.send(new StartExecutionCommand({ stateMachineArn: h.arn, input: '{"not json' })));
    expect(bad).toMatchObject({ name: 'InvalidExecutionInput', status: 400 });
    expect(bad.message).not.toContain('not json');

    const held = h.tasks.hold('named');
    const input = JSON.stringify({ job: 'named', hold: true });
    const arn = (await sfn.send(new StartExecutionCommand({ stateMachineArn: h.arn, name: 'named-run', input }))).executionArn!;
    expect(arn).toBe(`${h.arn.replace(':stateMachine:', ':execution:')}:named-run`);
    await held.entered;
    // The same name and input while it runs is the same request (idempotent); another input is a conflict.
    expect((await sfn.send(new StartExecutionCommand({ stateMachineArn: h.arn, name: 'named-run', input }))).executionArn).toBe(arn);
    const conflict = await failure(sfn.send(new StartExecutionCommand({ stateMachineArn: h.arn, name: 'named-run', input: '{}' })));
    expect(conflict.name).toBe('ExecutionAlreadyExists');
    held.release();
    expect((await h.svc.waitForExecution(arn)).status).toBe('SUCCEEDED');
    expect(h.tasks.callsOf(arn, WORK)).toHaveLength(1);
    expect((await failure(sfn.send(new StartExecutionCommand({ stateMachineArn: h.arn, name: 'named-run', input })))).name).toBe('ExecutionAlreadyExists');

    expect((await failure(sfn.send(new StartExecutionCommand({ stateMachineArn: h.arn, name: 'has space' })))).name).toBe('InvalidName');
    expect((await failure(sfn.send(new StartExecutionCommand({ stateMachineArn: 'not-an-arn' })))).name).toBe('InvalidArn');

    const missing = `${h.arn.replace(':stateMachine:', ':execution:')}:no-such-run`;
    for (const call of [
      sfn.send(new DescribeExecutionCommand({ executionArn: missing })),
      sfn.send(new GetExecutionHistoryCommand({ executionArn: missing })),
      sfn.send(new StopExecutionCommand({ executionArn: missing })),
    ]) {
      expect(await failure(call)).toMatchObject({ name: 'ExecutionDoesNotExist', status: 400 });
    }
    await expect(h.svc.waitForExecution(missing)).rejects.toMatchObject({ code: 'ExecutionDoesNotExist' });
  });

  it('authorises with the caller policy: a task role may not start or inspect executions', async () => {
    const arn = await start(h, { job: 'authz' }); // control: the operator may
    await h.svc.waitForExecution(arn);
    const denied = await failure(h.sfn('validate-context').send(new StartExecutionCommand({ stateMachineArn: h.arn })));
    expect(denied).toMatchObject({ name: 'AccessDeniedException', status: 400 });
    expect(denied.message).toContain(`is not authorized to perform: states:StartExecution on resource: ${h.arn}`);
    expect((await failure(h.sfn('validate-context').send(new DescribeExecutionCommand({ executionArn: arn })))).name).toBe('AccessDeniedException');
    expect((await failure(h.sfn('validate-context').send(new ListExecutionsCommand({ stateMachineArn: h.arn })))).name).toBe('AccessDeniedException');
    expect((await h.sfn().send(new DescribeExecutionCommand({ executionArn: arn }))).status).toBe('SUCCEEDED');
  });

  it('describes the state machine', async () => {
    const sm = await h.sfn().send(new DescribeStateMachineCommand({ stateMachineArn: h.arn }));
    expect(sm).toMatchObject({ stateMachineArn: h.arn, name: 'assistant', status: 'ACTIVE', type: 'EXPRESS' });
    expect(JSON.parse(sm.definition!)).toEqual(definition);
    expect(sm.creationDate).toBeInstanceOf(Date);
  });
});

describe('ListExecutions', () => {
  let h: Harness;
  const started: string[] = [];
  beforeAll(async () => {
    h = await harness();
    for (const [i, failTimes] of [0, 5, 0, 5, 0].entries()) {
      const arn = await start(h, { job: `list-${i}`, failTimes });
      await h.svc.waitForExecution(arn);
      started.push(arn);
    }
  });
  afterAll(async () => {
    await h?.close();
  });

  it('lists newest first, filters by status, and pages with a token', async () => {
    const sfn = h.sfn();
    const all = await sfn.send(new ListExecutionsCommand({ stateMachineArn: h.arn }));
    expect(all.executions!.map((e) => e.executionArn)).toEqual([...started].reverse());
    expect(all.nextToken).toBeUndefined();
    expect(all.executions![0]).toMatchObject({ stateMachineArn: h.arn, status: 'SUCCEEDED', name: started[4]!.split(':').at(-1) });
    expect(all.executions![0]!.startDate).toBeInstanceOf(Date);
    expect(all.executions![0]!.stopDate).toBeInstanceOf(Date);

    const failed = await sfn.send(new ListExecutionsCommand({ stateMachineArn: h.arn, statusFilter: 'FAILED' }));
    expect(failed.executions!.map((e) => e.executionArn)).toEqual([started[3], started[1]]);

    const paged: string[] = [];
    let nextToken: string | undefined;
    let pages = 0;
    do {
      const page = await sfn.send(new ListExecutionsCommand({ stateMachineArn: h.arn, maxResults: 2, ...(nextToken ? { nextToken } : {}) }));
      paged.push(...page.executions!.map((e) => e.executionArn!));
      nextToken = page.nextToken;
      pages++;
    } while (nextToken);
    expect(pages).toBe(3);
    expect(paged).toEqual([...started].reverse());

    // A new execution does not shift the pages of a listing in progress.
    const page1 = await sfn.send(new ListExecutionsCommand({ stateMachineArn: h.arn, maxResults: 2 }));
    await h.svc.waitForExecution(await start(h, { job: 'list-late' }));
    const page2 = await sfn.send(new ListExecutionsCommand({ stateMachineArn: h.arn, maxResults: 2, nextToken: page1.nextToken }));
    expect(page2.executions!.map((e) => e.executionArn)).toEqual([started[2], started[1]]);

    const mismatch = await failure(sfn.send(new ListExecutionsCommand({ stateMachineArn: h.arn, statusFilter: 'FAILED', nextToken: page1.nextToken })));
    expect(mismatch.name).toBe('InvalidToken');
  });
});

describe('operations outside the API and unknown state machines', () => {
  it('answers UnknownOperationException and StateMachineDoesNotExist', async () => {
    const h = await harness({ stateMachines: [] });
    try {
      const principal = h.iam.resolve(h.iam.credentials('operator').accessKeyId, undefined, new Date()).principal;
      const call = (op: string, body: object) =>
        h.svc.handle({ principal, body: Buffer.from(JSON.stringify(body)), headers: {}, target: `AWSStepFunctions.${op}`, requestId: 'r', method: 'POST', path: '/' });
      await expect(call('CreateStateMachine', {})).rejects.toMatchObject({ code: 'UnknownOperationException' });
      // The operator may start executions of `assistant`, which this service does not have.
      const missing = await failure(h.sfn().send(new StartExecutionCommand({ stateMachineArn: h.arn })));
      expect(missing).toMatchObject({ name: 'StateMachineDoesNotExist', status: 400 });
      const err = await call('StartExecution', { stateMachineArn: h.arn }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AwsError);
    } finally {
      await h.close();
    }
  });
});

const STOPPED_IN_WORK = 'the local stack stopped while this run was in state Work (its task had started and had not returned: anything the task sent before the stop may have been delivered)';

describe('persistence', () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'sfn-test-'));
  });
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('keeps executions and their history across a restart, and marks interrupted ones ABORTED', async () => {
    const first = await harness({ dataDir });
    const held = first.tasks.hold('interrupted');
    let second: Harness | undefined;
    try {
      const done = await start(first, { job: 'persisted', failTimes: 1 });
      expect((await first.svc.waitForExecution(done)).status).toBe('SUCCEEDED');
      const doneHistory = await history(first, done);
      const running = await start(first, { job: 'interrupted', hold: true });
      await held.entered;
      // The RUNNING record is on disk, as it would be before a crash.
      await first.svc.flush();

      const dir = path.join(dataDir, 'executions');
      const files = (await readdir(dir)).filter((f) => f.endsWith('.json'));
      expect(files).toHaveLength(2);
      for (const f of files) expect((await stat(path.join(dir, f))).mode & 0o777).toBe(0o600);
      const onDisk = await Promise.all(files.map(async (f) => JSON.parse(await readFile(path.join(dir, f), 'utf8')) as { status: string }));
      expect(onDisk.map((r) => r.status).sort()).toEqual(['RUNNING', 'SUCCEEDED']);

      // A new service on the same directory, as after the process stopped with `running` in flight.
      second = await harness({ dataDir, tasks: first.tasks });
      const sfn = second.sfn();
      const d = await sfn.send(new DescribeExecutionCommand({ executionArn: done }));
      expect(d).toMatchObject({ status: 'SUCCEEDED', input: JSON.stringify({ job: 'persisted', failTimes: 1 }) });
      expect(JSON.parse(d.output!).work).toEqual({ done: 'persisted', attempts: 2 });
      expect(await history(second, done)).toEqual(doneHistory);

      const interrupted = await sfn.send(new DescribeExecutionCommand({ executionArn: running }));
      // The cause names the state the run was in, and that its task had not returned.
      expect(interrupted).toMatchObject({ status: 'ABORTED', error: 'States.Runtime', cause: STOPPED_IN_WORK });
      expect(interrupted.stopDate).toBeInstanceOf(Date);
      const interruptedHistory = await history(second, running);
      expect(types(interruptedHistory).slice(0, 2)).toEqual(['ExecutionStarted', 'PassStateEntered']);
      expect(interruptedHistory.at(-1)).toMatchObject({
        type: 'ExecutionAborted',
        executionAbortedEventDetails: { error: 'States.Runtime', cause: STOPPED_IN_WORK },
      });
      expect(await second.svc.waitForExecution(running)).toMatchObject({ status: 'ABORTED' });

      // New executions list before the loaded ones.
      const later = await start(second, { job: 'after-restart' });
      await second.svc.waitForExecution(later);
      const listed = await sfn.send(new ListExecutionsCommand({ stateMachineArn: second.arn }));
      expect(listed.executions!.map((e) => e.executionArn)).toEqual([later, running, done]);
    } finally {
      const stopping = first.close();
      held.release();
      await stopping;
      await second?.close();
    }
  });

  it('stop() aborts running executions with the cause a restart records', async () => {
    const h = await harness({ dataDir });
    const held = h.tasks.hold('at-stop');
    const arn = await start(h, { job: 'at-stop', hold: true });
    await held.entered;
    const stopping = h.close();
    held.release();
    await stopping;
    expect(await h.svc.waitForExecution(arn)).toMatchObject({ status: 'ABORTED', error: 'States.Runtime', cause: STOPPED_IN_WORK });
    const again = await harness({ dataDir });
    try {
      const d = await again.sfn().send(new DescribeExecutionCommand({ executionArn: arn }));
      expect(d).toMatchObject({ status: 'ABORTED', cause: STOPPED_IN_WORK });
      expect(types(await history(again, arn)).filter((t) => t === 'ExecutionAborted')).toHaveLength(1);
    } finally {
      await again.close();
    }
  });
});

describe('task timeouts', () => {
  it('records TaskTimedOut, retries States.Timeout, and ignores the late result of the timed-out call', async () => {
    const h = await harness({
      retry: { Slow: 1 },
      definition: {
        StartAt: 'Slow',
        States: { Slow: { Type: 'Task', Resource: SLOW, TimeoutSeconds: 1, Retry: [{ ErrorEquals: ['States.Timeout'], MaxAttempts: 1 }], End: true } },
      },
    });
    const held = h.tasks.hold('slow');
    try {
      const arn = await start(h, { job: 'slow', hold: true });
      expect(await h.svc.waitForExecution(arn)).toMatchObject({ status: 'SUCCEEDED', output: JSON.stringify({ done: 'slow', attempts: 2 }) });
      held.release();
      await held.settled;
      await new Promise((resolve) => setTimeout(resolve, 20));
      const events = await history(h, arn);
      expect(types(events)).toEqual([
        'ExecutionStarted',
        'TaskStateEntered',
        'LambdaFunctionScheduled',
        'LambdaFunctionStarted',
        'LambdaFunctionTimedOut',
        'LambdaFunctionScheduled',
        'LambdaFunctionStarted',
        'LambdaFunctionSucceeded',
        'TaskStateExited',
        'ExecutionSucceeded',
      ]);
      // As AWS records it (LocalStack's AWS-validated snapshot of test_fixed_timeout_lambda): the error, no cause.
      expect(events[4]!.lambdaFunctionTimedOutEventDetails).toEqual({ error: 'States.Timeout' });
      expect(events[2]!.lambdaFunctionScheduledEventDetails).toMatchObject({ resource: SLOW, timeoutInSeconds: 1 });
    } finally {
      held.release();
      await h.close();
    }
  });
});

describe('engine failures are not business failures', () => {
  /** A Task whose Catch takes every error to a recovery state (the path an engine error must not take). */
  const guarded = {
    StartAt: 'Call',
    States: {
      Call: {
        Type: 'Task',
        Resource: WORK,
        Parameters: { FunctionName: 'work', 'Payload.$': '$' },
        TimeoutSeconds: 30,
        Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Recovered' }],
        End: true,
      },
      Recovered: { Type: 'Pass', Result: { recovered: true }, End: true },
    },
  };
  let h: Harness;
  beforeAll(async () => {
    h = await harness({ definition: guarded });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('the polyfill is in place', () => {
    const withResolvers = (Promise as unknown as { withResolvers: <T>() => { promise: Promise<T>; resolve: (v: T) => void } }).withResolvers;
    expect(typeof withResolvers).toBe('function');
    const { promise, resolve } = withResolvers.call(Promise) as { promise: Promise<number>; resolve: (v: number) => void };
    resolve(42);
    return expect(promise).resolves.toBe(42);
  });

  it('the polyfill follows the specification', async () => {
    const desc = Object.getOwnPropertyDescriptor(Promise, 'withResolvers')!;
    expect(desc).toMatchObject({ writable: true, enumerable: false, configurable: true });
    const fn = desc.value as (this: unknown) => { promise: Promise<unknown>; resolve: (v: unknown) => void; reject: (e: unknown) => void };
    expect(fn.length).toBe(0);
    expect(fn.name).toBe('withResolvers');
    expect(() => fn.call(undefined)).toThrow(TypeError);
    expect(() => fn.call({})).toThrow(TypeError);
    const r = fn.call(Promise);
    expect(Object.keys(r)).toEqual(['promise', 'resolve', 'reject']);
    r.reject(new Error('no'));
    await expect(r.promise).rejects.toThrow('no');
    class Sub<T> extends Promise<T> {}
    expect(fn.call(Sub).promise).toBeInstanceOf(Sub);
  });

  it('control: with the polyfill the execution succeeds and never enters the Catch path', async () => {
    const arn = await start(h, { job: 'control' });
    expect(await h.svc.waitForExecution(arn)).toMatchObject({ status: 'SUCCEEDED', output: JSON.stringify({ done: 'control', attempts: 1 }) });
    expect(named(await history(h, arn), 'Recovered')).toHaveLength(0);
  });

  it('control: an error thrown by a task, even a TypeError, is a task failure that the Catch handles', async () => {
    const arn = await start(h, { job: 'task-bug', throwTypeError: true });
    expect(await h.svc.waitForExecution(arn)).toMatchObject({ status: 'SUCCEEDED', output: JSON.stringify({ recovered: true }) });
    const events = await history(h, arn);
    expect(events.find((e) => e.type === 'TaskFailed')!.taskFailedEventDetails).toMatchObject({ error: 'TypeError', cause: 'a bug in the task' });
    expect(named(events, 'Recovered').map((e) => e.type)).toEqual(['PassStateEntered', 'PassStateExited']);
  });

  it('without Promise.withResolvers the engine fails, and the execution FAILS with States.Runtime instead of being caught', async () => {
    const saved = Object.getOwnPropertyDescriptor(Promise, 'withResolvers')!;
    let arn: string;
    try {
      delete (Promise as unknown as { withResolvers?: unknown }).withResolvers;
      expect((Promise as unknown as { withResolvers?: unknown }).withResolvers).toBeUndefined();
      arn = await start(h, { job: 'engine-broken' });
      await h.svc.waitForExecution(arn);
    } finally {
      Object.defineProperty(Promise, 'withResolvers', saved);
    }
    const d = await h.sfn().send(new DescribeExecutionCommand({ executionArn: arn }));
    // Without the guard the engine's TypeError is caught by States.ALL and the run "succeeds" in Recovered.
    expect(d.status).toBe('FAILED');
    expect(d.error).toBe('States.Runtime');
    expect(d.cause).toContain("state 'Call'");
    expect(d.cause).toContain('Promise.withResolvers');
    expect(d.output).toBeUndefined();
    const events = await history(h, arn);
    expect(named(events, 'Recovered')).toHaveLength(0);
    expect(events.filter((e) => e.type === 'TaskFailed')).toHaveLength(0);
    expect(events.at(-1)).toMatchObject({ type: 'ExecutionFailed', executionFailedEventDetails: { error: 'States.Runtime' } });
  });
});

describe('nested states (Parallel branches, Map iterations)', () => {
  /** A Parallel state: one branch catches every error of its Task, the other maps a Task over items. */
  const nested = {
    StartAt: 'Fan',
    States: {
      Fan: {
        Type: 'Parallel',
        End: true,
        Branches: [
          {
            StartAt: 'A',
            States: {
              A: {
                Type: 'Task',
                Resource: WORK,
                Parameters: { FunctionName: 'a', 'Payload.$': '$' },
                Catch: [{ ErrorEquals: ['States.ALL'], Next: 'ARecovered' }],
                End: true,
              },
              ARecovered: { Type: 'Task', Resource: RECOVER, End: true },
            },
          },
          {
            StartAt: 'Each',
            States: {
              Each: { Type: 'Map', ItemsPath: '$.items', Iterator: { StartAt: 'B', States: { B: { Type: 'Task', Resource: RECORD, End: true } } }, End: true },
            },
          },
        ],
      },
    },
  };
  let h: Harness;
  beforeAll(async () => {
    h = await harness({ definition: nested });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('runs the tasks of branches and iterations through invokeTask and records their states', async () => {
    const arn = await start(h, { job: 'nested', items: [1, 2] });
    const done = await h.svc.waitForExecution(arn);
    expect(done.status).toBe('SUCCEEDED');
    expect(JSON.parse(done.output!)).toEqual([{ done: 'nested', attempts: 1 }, [{ recorded: true }, { recorded: true }]]);
    expect(h.tasks.callsOf(arn, RECORD).map((c) => c.input)).toEqual([1, 2]);

    const t = types(await history(h, arn));
    expect(t.slice(0, 3)).toEqual(['ExecutionStarted', 'ParallelStateEntered', 'ParallelStateStarted']);
    expect(t.slice(-3)).toEqual(['ParallelStateSucceeded', 'ParallelStateExited', 'ExecutionSucceeded']);
    const map = t.filter((x) => x?.startsWith('MapState'));
    expect(map).toEqual(['MapStateEntered', 'MapStateStarted', 'MapStateSucceeded', 'MapStateExited']);
    expect(t.filter((x) => x === 'TaskStateEntered')).toHaveLength(3);
    expect(t.filter((x) => x === 'LambdaFunctionSucceeded')).toHaveLength(2);
    expect(t.filter((x) => x === 'TaskSucceeded')).toHaveLength(1);
  });

  it('an engine failure inside a branch is not caught by the branch Catch either', async () => {
    const saved = Object.getOwnPropertyDescriptor(Promise, 'withResolvers')!;
    let arn: string;
    try {
      delete (Promise as unknown as { withResolvers?: unknown }).withResolvers;
      arn = await start(h, { job: 'nested-broken', items: [1] });
      await h.svc.waitForExecution(arn);
    } finally {
      Object.defineProperty(Promise, 'withResolvers', saved);
    }
    const d = await h.sfn().send(new DescribeExecutionCommand({ executionArn: arn }));
    expect(d).toMatchObject({ status: 'FAILED', error: 'States.Runtime' });
    expect(h.tasks.callsOf(arn, RECOVER)).toHaveLength(0);
    const events = await history(h, arn);
    expect(named(events, 'ARecovered')).toHaveLength(0);
    expect(types(events)).toContain('ParallelStateFailed');
  });
});
