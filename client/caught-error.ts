/**
 * The operator client's own copy of tasks/lambda-error.ts (client/ depends on the API schema only):
 * a failure's Cause is a Lambda function's JSON error document (errorType, errorMessage, trace),
 * Step Functions' Lambda.Unknown text quoting the payload Lambda returned, or plain text. Operators
 * read the message; the trace stays in the raw cause. test/client-schema.test.ts runs both copies
 * over the same causes.
 */
import * as z from 'zod/mini';

export interface CaughtError {
  errorType: string;
  errorMessage: string;
}

const ErrorDocument = z.object({ errorType: z.optional(z.string()), errorMessage: z.string() });

const UNKNOWN_LAMBDA_CAUSE_PREFIX = 'The cause could not be determined because Lambda did not return an error type. Returned payload: ';

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

/** The type and message of a failure (`error` and `cause` as the history records them). */
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
