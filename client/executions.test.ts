/**
 * Reading Express executions from their CloudWatch Logs records, with records shaped as Step
 * Functions writes them on AWS (`:express:` ARNs, every scalar a string, Lambda function resources),
 * independent of the local stand-in's own rendering.
 */
import { describe, expect, it } from 'vitest';
import { executionDetailOf, executionNameOf, formatExecution, historyEventOf, parseExpressLogRecord, statesFromHistory } from './executions.ts';

const ARN = 'arn:aws:states:eu-west-1:111111111111:express:Stack-assistant:4b1d9f5e-exec:0e4cbd8a-7f0e-4a44-a0f3-0d2b7c8e1a11';
const FN = 'arn:aws:lambda:eu-west-1:111111111111:function:Stack-ValidateContext';
const T0 = 1_760_000_000_000;

function line(id: number, type: string, details: Record<string, unknown>, dt: number): string {
  return JSON.stringify({ id: String(id), type, details, previous_event_id: String(id - 1), event_timestamp: String(T0 + dt), execution_arn: ARN, redrive_count: '0' });
}

const input = '{"identity":{"tenantId":"tenant1"},"request":{"question":"q"}}';
const failed = [
  line(1, 'ExecutionStarted', { input, inputDetails: { truncated: false }, roleArn: 'arn:aws:iam::111111111111:role/Stack-StateMachineRole' }, 0),
  line(2, 'TaskStateEntered', { input, inputDetails: { truncated: false }, name: 'ValidateContext' }, 1),
  line(3, 'LambdaFunctionScheduled', { input, inputDetails: { truncated: false }, resource: FN, timeoutInSeconds: 10 }, 2),
  line(4, 'LambdaFunctionStarted', {}, 3),
  line(5, 'LambdaFunctionFailed', { error: 'TenantSuspended', cause: '{"errorMessage":"tenant1 is suspended"}' }, 40),
  line(6, 'TaskStateExited', { name: 'ValidateContext', output: '{"error":{}}', outputDetails: { truncated: false } }, 41),
  line(7, 'TaskStateEntered', { input: '{"error":{}}', inputDetails: { truncated: false }, name: 'RecordFailure' }, 42),
  line(8, 'TaskStateExited', { name: 'RecordFailure', output: '{}', outputDetails: { truncated: false } }, 60),
  line(9, 'FailStateEntered', { input: '{}', inputDetails: { truncated: false }, name: 'Failed' }, 61),
  line(10, 'ExecutionFailed', { error: 'AssistantFailed', cause: 'See RecordFailure' }, 62),
];

