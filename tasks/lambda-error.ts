/**
 * The one reader of a caught error's `Cause`. What Step Functions puts there depends on who failed:
 * - a Lambda function that threw: the function's error document, as a JSON string,
 *   `{"errorType": ..., "errorMessage": ..., "trace": [...]}` (Lambda's Node.js runtime);
 * - a Lambda invocation that returned no errorType (a function timeout): `Lambda.Unknown`, with
 *   "The cause could not be determined because Lambda did not return an error type. Returned
 *   payload: {...}";
 * - Step Functions itself (States.Timeout, States.DataLimitExceeded, States.TaskFailed, ...): plain text.
 * Readers get the error's type and its message, never the trace (stack frames of /var/task/...).
 */
import * as z from 'zod/mini';

export interface CaughtError {
  /** The error's type: the function's errorType, else the caught `Error`. */
  errorType: string;
  /** What went wrong, in the words of whoever failed; empty when nothing says. */
  errorMessage: string;
}

/** A Lambda error document: the fields kept; `trace` and anything else are dropped. */
const ErrorDocument = z.object({ errorType: z.optional(z.string()), errorMessage: z.string() });

/** Step Functions' wording when a Lambda invocation failed without an errorType (a function timeout). */
export const UNKNOWN_LAMBDA_CAUSE_PREFIX = 'The cause could not be determined because Lambda did not return an error type. Returned payload: ';

function errorDocument(text: string): z.infer<typeof ErrorDocument> | undefined {
  if (!text.startsWith('{')) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = ErrorDocument.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}

/**
 * The type and message of a caught error (`{ Error, Cause }` as a Catch stores it). A Cause that is
 * not an error document is a message of its own (Step Functions' plain text).
 */
export function parseCause(error: { Error: string; Cause?: string | undefined }): CaughtError {
  const cause = error.Cause ?? '';
  const document = errorDocument(cause);
  if (document) return { errorType: document.errorType ?? error.Error, errorMessage: document.errorMessage };
  if (cause.startsWith(UNKNOWN_LAMBDA_CAUSE_PREFIX)) {
    const returned = errorDocument(cause.slice(UNKNOWN_LAMBDA_CAUSE_PREFIX.length));
    if (returned) return { errorType: returned.errorType ?? error.Error, errorMessage: returned.errorMessage };
  }
  return { errorType: error.Error, errorMessage: cause };
}
