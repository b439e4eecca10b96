import { describe, expect, it } from 'vitest';
import { parseCause, UNKNOWN_LAMBDA_CAUSE_PREFIX } from './lambda-error.ts';

/** The error document of the Lambda guide's Node.js example, as Step Functions stores it in Cause. */
const DOCUMENT = JSON.stringify({
  errorType: 'ReferenceError',
  errorMessage: 'x is not defined',
  trace: ['ReferenceError: x is not defined', '    at Runtime.exports.handler (/var/task/index.js:2:3)', '    at Runtime.handleOnce (/var/runtime/Runtime.js:63:25)'],
});

describe('parseCause', () => {
  it("reads a Lambda function's error document: its type and message, never its trace", () => {
    const parsed = parseCause({ Error: 'ReferenceError', Cause: DOCUMENT });
    expect(parsed).toEqual({ errorType: 'ReferenceError', errorMessage: 'x is not defined' });
    expect(JSON.stringify(parsed)).not.toMatch(/var\/task|trace|Runtime\.js/);
  });

  it('control: the same document as the raw Cause would show the trace', () => {
    expect(DOCUMENT).toContain('/var/task/index.js');
  });

  it("takes the Error name when the document has no errorType (it says what the caller's Error says)", () => {
    expect(parseCause({ Error: 'TenantSuspended', Cause: '{"errorMessage":"tenant1 is suspended"}' })).toEqual({
      errorType: 'TenantSuspended',
      errorMessage: 'tenant1 is suspended',
    });
  });

  it('reads the message of a Lambda.Unknown cause (a function timeout) from the payload it quotes', () => {
    const cause = `${UNKNOWN_LAMBDA_CAUSE_PREFIX}{"errorMessage":"2030-01-01T00:00:00.000Z 5b1c368c-fa4f-448d-8d37-595d2633cc9b Task timed out after 8.00 seconds"}`;
    expect(parseCause({ Error: 'Lambda.Unknown', Cause: cause })).toEqual({
      errorType: 'Lambda.Unknown',
      errorMessage: '2030-01-01T00:00:00.000Z 5b1c368c-fa4f-448d-8d37-595d2633cc9b Task timed out after 8.00 seconds',
    });
  });

  it.each([
    ['States.Timeout', 'States.Timeout'],
    ['States.DataLimitExceeded', 'The state/task returned a result with a size exceeding the maximum number of bytes service limit.'],
    ['States.TaskFailed', 'An error occurred while executing the state.'],
    ['Lambda.ServiceException', 'The local Lambda sandbox stopped: recycled'],
  ])('takes the plain text of %s as the message', (name, cause) => {
    expect(parseCause({ Error: name, Cause: cause })).toEqual({ errorType: name, errorMessage: cause });
  });

  it.each([
    ['JSON that is no error document', '{"foo":1}'],
    ['an errorMessage that is not text', '{"errorType":"E","errorMessage":42}'],
    ['text that only starts like JSON', '{not json} but a message'],
    ['a JSON array', '["errorType","errorMessage"]'],
    ['a Lambda.Unknown cause whose payload is unreadable', `${UNKNOWN_LAMBDA_CAUSE_PREFIX}not json`],
  ])('keeps %s as plain text', (_, cause) => {
    expect(parseCause({ Error: 'Some.Error', Cause: cause })).toEqual({ errorType: 'Some.Error', errorMessage: cause });
  });

  it('has an empty message when there is no Cause', () => {
    expect(parseCause({ Error: 'States.Timeout' })).toEqual({ errorType: 'States.Timeout', errorMessage: '' });
    expect(parseCause({ Error: 'States.Timeout', Cause: undefined })).toEqual({ errorType: 'States.Timeout', errorMessage: '' });
  });
});
