/**
 * How an invocation of a local function ends, as Lambda reports it: a result, or a function error
 * (Invoke answers 200 with `X-Amz-Function-Error: Unhandled` and the error document as the payload),
 * or an error of Lambda itself (the sandbox died, no such function), which is no function error.
 *
 * The error document is the Node.js runtime's: `{"errorType": error.name, "errorMessage":
 * error.message, "trace": error.stack split into lines}` for an Error, `{"errorType": typeof value,
 * "errorMessage": String(value), "trace": []}` for anything else thrown (the runtime interface
 * client's toRapidResponse). A function that runs past its timeout is ended by Lambda with a
 * document of Lambda's own, which has no errorType.
 */
import { randomUUID } from 'node:crypto';
import { types } from 'node:util';
import type { TaskHandler } from '../../../../tasks/task-modules.ts';

/** A function error's payload, as Invoke returns it. */
export interface ErrorDocument {
  errorType?: string;
  errorMessage: string;
  trace?: string[];
}

/** An invocation that ended in a function error: the payload and the X-Amz-Function-Error value. */
export class FunctionError extends Error {
  readonly functionError = 'Unhandled';
  constructor(readonly payload: ErrorDocument) {
    super(payload.errorMessage);
    this.name = payload.errorType ?? 'Unhandled';
  }
}

/** An error of Lambda itself (a ServiceException, an unknown function): the Invoke call failed, the function did not. */
export class LambdaServiceError extends Error {
  constructor(
    override readonly name: `Lambda.${string}`,
    message: string,
  ) {
    super(message);
  }
}

const looksLikeError = (v: unknown): v is Error =>
  typeof v === 'object' && v !== null && ['name', 'message', 'stack'].every((k) => typeof (v as Record<string, unknown>)[k] === 'string');

/** The error document the Node.js runtime makes of a thrown value. */
export function errorDocumentOf(thrown: unknown): ErrorDocument {
  try {
    if (types.isNativeError(thrown) || looksLikeError(thrown)) {
      return { errorType: thrown.name, errorMessage: thrown.message, trace: (thrown.stack ?? '').split('\n') };
    }
    return { errorType: typeof thrown, errorMessage: String(thrown), trace: [] };
  } catch {
    // A thrown value whose name, message or stack cannot be read (a throwing getter, a revoked proxy).
    return { errorType: 'handled', errorMessage: 'callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack' };
  }
}

/** The document of an invocation Lambda ended at the function's timeout (as Step Functions receives it). */
export function timedOutDocument(requestId: string, timeoutSeconds: number, at: Date): ErrorDocument {
  return { errorMessage: `${at.toISOString()} ${requestId} Task timed out after ${timeoutSeconds.toFixed(2)} seconds` };
}

/** Turns whatever a function throws into the function error Lambda reports (errors of Lambda itself pass). */
export function asFunctionError(thrown: unknown): Error {
  if (thrown instanceof FunctionError || thrown instanceof LambdaServiceError) return thrown;
  return new FunctionError(errorDocumentOf(thrown));
}

/**
 * A function with its timeout: an invocation still running after `timeoutSeconds` fails with
 * Lambda's timeout error, and whatever it answers later is dropped.
 */
export function withTimeout(handler: TaskHandler, timeoutSeconds: number, clock: () => Date = () => new Date()): TaskHandler {
  return (event) =>
    new Promise((resolve, reject) => {
      const requestId = randomUUID();
      const timer = setTimeout(() => reject(new FunctionError(timedOutDocument(requestId, timeoutSeconds, clock()))), timeoutSeconds * 1000);
      timer.unref();
      handler(event).then(
        (result) => {
          clearTimeout(timer);
          resolve(result);
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(asFunctionError(err));
        },
      );
    });
}
