/**
 * Lambda's error contract end to end on the local stack, as on AWS: a function that throws fails
 * its state with Error = errorType and Cause = the function's JSON error document (trace included);
 * the asker's FAILED event carries the errorMessage alone, and the runs table the errorType and
 * errorMessage, never the trace. A function that runs past its own timeout is ended by Lambda,
 * and Step Functions reports it as Lambda.Unknown.
 *
 * The invoke-agent function runs with a scripted agent that answers at once, or never when the
 * question asks it to stall; its function timeout is 2 s here (FUNCTION_TIMEOUT_SECONDS on AWS).
 * Nothing is timed: each test waits for the execution to end.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatExecution, showExecution } from '../client/executions.ts';
import type { AnswerEventRecord } from '../infra/local/services/appsync/graphql.ts';
import { startLocalStack, type LocalStack } from '../infra/local/stack.ts';
import type { AgentRuntime } from '../tasks/agent-runtime.ts';
import { ErrorName } from '../tasks/errors.ts';
import { historyOf, recordEvents, run, workflowInput } from './workflow-helpers.ts';

const FUNCTION_TIMEOUT = 2;

/** Answers at once, except a question that asks it to stall: that one it never answers. */
const stalled: (() => void)[] = [];
const scriptedAgent: AgentRuntime = {
  memory: 'agent-session',
  ask: (turn, _callTool, onText) => {
    if (turn.question.includes('stall')) return new Promise((resolve) => stalled.push(() => resolve({ text: 'too late', toolCalls: 0 })));
    onText('Returns are accepted.');
    return Promise.resolve({ text: 'Returns are accepted.', toolCalls: 0 });
  },
};

let stack: LocalStack;
let events: AnswerEventRecord[];

beforeAll(async () => {
  stack = await startLocalStack({
    port: 0,
    seedOrdersPerUser: 0,
    retryIntervalOverrides: 0,
    taskOverrides: { 'invoke-agent': { agent: scriptedAgent } },
    functionTimeoutSeconds: { 'invoke-agent': FUNCTION_TIMEOUT },
  });
  events = recordEvents(stack);
});

afterAll(async () => {
  for (const release of stalled) release();
  await stack?.stop();
});

async function runRecord(tenantId: string, answerId: string): Promise<Record<string, unknown> | undefined> {
  const doc = DynamoDBDocumentClient.from(new DynamoDBClient(stack.clientConfig('operator')));
  try {
    return (await doc.send(new GetCommand({ TableName: stack.tables.runs, Key: { tenantId, answerId } }))).Item;
  } finally {
    doc.destroy();
  }
}

async function shown(executionArn: string): Promise<string> {
  const sfn = new SFNClient(stack.clientConfig('operator'));
  try {
    return formatExecution(await showExecution(sfn, executionArn));
  } finally {
    sfn.destroy();
  }
}

