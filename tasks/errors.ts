/**
 * The workflow's error names. A task throws a `WorkflowError` whose `name` is one of these; the
 * state machine's Retry and Catch fields name the same constants (states/definition.ts imports
 * them), and Lambda reports `error.name` as the errorType that Step Functions matches.
 */
import { modelRefusalOf } from './models.ts';

export const ErrorName = {
  /** The request or identity failed validation (bad answerId, question, tenant id). Not retried. */
  InvalidRequest: 'Assistant.InvalidRequest',
  /** The tenant does not exist or is not active. Not retried. */
  TenantUnavailable: 'Assistant.TenantUnavailable',
  /** The tenant's question quota is used up. Not retried. */
  QuotaExceeded: 'Assistant.QuotaExceeded',
  /** STS or KMS refused or failed while minting or sealing credentials. Not retried. */
  CredentialsFailed: 'Assistant.CredentialsFailed',
  /** A service is throttling (most often the model). Retried with backoff. */
  Throttled: 'Assistant.Throttled',
  /** A dependency is temporarily unavailable (5xx). Retried with backoff. */
  ServiceUnavailable: 'Assistant.ServiceUnavailable',
  /**
   * Bedrock refuses the configured model: past its end of life, callable only through an inference
   * profile, or unknown. Not retried: only a configuration change helps.
   */
  ModelUnavailable: 'Assistant.ModelUnavailable',
  /** The model took longer than its timeout (ModelTimeoutException). Not retried: a retry would keep the asker waiting as long again. */
  ModelTimedOut: 'Assistant.ModelTimedOut',
  /** The agent failed permanently (bad model output, a denied tool, a validation error). */
  AgentFailed: 'Assistant.AgentFailed',
  /** Publishing an event to the asker failed. */
  PublishFailed: 'Assistant.PublishFailed',
  /**
   * Another execution already claimed this answerId (a duplicate Express execution, or a second
   * ask reusing the id). Not retried; the state machine ends it quietly: the first one answers.
   */
  Duplicate: 'Assistant.Duplicate',
} as const;
export type ErrorName = (typeof ErrorName)[keyof typeof ErrorName];

/** The errors worth retrying: they say nothing about the request, only about the moment. */
export const TRANSIENT_ERRORS: readonly ErrorName[] = [ErrorName.Throttled, ErrorName.ServiceUnavailable];

export class WorkflowError extends Error {
  constructor(
    override readonly name: ErrorName,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * AWS SDK errors that mean "try again later". ModelStreamErrorException (ConverseStream's stream
 * broke off mid-answer) is one: Bedrock's reference says "Retry your request".
 */
const THROTTLING = new Set(['ThrottlingException', 'TooManyRequestsException', 'Throttling', 'ProvisionedThroughputExceededException']);
const UNAVAILABLE = new Set(['ServiceUnavailableException', 'InternalServerException', 'InternalFailure', 'ServiceUnavailable', 'ModelNotReadyException', 'ModelStreamErrorException']);

/**
 * Errors that never reached the service or got no answer from it: a request timeout, a reset or
 * refused connection, a name lookup that failed. The AWS SDK's own retry strategy treats the same
 * names and Node codes as transient (@smithy/core's service-error-classification:
 * TRANSIENT_ERROR_CODES, NODEJS_TIMEOUT_ERROR_CODES, NODEJS_NETWORK_ERROR_CODES); once its attempts
 * are spent, they are still about the moment, never about the request.
 */
const NETWORK_ERROR_NAMES = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException']);
const NETWORK_ERROR_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

function isNetworkError(e: { name?: string; code?: string; $metadata?: { httpStatusCode?: number } }): boolean {
  if (e.$metadata?.httpStatusCode) return false;
  return NETWORK_ERROR_NAMES.has(e.name ?? '') || NETWORK_ERROR_CODES.has(e.code ?? '');
}

/**
 * Maps an error from an AWS SDK call to a workflow error: throttling, 5xx and network errors become
 * the transient names, everything else `otherwise`. The message names the service error, never request data.
 */
export function classifyAwsError(err: unknown, otherwise: ErrorName, what: string): WorkflowError {
  if (err instanceof WorkflowError) return err;
  const e = err as { name?: string; code?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const name = e.name ?? 'Error';
  const status = e.$metadata?.httpStatusCode ?? 0;
  const detail = `${what} failed: ${name}: ${e.message ?? ''}`.trim();
  if (THROTTLING.has(name) || status === 429) return new WorkflowError(ErrorName.Throttled, detail, { cause: err });
  if (UNAVAILABLE.has(name) || status >= 500 || isNetworkError(e)) return new WorkflowError(ErrorName.ServiceUnavailable, detail, { cause: err });
  return new WorkflowError(otherwise, detail, { cause: err });
}

/**
 * Maps an error from a model call (Converse, InvokeAgent): Bedrock's refusals of the model
 * (tasks/models.ts MODEL_REFUSALS) are ModelUnavailable, its model timeout ModelTimedOut, and the
 * rest as classifyAwsError, with AgentFailed for the permanent ones.
 */
export function classifyModelError(err: unknown, what: string): WorkflowError {
  if (err instanceof WorkflowError) return err;
  const e = err as { name?: string; message?: string };
  const detail = `${what} failed: ${e.name ?? 'Error'}: ${e.message ?? ''}`.trim();
  if (modelRefusalOf(e)) return new WorkflowError(ErrorName.ModelUnavailable, detail, { cause: err });
  if (e.name === 'ModelTimeoutException') return new WorkflowError(ErrorName.ModelTimedOut, detail, { cause: err });
  return classifyAwsError(err, ErrorName.AgentFailed, what);
}
