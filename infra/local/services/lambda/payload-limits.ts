/**
 * Lambda's payload quotas for a synchronous invocation: 6 MB for the request (the event) and 6 MB
 * for the response (the function's result), each counted as bytes of its JSON text.
 * https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
 *
 * A request over its quota is refused by the Invoke API before the function runs
 * (RequestTooLargeException, 413), which Step Functions reports as `Lambda.RequestTooLargeException`
 * (Lambda's API errors are reported as `Lambda.<exception>`:
 * https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html). A response
 * over its quota is a function error of type `Function.ResponseSizeTooLarge`; the function has run.
 * The byte counts and messages are those Lambda answers with (its documentation says "6 MB").
 */
import type { TaskHandler } from '../../../../tasks/task-modules.ts';

/** The request quota: 6 MiB. */
export const MAX_REQUEST_BYTES = 6_291_456;
/** The response quota, as Lambda's error message states it. */
export const MAX_RESPONSE_BYTES = 6_291_556;

export const REQUEST_TOO_LARGE = 'Lambda.RequestTooLargeException';
export const RESPONSE_TOO_LARGE = 'Function.ResponseSizeTooLarge';

class PayloadTooLarge extends Error {
  constructor(
    override readonly name: string,
    message: string,
  ) {
    super(message);
  }
}

/** The bytes of a value's JSON text, as Lambda sends it (`null` for undefined). */
export function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? 'null', 'utf8');
}

/** `handler` held to Lambda's synchronous payload quotas. */
export function withPayloadLimits(handler: TaskHandler): TaskHandler {
  return async (event) => {
    const requestBytes = jsonBytes(event);
    if (requestBytes > MAX_REQUEST_BYTES) {
      throw new PayloadTooLarge(REQUEST_TOO_LARGE, `${requestBytes} byte payload is too large for the RequestResponse invocation type (limit ${MAX_REQUEST_BYTES} bytes)`);
    }
    const result = await handler(event);
    if (jsonBytes(result) > MAX_RESPONSE_BYTES) {
      throw new PayloadTooLarge(RESPONSE_TOO_LARGE, `Response payload size exceeded maximum allowed payload size (${MAX_RESPONSE_BYTES} bytes).`);
    }
    return result;
  };
}
