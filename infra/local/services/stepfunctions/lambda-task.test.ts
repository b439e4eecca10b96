import { describe, expect, it } from 'vitest';
import { isLambdaFunctionError, lambdaTaskError } from './lambda-task.ts';

const document = { errorType: 'CustomError', errorMessage: 'This is a custom error!', trace: ['CustomError: This is a custom error!', '    at exports.handler (/var/task/index.js:4:11)'] };

describe('a function error on a Task state with a Lambda function ARN', () => {
  it('fails the state with Error = errorType and Cause = the error document as JSON', () => {
    const err = lambdaTaskError({ functionError: 'Unhandled', payload: document });
    expect(err.name).toBe('CustomError');
    expect(err.message).toBe(JSON.stringify(document));
    expect(JSON.parse(err.message)).toEqual(document);
  });

  it('fails it with Lambda.Unknown when the payload names no errorType (a function timeout)', () => {
    const payload = { errorMessage: '2030-01-01T00:00:00.000Z 5b1c368c-fa4f-448d-8d37-595d2633cc9b Task timed out after 8.00 seconds' };
    const err = lambdaTaskError({ functionError: 'Unhandled', payload });
    expect(err.name).toBe('Lambda.Unknown');
    expect(err.message).toBe(`The cause could not be determined because Lambda did not return an error type. Returned payload: ${JSON.stringify(payload)}`);
  });

  it('tells a function error from an error of Lambda itself or any other error', () => {
    expect(isLambdaFunctionError(Object.assign(new Error('x'), { functionError: 'Unhandled', payload: document }))).toBe(true);
    // Controls: a Lambda service error, a task error, and values that are no errors at all.
    expect(isLambdaFunctionError(Object.assign(new Error('down'), { name: 'Lambda.ServiceException' }))).toBe(false);
    expect(isLambdaFunctionError(new Error('plain'))).toBe(false);
    expect(isLambdaFunctionError(undefined)).toBe(false);
    expect(isLambdaFunctionError('Unhandled')).toBe(false);
  });
});