describe('Express executions from CloudWatch Logs records', () => {
  it('reads a record as Step Functions writes it, and ignores lines that are not records', () => {
    expect(parseExpressLogRecord(failed[0])).toMatchObject({ id: '1', type: 'ExecutionStarted', execution_arn: ARN, event_timestamp: String(T0) });
    expect(parseExpressLogRecord('START RequestId: 1 Version: $LATEST')).toBeUndefined();
    expect(parseExpressLogRecord('{"type":"ExecutionStarted"}')).toBeUndefined();
    expect(parseExpressLogRecord(undefined)).toBeUndefined();
  });

  it('maps each record to the history event it stands for', () => {
    const entered = historyEventOf(parseExpressLogRecord(failed[1])!);
    expect(entered).toMatchObject({ id: 2, previousEventId: 1, type: 'TaskStateEntered', timestamp: new Date(T0 + 1), stateEnteredEventDetails: { name: 'ValidateContext', input } });
    expect(historyEventOf(parseExpressLogRecord(failed[4])!).lambdaFunctionFailedEventDetails).toEqual({ error: 'TenantSuspended', cause: '{"errorMessage":"tenant1 is suspended"}' });
    expect(historyEventOf(parseExpressLogRecord(failed[8])!).stateEnteredEventDetails).toMatchObject({ name: 'Failed' });
  });

  it('folds a failed execution into its summary and state visits, whatever order the records arrived in', () => {
    const events = [...failed].reverse().map((l) => historyEventOf(parseExpressLogRecord(l)!)).sort((a, b) => a.id! - b.id!);
    const detail = executionDetailOf(ARN, events);
    expect(detail).toMatchObject({ executionArn: ARN, status: 'FAILED', error: 'AssistantFailed', cause: 'See RecordFailure', input, startDate: new Date(T0), stopDate: new Date(T0 + 62) });
    expect(detail.states.map((s) => [s.name, s.attempts, s.failures])).toEqual([
      ['ValidateContext', 1, [{ error: 'TenantSuspended', cause: '{"errorMessage":"tenant1 is suspended"}', message: 'tenant1 is suspended' }]],
      ['RecordFailure', 0, []],
      ['Failed', 0, []],
    ]);
    expect(formatExecution(detail)).toContain('ValidateContext  40 ms');
  });

  it('an execution whose end is not logged (yet) is RUNNING, with no stop date', () => {
    const detail = executionDetailOf(ARN, failed.slice(0, 4).map((l) => historyEventOf(parseExpressLogRecord(l)!)));
    expect(detail.status).toBe('RUNNING');
    expect(detail.stopDate).toBeUndefined();
    expect(detail.states).toHaveLength(1);
  });

  it('names an execution by the segment after the state machine (Express and Standard ARNs)', () => {
    expect(executionNameOf(ARN)).toBe('4b1d9f5e-exec');
    expect(executionNameOf('arn:aws:states:us-east-1:000000000000:execution:local-assistant:run-1')).toBe('run-1');
  });
});

/** A Lambda function's error document, as Step Functions stores it in the cause on AWS. */
const DOCUMENT = JSON.stringify({
  errorType: 'Assistant.InvalidRequest',
  errorMessage: 'The question is empty.',
  trace: ['Assistant.InvalidRequest: The question is empty.', '    at validateContext (/var/task/index.mjs:1:2345)'],
});
const TIMED_OUT_CAUSE =
  'The cause could not be determined because Lambda did not return an error type. Returned payload: {"errorMessage":"2030-01-01T00:00:00.000Z 5b1c368c-fa4f-448d-8d37-595d2633cc9b Task timed out after 8.00 seconds"}';

