/**
 * Step Functions' payload quota, measured where AWS measures it: 256 KiB (262,144 bytes) of UTF-8
 * JSON text for an execution's input (StartExecution refuses more), a state's input after InputPath
 * and Parameters, a task's result, and a state's output (after ResultPath and OutputPath).
 * https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html
 *
 * Over the quota a state fails with `States.DataLimitExceeded`, a terminal error that the
 * `States.ALL` wildcard does not match: only a retrier or catcher that names it does.
 * https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html
 */

/** The quota, in bytes of UTF-8. */
export const MAX_PAYLOAD_BYTES = 262_144;

export const DATA_LIMIT_EXCEEDED = 'States.DataLimitExceeded';

/** The size AWS counts: the bytes of the JSON text in UTF-8. */
export function payloadBytes(jsonText: string): number {
  return Buffer.byteLength(jsonText, 'utf8');
}

export function overLimit(jsonText: string): boolean {
  // Each UTF-16 unit is at most 3 bytes of UTF-8: short texts need no counting.
  return jsonText.length * 3 > MAX_PAYLOAD_BYTES && payloadBytes(jsonText) > MAX_PAYLOAD_BYTES;
}

/** The Retry and Catch fields of a state, as far as the error's matching needs them. */
export interface ErrorHandlers {
  Retry?: readonly { ErrorEquals: readonly string[] }[];
  Catch?: readonly { ErrorEquals: readonly string[] }[];
}

/**
 * States.DataLimitExceeded. The engine matches any error against `States.ALL` (and
 * `States.TaskFailed`), so the flags it reads say, for the state whose Retry and Catch are about to
 * be evaluated (`matchOnlyByName`), whether a retrier or catcher names this error: only then does
 * it match. Until then it matches nothing, as when the failing state has no handler for it.
 */
export class DataLimitExceeded extends Error {
  isRetryable = false;
  isCatchable = false;

  constructor(message: string) {
    super(message);
    this.name = DATA_LIMIT_EXCEEDED;
  }

  /** Before `state`'s Retry and Catch are evaluated: only the retriers and catchers that name the error match it. */
  matchOnlyByName(state: ErrorHandlers | undefined): void {
    const names = (handlers: ErrorHandlers['Retry']) => (handlers ?? []).some((h) => h.ErrorEquals.includes(DATA_LIMIT_EXCEEDED));
    this.isRetryable = names(state?.Retry);
    this.isCatchable = names(state?.Catch);
  }
}

// The message of a task result over the quota is the one AWS reports; the other two are this
// stand-in's own (the documentation names the conditions, not the messages).
const SERVICE_LIMIT = 'with a size exceeding the maximum number of bytes service limit';

export const taskResultTooLarge = (resource: string) => new DataLimitExceeded(`The state/task '${resource}' returned a result ${SERVICE_LIMIT}.`);
export const stateInputTooLarge = (stateName: string) =>
  new DataLimitExceeded(`The state '${stateName}' has an input, after InputPath and Parameters, ${SERVICE_LIMIT}.`);
export const stateOutputTooLarge = (stateName: string) => new DataLimitExceeded(`The state '${stateName}' has an output ${SERVICE_LIMIT}.`);

/** A Task state's fields that shape its output from its result. */
export interface ResultFields {
  ResultSelector?: unknown;
  ResultPath?: string | null;
  OutputPath?: string | null;
}

/** `$.a.b`: a reference path of plain field names (the form this stand-in computes itself). */
const DOTTED_PATH = /^\$(\.[^.[\]]+)+$/;

/**
 * The output of a Task state whose task returned `result`, given the state's raw input, as AWS
 * computes it (ResultPath, then OutputPath); `undefined` when the state uses a form computed only
 * by the engine (ResultSelector, bracketed paths, an OutputPath other than `$`), whose output is
 * then checked when the state exits.
 */
export function taskStateOutput(state: ResultFields, rawInput: unknown, result: unknown): unknown {
  if (state.ResultSelector !== undefined) return undefined;
  let output: unknown;
  const resultPath = state.ResultPath;
  if (resultPath === undefined || resultPath === '$') output = result;
  else if (resultPath === null) output = rawInput;
  else if (DOTTED_PATH.test(resultPath) && isPlainObject(rawInput)) output = setPath(rawInput, resultPath.slice(2).split('.'), result);
  else return undefined;
  if (state.OutputPath === null) return {};
  if (state.OutputPath === undefined || state.OutputPath === '$') return output;
  return undefined;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function setPath(target: unknown, [head, ...rest]: string[], value: unknown): unknown {
  if (head === undefined) return value;
  const copy = isPlainObject(target) ? { ...target } : {};
  copy[head] = setPath(copy[head], rest, value);
  return copy;
}
