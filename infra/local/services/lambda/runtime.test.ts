/**
 * The local Lambda sandbox: the task functions run in a worker thread of their own, their errors
 * keep their names across the boundary (Retry and Catch match them), their log lines reach the
 * stack's logger, and a sandbox that dies fails only the invocations in flight, with a transient
 * error the state machine retries, after which a fresh sandbox serves.
 */
import { randomUUID } from 'node:crypto';
import { threadId } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { historyOf, recordEvents, run, workflowInput } from '../../../../test/workflow-helpers.ts';
import { ErrorName } from '../../../../tasks/errors.ts';
import type { AnswerEventRecord } from '../appsync/graphql.ts';
import { localFunctionArn, runsInSandbox } from './functions.ts';
import { FunctionError } from './invocation.ts';
import { MAX_REQUEST_BYTES, REQUEST_TOO_LARGE } from './payload-limits.ts';
import type { Logger } from '../../edge/log.ts';
import { startLocalStack, type LocalStack } from '../../stack.ts';

const lines: { level: string; msg: string; fields: Record<string, unknown> }[] = [];
const logger: Logger = { log: (level, msg, fields = {}) => lines.push({ level, msg, fields }) };

let stack: LocalStack;
let events: AnswerEventRecord[];

beforeAll(async () => {
  // record-failure has an (empty) override: it runs in this thread, the other functions in the sandbox.
  stack = await startLocalStack({ port: 0, logger, seedOrdersPerUser: 0, retryIntervalOverrides: 0, taskOverrides: { 'record-failure': {} } });
  events = recordEvents(stack);
});

afterAll(async () => {
  await stack?.stop();
});

/** validate-context, called as the state machine calls it: the state, and an execution id to claim the answerId with. */
const validate = () => {
  const fn = stack.functions.get(localFunctionArn(stack.iam, 'validate-context'))!;
  return (state: unknown) => fn({ input: state, executionArn: `${stack.iam.resources.stateMachineArn.replace(':stateMachine:', ':execution:')}:${randomUUID()}` });
};