describe('failures in a history', () => {
  const run = (...attempts: [string, Record<string, unknown>][]) => [
    line(1, 'ExecutionStarted', { input }, 0),
    line(2, 'TaskStateEntered', { input, name: 'ValidateContext' }, 1),
    ...attempts.flatMap(([type, details], i) => [line(3 + 2 * i, 'LambdaFunctionScheduled', { resource: FN }, 2 + i), line(4 + 2 * i, type, details, 3 + i)]),
  ];
  const statesOf = (lines: string[]) => statesFromHistory(lines.map((l) => historyEventOf(parseExpressLogRecord(l)!)));

  it("shows a function error's errorMessage, never its trace, and keeps the raw cause for --json", () => {
    const [state] = statesOf(run(['LambdaFunctionFailed', { error: 'Assistant.InvalidRequest', cause: DOCUMENT }]));
    expect(state!.failures).toEqual([{ error: 'Assistant.InvalidRequest', cause: DOCUMENT, message: 'The question is empty.' }]);
    const text = formatExecution({ executionArn: ARN, status: 'FAILED', error: 'Assistant.InvalidRequest', cause: DOCUMENT, message: 'The question is empty.', states: [state!] });
    expect(text).toContain('failed: Assistant.InvalidRequest: The question is empty.');
    expect(text).toContain('status:  FAILED (Assistant.InvalidRequest: The question is empty.)');
    expect(text).not.toMatch(/var\/task|errorType|trace/);
  });

  it('counts every kind of failed attempt: failed, timed out (state or function), not started', () => {
    const [state] = statesOf(
      run(
        ['LambdaFunctionFailed', { error: 'Lambda.Unknown', cause: TIMED_OUT_CAUSE }],
        ['LambdaFunctionTimedOut', { error: 'States.Timeout' }],
        ['LambdaFunctionStartFailed', { error: 'Lambda.ResourceNotFoundException', cause: 'Function not found' }],
        ['TaskTimedOut', {}],
        ['ActivityTimedOut', { error: 'States.HeartbeatTimeout' }],
      ),
    );
    expect(state!.attempts).toBe(5);
    expect(state!.failures).toEqual([
      { error: 'Lambda.Unknown', cause: TIMED_OUT_CAUSE, message: '2030-01-01T00:00:00.000Z 5b1c368c-fa4f-448d-8d37-595d2633cc9b Task timed out after 8.00 seconds' },
      { error: 'States.Timeout' },
      { error: 'Lambda.ResourceNotFoundException', cause: 'Function not found', message: 'Function not found' },
      { error: 'States.Timeout' },
      { error: 'States.HeartbeatTimeout' },
    ]);
  });

  it('control: an attempt that succeeded is no failure', () => {
    const [state] = statesOf(run(['LambdaFunctionSucceeded', { output: '{}' }]));
    expect([state!.attempts, state!.failures]).toEqual([1, []]);
  });

  it('reads an execution that timed out as TIMED_OUT with its error', () => {
    const detail = executionDetailOf(
      ARN,
      [...run(['LambdaFunctionTimedOut', { error: 'States.Timeout' }]), line(9, 'ExecutionTimedOut', { error: 'States.Timeout', cause: 'The execution exceeded its time limit.' }, 300)].map(
        (l) => historyEventOf(parseExpressLogRecord(l)!),
      ),
    );
    expect(detail).toMatchObject({ status: 'TIMED_OUT', error: 'States.Timeout', message: 'The execution exceeded its time limit.' });
    expect(detail.states[0]!.failures).toEqual([{ error: 'States.Timeout' }]);
  });
});

describe("the answer's token usage, for operators", () => {
  const usage = { modelId: 'amazon.nova-micro-v1:0', inputTokens: 900, outputTokens: 60, totalTokens: 960, costUsd: 0.0000399 };
  const invoked = (output: string) => [
    line(1, 'ExecutionStarted', { input }, 0),
    line(2, 'TaskStateEntered', { input, name: 'InvokeAgent' }, 1),
    line(3, 'TaskStateExited', { name: 'InvokeAgent', output, outputDetails: { truncated: false } }, 50),
    line(4, 'ExecutionSucceeded', { output }, 60),
  ];
  const detailOf = (lines: string[]) => executionDetailOf(ARN, lines.map((l) => historyEventOf(parseExpressLogRecord(l)!)));

  it("reads the InvokeAgent state's answer.usage and shows model, input, output and total tokens", () => {
    const detail = detailOf(invoked(JSON.stringify({ answer: { text: 'hi', toolCalls: 0, nextSeq: 5, usage } })));
    expect(detail.usage).toEqual(usage);
    expect(formatExecution(detail)).toContain('tokens:  960 (input 900, output 60) on amazon.nova-micro-v1:0, $0.000040');
  });

  it('control: no usage reported, an output cut short, or another state carrying usage-like data show no tokens', () => {
    const none = detailOf(invoked(JSON.stringify({ answer: { text: 'hi', toolCalls: 0, nextSeq: 5 } })));
    expect(none.usage).toBeUndefined();
    expect(formatExecution(none)).not.toContain('tokens:');
    expect(detailOf(invoked('{"answer":{"usage":{"modelId":"m","inputTok')).usage).toBeUndefined();
    const other = invoked(JSON.stringify({ answer: { usage } })).map((l) => l.replaceAll('InvokeAgent', 'PublishAnswer'));
    expect(detailOf(other).usage).toBeUndefined();
  });
});
