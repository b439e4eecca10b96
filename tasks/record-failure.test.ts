import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { awsError, FAKE_CLIENT_CONFIG, scripted, SEALED, stateAfterAnswer, type FakeReply } from '../test/fake-aws.ts';
import { ErrorName, WorkflowError } from './errors.ts';
import { recordFailure, type RecordFailureDeps } from './record-failure.ts';
import { TableNames } from './tables.ts';

const EXECUTION = 'arn:aws:states:us-east-1:123456789012:express:assistant:exec-1:run-1';
const NOW = new Date('2030-01-01T00:00:00.000Z');
const identity = { tenantId: 'tenant1', userId: 'user-1', username: 'alice' };
const request = { answerId: 'user-1.a1', question: 'Where is my order?', conversationId: 'conv-1' };
const error = { Error: ErrorName.AgentFailed, Cause: 'Tool listMyOrders failed: AccessDeniedException' };

function harness(put?: FakeReply) {
  const dynamodb = scripted(new DynamoDBClient(FAKE_CLIENT_CONFIG));
  if (put) dynamodb.on('PutItemCommand', put);
  const deps: RecordFailureDeps = { dynamodb: dynamodb.client, tables: new TableNames('prod-'), now: () => NOW };
  return { deps, dynamodb };
}

const written = (h: ReturnType<typeof harness>) => {
  expect(h.dynamodb.calls.map((c) => [c.command, c.input.TableName])).toEqual([['PutItemCommand', 'prod-assistant-runs']]);
  return h.dynamodb.calls[0]!.input.Item as Record<string, unknown>;
};

describe('recordFailure', () => {
  it('writes the failed run to the runs table: who, what, which error, which execution, when', async () => {
    const h = harness({});
    const out = await recordFailure({ state: { identity, request, replayOf: 'arn:previous', error }, executionArn: EXECUTION }, h.deps);
    expect(out).toEqual({ recorded: true, tenantId: 'tenant1', answerId: 'user-1.a1' });
    expect(written(h)).toEqual({
      tenantId: 'tenant1',
      answerId: 'user-1.a1',
      userId: 'user-1',
      username: 'alice',
      question: 'Where is my order?',
      conversationId: 'conv-1',
      errorType: ErrorName.AgentFailed,
      errorMessage: error.Cause,
      executionArn: EXECUTION,
      failedAt: '2030-01-01T00:00:00.000Z',
      replayOf: 'arn:previous',
    });
    h.dynamodb.assertDone();
  });

  it('never stores credentials, sealed or not, nor anything else the state carries', async () => {
    const h = harness({});
    const state = { ...stateAfterAnswer(identity, request, { text: 'partial', toolCalls: 0, nextSeq: 4 }), error };
    await recordFailure({ state, executionArn: EXECUTION }, h.deps);
    const item = written(h);
    expect(Object.keys(item).sort()).toEqual(
      ['answerId', 'conversationId', 'errorMessage', 'errorType', 'executionArn', 'failedAt', 'question', 'tenantId', 'userId', 'username'].sort(),
    );
    expect(JSON.stringify(item)).not.toContain(SEALED);
    expect(JSON.stringify(item)).not.toContain('sealed');
  });

  it('records a run that failed validation as well as it can: placeholders for what is missing or not text', async () => {
    const h = harness({});
    const state = { identity: { tenantId: 42 }, request: { question: { nested: true } }, error: { Error: ErrorName.InvalidRequest } };
    const out = await recordFailure({ state, executionArn: EXECUTION }, h.deps);
    expect(out).toEqual({ recorded: true, tenantId: '(unknown)', answerId: '(unknown).run-1' });
    const unknown = '(unknown)';
    expect(written(h)).toEqual({ tenantId: unknown, answerId: `${unknown}.run-1`, userId: unknown, username: unknown, question: '', errorType: ErrorName.InvalidRequest, errorMessage: '', executionArn: EXECUTION, failedAt: NOW.toISOString() });
  });

  it('cuts long fields: the message to 2000 characters, the question to 4000, the error type to 256', async () => {
    const h = harness({});
    const state = { identity, request: { ...request, question: 'q'.repeat(5000) }, error: { Error: 'E'.repeat(300), Cause: 'c'.repeat(3000) } };
    await recordFailure({ state, executionArn: EXECUTION }, h.deps);
    const item = written(h);
    expect([(item.question as string).length, (item.errorMessage as string).length, (item.errorType as string).length]).toEqual([4000, 2000, 256]);
  });

  it("stores the errorType and errorMessage of a Lambda function's error document, never its trace", async () => {
    const h = harness({});
    const document = {
      errorType: ErrorName.AgentFailed,
      errorMessage: 'Tool listMyOrders failed: AccessDeniedException',
      trace: ['Assistant.AgentFailed: Tool listMyOrders failed', '    at invokeAgent (/var/task/index.mjs:12:9)'],
    };
    await recordFailure({ state: { identity, request, error: { Error: ErrorName.AgentFailed, Cause: JSON.stringify(document) } }, executionArn: EXECUTION }, h.deps);
    const item = written(h);
    expect([item.errorType, item.errorMessage]).toEqual([ErrorName.AgentFailed, 'Tool listMyOrders failed: AccessDeniedException']);
    expect(JSON.stringify(item)).not.toMatch(/var\/task|trace|errorMessage\\"/);
    // Control: the Cause itself carries the trace that must not reach the table.
    expect(JSON.stringify(document)).toMatch(/var\/task/);
  });

  it('refuses an input without the caught error, writing nothing', async () => {
    const h = harness();
    await expect(recordFailure({ state: { identity, request }, executionArn: EXECUTION }, h.deps)).rejects.toThrow(/error/);
    expect(h.dynamodb.calls).toEqual([]);
  });

  it.each([
    ['DynamoDB throttles', awsError('ProvisionedThroughputExceededException', 400), ErrorName.Throttled],
    ['DynamoDB is down', awsError('InternalServerError', 500), ErrorName.ServiceUnavailable],
    ['the write is denied', awsError('AccessDeniedException', 400), ErrorName.ServiceUnavailable],
  ])('fails with a retried error when %s (PublishFailure follows either way)', async (_, put, name) => {
    const h = harness(put);
    const err = await recordFailure({ state: { identity, request, error }, executionArn: EXECUTION }, h.deps).then(
      () => expect.fail('expected the task to fail'),
      (e: unknown) => e as WorkflowError,
    );
    expect(err).toBeInstanceOf(WorkflowError);
    expect(err.name).toBe(name);
    expect(err.message).toMatch(/^Recording the failed run failed/);
    h.dynamodb.assertDone();
  });
});
