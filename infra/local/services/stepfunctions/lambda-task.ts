/**
 * A Task state whose Resource is a Lambda function ARN: what Step Functions makes of a function
 * error (Invoke answered with `X-Amz-Function-Error` and an error document as its payload).
 * - The document names an errorType: the state fails with Error = errorType, and Cause = the
 *   payload itself, as a JSON string (trace included: readers parse it, tasks/lambda-error.ts).
 * - It names none (Lambda ended the function at its timeout, or the function returned something
 *   else): Error = `Lambda.Unknown`, Cause = "The cause could not be determined because Lambda did
 *   not return an error type. Returned payload: <payload>".
 * The stack hands the function's error to `lambdaTaskError` from its `invokeTask`; the runner
 * records the returned error's name and message as the history event's error and cause, and the
 * engine's Catch stores them as Error and Cause.
 */
import * as z from 'zod/mini';
import { UNKNOWN_LAMBDA_CAUSE_PREFIX } from '../../../../tasks/lambda-error.ts';

/** A function error as the Lambda stand-in reports it (structurally: the rooms share no code). */
export interface LambdaFunctionErrorLike {
  functionError: string;
  payload: unknown;
}

const WithErrorType = z.object({ errorType: z.string() });

/** True when `err` is a Lambda function error (a payload and an X-Amz-Function-Error value), not an error of Lambda itself. */
export function isLambdaFunctionError(err: unknown): err is LambdaFunctionErrorLike {
  return typeof err === 'object' && err !== null && typeof (err as LambdaFunctionErrorLike).functionError === 'string' && 'payload' in err;
}

/** The task failure Step Functions reports for a function error: `name` is the Error, `message` the Cause. */
export function lambdaTaskError(err: LambdaFunctionErrorLike): Error {
  const payload = JSON.stringify(err.payload ?? null);
  const typed = WithErrorType.safeParse(err.payload);
  const failure = typed.success ? new Error(payload) : new Error(`${UNKNOWN_LAMBDA_CAUSE_PREFIX}${payload}`);
  failure.name = typed.success ? typed.data.errorType : 'Lambda.Unknown';
  return failure;
}