describe("a function's error, from the Lambda sandbox to the asker and the runs table", () => {
  it('a user-facing error (ValidateContext, in the sandbox): the asker reads the message only; the runs record keeps errorType and errorMessage, no trace', async () => {
    const input = workflowInput(stack, 'tenant1-user', 'What is your return policy?');
    input.identity.tenantId = 'tenant2';
    const asked = await run(stack, events, input);

    // Step Functions' view, as on AWS: Error = errorType, Cause = the error document with its trace.
    expect(asked.status).toBe('FAILED');
    expect(asked.error).toBe(ErrorName.InvalidRequest);
    const document = JSON.parse(asked.cause!) as { errorType: string; errorMessage: string; trace: string[] };
    expect(Object.keys(document)).toEqual(['errorType', 'errorMessage', 'trace']);
    expect(document).toMatchObject({ errorType: ErrorName.InvalidRequest, errorMessage: 'The asker does not belong to this store.' });
    expect(document.trace.some((l) => /^\s+at /.test(l))).toBe(true);
    const failed = (await historyOf(stack, asked.executionArn)).find((e) => e.type === 'LambdaFunctionFailed');
    expect(failed?.lambdaFunctionFailedEventDetails).toEqual({ error: ErrorName.InvalidRequest, cause: asked.cause });

    // The asker: one FAILED event with the message, no JSON, no stack frame.
    expect(asked.events.map((e) => [e.status, e.error])).toEqual([['FAILED', 'The asker does not belong to this store.']]);
    expect(JSON.stringify(asked.events)).not.toMatch(/errorType|trace|\bat \S+ \(|\.ts:\d+/);

    // The runs table: errorType and errorMessage, nothing of the trace.
    const record = await runRecord('tenant2', asked.answerId);
    expect(record).toMatchObject({ errorType: ErrorName.InvalidRequest, errorMessage: 'The asker does not belong to this store.', executionArn: asked.executionArn });
    expect(JSON.stringify(record)).not.toMatch(/trace|\bat \S+ \(|\.ts:\d+/);

    // The operator's view shows the message too.
    const text = await shown(asked.executionArn);
    expect(text).toContain(`failed: ${ErrorName.InvalidRequest}: The asker does not belong to this store.`);
    expect(text.split('\n').filter((l) => l.includes('failed:') || l.includes('status:')).join('\n')).not.toMatch(/errorType|trace/);
  });

  it('control: the raw Cause the readers parse does carry the trace (so hiding it is their work)', async () => {
    const input = workflowInput(stack, 'tenant1-user', 'What is your return policy?');
    input.identity.tenantId = 'tenant3';
    const asked = await run(stack, events, input);
    expect(asked.cause).toMatch(/"trace":\[/);
    expect(asked.cause).toMatch(/validate-context\.ts:\d+/);
  });

  it("a function that runs past its own timeout: Lambda ends it, Step Functions reports Lambda.Unknown (LambdaFunctionFailed, not the state's States.Timeout)", async () => {
    const asked = await run(stack, events, workflowInput(stack, 'tenant2-user', 'Please stall.'));
    expect(stalled.length).toBeGreaterThan(0);
    expect(asked.status).toBe('FAILED');
    expect(asked.error).toBe('Lambda.Unknown');

    const history = await historyOf(stack, asked.executionArn);
    const invokeFailures = history.filter((e) => e.type === 'LambdaFunctionFailed');
    expect(invokeFailures).toHaveLength(1);
    const cause = invokeFailures[0]!.lambdaFunctionFailedEventDetails!.cause!;
    expect(invokeFailures[0]!.lambdaFunctionFailedEventDetails!.error).toBe('Lambda.Unknown');
    expect(cause).toMatch(
      /^The cause could not be determined because Lambda did not return an error type\. Returned payload: \{"errorMessage":"\d{4}-\d\d-\d\dT[\d:.]+Z [0-9a-f-]{36} Task timed out after 2\.00 seconds"\}$/,
    );
    expect(history.filter((e) => e.type === 'LambdaFunctionTimedOut')).toEqual([]);

    expect(asked.events.map((e) => [e.status, e.error])).toEqual([['FAILED', 'The assistant could not answer this question (Lambda.Unknown). Please try again later.']]);
    const record = await runRecord('tenant2', asked.answerId);
    expect(record).toMatchObject({ errorType: 'Lambda.Unknown', errorMessage: expect.stringMatching(/ Task timed out after 2\.00 seconds$/) });
    expect(await shown(asked.executionArn)).toMatch(/failed: Lambda\.Unknown: \S+ \S+ Task timed out after 2\.00 seconds/);
  });

  it('control: under the same function timeout, a question the agent answers at once is DONE', async () => {
    const asked = await run(stack, events, workflowInput(stack, 'tenant2-user', "What's your return policy?"));
    expect(asked.status).toBe('SUCCEEDED');
    expect(asked.events.map((e) => [e.status, e.text])).toEqual([['DONE', 'Returns are accepted.']]);
    expect((await historyOf(stack, asked.executionArn)).filter((e) => e.type === 'LambdaFunctionFailed')).toEqual([]);
  });
});
