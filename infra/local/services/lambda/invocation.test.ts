/**
 * The error document of a failed invocation, as Lambda's Node.js runtime writes it, and Lambda's
 * function timeout. No clock is asserted: a timed-out invocation is awaited, never measured.
 */
import { describe, expect, it } from 'vitest';
import { ErrorName, WorkflowError } from '../../../../tasks/errors.ts';
import { errorDocumentOf, FunctionError, LambdaServiceError, withTimeout } from './invocation.ts';

const failure = (p: Promise<unknown>) =>
  p.then(
    () => expect.fail('expected the invocation to fail'),
    (e: unknown) => e as FunctionError,
  );

describe('errorDocumentOf', () => {
  it('reports an Error as errorType (its name), errorMessage and trace (its stack, line by line), in that order', () => {
    const err = new WorkflowError(ErrorName.InvalidRequest, 'The question is empty.');
    const doc = errorDocumentOf(err);
    expect(Object.keys(doc)).toEqual(['errorType', 'errorMessage', 'trace']);
    expect(doc).toMatchObject({ errorType: 'Assistant.InvalidRequest', errorMessage: 'The question is empty.' });
    expect(doc.trace![0]).toBe('Assistant.InvalidRequest: The question is empty.');
    expect(doc.trace!.slice(1).every((line) => line.trimStart().startsWith('at '))).toBe(true);
    expect(doc.trace).toEqual(err.stack!.split('\n'));
  });

  it('reports a thrown value that is no Error by its typeof and text, with an empty trace', () => {
    expect(errorDocumentOf('boom')).toEqual({ errorType: 'string', errorMessage: 'boom', trace: [] });
    expect(errorDocumentOf(42)).toEqual({ errorType: 'number', errorMessage: '42', trace: [] });
  });

  it('reports an error-like object (name, message, stack: strings) as an Error', () => {
    expect(errorDocumentOf({ name: 'Custom', message: 'm', stack: 'Custom: m\n    at x' })).toEqual({ errorType: 'Custom', errorMessage: 'm', trace: ['Custom: m', '    at x'] });
  });

  it('has a document of its own for a value that cannot be read', () => {
    const hostile = new Proxy(new Error('x'), {
      get() {
        throw new Error('no');
      },
    });
    expect(errorDocumentOf(hostile).errorType).toBe('handled');
  });
});

describe('withTimeout', () => {
  it('fails an invocation that runs past the timeout with the document Lambda ends it with (no errorType)', async () => {
    const never = () => new Promise<unknown>(() => {});
    const err = await failure(withTimeout(never, 0.05, () => new Date('2030-01-01T00:00:00.000Z'))({}));
    expect(err).toBeInstanceOf(FunctionError);
    expect(err.functionError).toBe('Unhandled');
    expect(Object.keys(err.payload)).toEqual(['errorMessage']);
    expect(err.payload.errorMessage).toMatch(/^2030-01-01T00:00:00\.000Z [0-9a-f-]{36} Task timed out after 0\.05 seconds$/);
  });

  it('control: an invocation that answers within the timeout resolves with its result', async () => {
    await expect(withTimeout(async () => ({ ok: true }), 60)({})).resolves.toEqual({ ok: true });
  });

  it('drops the late answer of a timed-out invocation', async () => {
    let answer: (v: unknown) => void = () => {};
    const late = () => new Promise<unknown>((resolve) => (answer = resolve));
    const err = await failure(withTimeout(late, 0.01)({}));
    answer({ late: true });
    expect(err.payload.errorMessage).toMatch(/Task timed out after 0\.01 seconds/);
  });

  it('makes what the function throws a function error with its error document', async () => {
    const err = await failure(withTimeout(() => Promise.reject(new WorkflowError(ErrorName.QuotaExceeded, 'No questions left today.')), 60)({}));
    expect(err).toBeInstanceOf(FunctionError);
    expect([err.name, err.message]).toEqual([ErrorName.QuotaExceeded, 'No questions left today.']);
    expect(err.payload).toMatchObject({ errorType: ErrorName.QuotaExceeded, errorMessage: 'No questions left today.' });
  });

  it('passes errors of Lambda itself through: they are no function errors', async () => {
    const err = await failure(withTimeout(() => Promise.reject(new LambdaServiceError('Lambda.ServiceException', 'down')), 60)({}));
    expect(err).toBeInstanceOf(LambdaServiceError);
    expect(err).not.toHaveProperty('payload');
  });
});
