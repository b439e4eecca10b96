/**
 * Reading Express executions from their CloudWatch Logs records, with records shaped as Step
 * Functions writes them on AWS (`:express:` ARNs, every scalar a string, Lambda function resources),
 * independent of the local stand-in's own rendering.
 */
import { describe, expect, it } from 'vitest';
import { executionDetailOf, executionNameOf, formatExecution, historyEventOf, parseExpressLogRecord } from './executions.ts';

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
      ['ValidateContext', 1, [{ error: 'TenantSuspended', cause: '{"errorMessage":"tenant1 is suspended"}' }]],
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