describe('the local Lambda sandbox', () => {
  it('runs the task functions in a worker thread, apart from the stand-ins', async () => {
    const result = (await validate()(workflowInput(stack, 'tenant1-user', "What's your return policy?"))) as { sessionId: string };
    expect(result.sessionId).toMatch(/\S/);
    const sandboxThread = stack.lambdaRuntime?.threadId;
    expect(sandboxThread).toBeGreaterThan(0);
    expect(sandboxThread).not.toBe(threadId);
  });

  it("keeps a function's error name and message across the boundary", async () => {
    const input = workflowInput(stack, 'tenant1-user', 'hello', { answerId: 'someone-else.1' });
    const err = (await validate()(input).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe(ErrorName.InvalidRequest);
    expect(err.message).toMatch(/answerId/);
  });

  it("holds the stack's functions to Lambda's request quota: an event over 6 MB is refused before the function runs", async () => {
    lines.length = 0;
    const err = (await validate()({ pad: 'x'.repeat(MAX_REQUEST_BYTES) }).catch((e: unknown) => e)) as Error;
    expect(err.name).toBe(REQUEST_TOO_LARGE);
    // The function never ran: it logged nothing (control: the next test's call logs).
    expect(lines.filter((l) => l.msg.startsWith('task.'))).toEqual([]);
  });

  it("reports a thrown error as Lambda's Node.js runtime does: errorType, errorMessage, trace, in the sandbox and in this thread alike", async () => {
    const arn = (task: 'validate-context' | 'record-failure') => localFunctionArn(stack.iam, task);
    expect([runsInSandbox('validate-context', undefined, { 'record-failure': {} }), runsInSandbox('record-failure', undefined, { 'record-failure': {} })]).toEqual([true, false]);
    const sandboxed = (await validate()(workflowInput(stack, 'tenant1-user', 'hello', { answerId: 'someone-else.1' })).catch((e: unknown) => e)) as FunctionError;
    const inThread = (await stack.functions.get(arn('record-failure'))!({ state: {} }).catch((e: unknown) => e)) as FunctionError;
    for (const err of [sandboxed, inThread]) {
      expect(err).toBeInstanceOf(FunctionError);
      expect(err.functionError).toBe('Unhandled');
      expect(Object.keys(err.payload)).toEqual(['errorType', 'errorMessage', 'trace']);
      const { errorType, errorMessage, trace } = err.payload;
      expect([err.name, err.message]).toEqual([errorType, errorMessage]);
      expect(trace![0]).toBe(`${errorType}: ${errorMessage.split('\n')[0]}`);
      expect(trace!.some((line) => /^\s+at /.test(line))).toBe(true);
    }
    expect(sandboxed.payload).toMatchObject({ errorType: ErrorName.InvalidRequest, errorMessage: expect.stringMatching(/answerId/) });
    expect(inThread.payload.errorType).not.toBe(ErrorName.InvalidRequest);
  });

  it('forwards the functions’ structured log lines, naming the function', async () => {
    lines.length = 0;
    await validate()(workflowInput(stack, 'tenant2-user', "What's your return policy?"));
    const line = lines.find((l) => l.msg === 'task.succeeded');
    expect(line?.fields).toMatchObject({ task: 'validate-context', functionArn: localFunctionArn(stack.iam, 'validate-context') });
  });

  it('fails the invocations in flight when the sandbox dies, then serves from a fresh one', async () => {
    const before = stack.lambdaRuntime!.threadId;
    const inFlight = validate()(workflowInput(stack, 'tenant1-user', "What's your return policy?")).catch((e: unknown) => e);
    await stack.lambdaRuntime!.recycle();
    const err = (await inFlight) as Error;
    expect(err.name).toBe('Lambda.ServiceException');
    expect(lines.some((l) => l.msg === 'lambda.sandbox.failed' && l.level === 'warn')).toBe(true);

    const again = (await validate()(workflowInput(stack, 'tenant1-user', "What's your return policy?"))) as { sessionId: string };
    expect(again.sessionId).toMatch(/\S/);
    expect(stack.lambdaRuntime!.threadId).not.toBe(before);
  });

  it('an execution whose sandbox dies mid-task is retried by the state machine and answers', async () => {
    // The sandbox dies while InvokeAgent waits for the agent: the first attempt fails with
    // Lambda.ServiceException, the definition's Retry runs the task again in a fresh sandbox.
    const bedrock = stack.bedrock;
    const original = bedrock.handle.bind(bedrock);
    let recycled = false;
    bedrock.handle = async (call) => {
      if (!recycled) {
        recycled = true;
        await stack.lambdaRuntime!.recycle();
      }
      return original(call);
    };
    try {
      const asked = await run(stack, events, workflowInput(stack, 'tenant2-user', "What's your return policy?"));
      expect(recycled).toBe(true);
      expect(asked.status).toBe('SUCCEEDED');
      expect(asked.events.map((e) => e.status).at(-1)).toBe('DONE');
      expect(asked.events.at(-1)?.text).toContain('20 days');
      const failures = (await historyOf(stack, asked.executionArn)).filter((e) => e.type === 'LambdaFunctionFailed');
      expect(failures.map((e) => e.lambdaFunctionFailedEventDetails?.error)).toEqual(['Lambda.ServiceException']);
    } finally {
      bedrock.handle = original;
    }
  });

  it('control: without a dying sandbox the same question has no failed task', async () => {
    const asked = await run(stack, events, workflowInput(stack, 'tenant2-user', "What's your return policy?"));
    expect(asked.status).toBe('SUCCEEDED');
    const history = await historyOf(stack, asked.executionArn);
    expect(history.filter((e) => e.type === 'LambdaFunctionSucceeded').length).toBe(4);
    expect(history.filter((e) => e.type === 'LambdaFunctionFailed')).toEqual([]);
  });
});
