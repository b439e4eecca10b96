/**
 * The local Bedrock's injected faults (a test control): what each kind answers, and which
 * operation's error model has it. Converse and ConverseStream (bedrock-runtime) have
 * ModelTimeoutException (408) and ServiceUnavailableException (503); InvokeAgent
 * (bedrock-agent-runtime) has neither, so those kinds never fire on InvokeAgent and cannot be aimed
 * at it. ModelStreamErrorException (424) exists only inside ConverseStream's event stream.
 */
import { AwsError } from '../../edge/aws-error.ts';

export type BedrockOperation = 'InvokeAgent' | 'Converse' | 'ConverseStream';

/**
 * A fault for the next `times` calls (of `operation`, or of any operation whose error model has
 * it). `throttle` answers ThrottlingException (429, retryable), `fail` ValidationException (400,
 * permanent), `internal` InternalServerException (500), `model-timeout` ModelTimeoutException
 * (408, Converse and ConverseStream), `unavailable` ServiceUnavailableException (503, Converse and
 * ConverseStream), `model-stream-error` ModelStreamErrorException (424, inside ConverseStream's
 * stream only), `error` any code and status. `at: 'stream'` (InvokeAgent and ConverseStream)
 * answers 200 and raises the error inside the event stream, as Bedrock sometimes does:
 * InvokeAgent before any event, ConverseStream mid-stream, after messageStart and the first
 * content event.
 */
export type BedrockFault = {
  times?: number;
  operation?: BedrockOperation;
  at?: 'request' | 'stream';
} & (
  | { kind: 'throttle' | 'fail' | 'internal' | 'model-timeout' | 'unavailable' | 'model-stream-error' }
  | { kind: 'error'; code: string; status: number; message?: string }
);

/** Kinds whose exception only the Converse API (Converse, ConverseStream) declares. */
const CONVERSE_ONLY: ReadonlySet<BedrockFault['kind']> = new Set(['model-timeout', 'unavailable', 'model-stream-error']);

/** Whether `fault` can fire on a call of `operation`. */
export function faultApplies(fault: BedrockFault, operation: BedrockOperation): boolean {
  if (fault.operation && fault.operation !== operation) return false;
  if (operation === 'InvokeAgent' && CONVERSE_ONLY.has(fault.kind)) return false;
  // Converse has no event stream; ModelStreamErrorException and ModelTimeoutException are never stream events.
  if (fault.at === 'stream' && operation === 'Converse') return false;
  if (fault.kind === 'model-stream-error') return operation === 'ConverseStream' && fault.at === 'stream';
  return true;
}

/** Refuses a fault no call could ever take (a test that injects it would pass without it). */
export function checkFault(fault: BedrockFault): void {
  const times = fault.times ?? 1;
  if (!Number.isInteger(times) || times < 1) throw new Error('A fault needs times >= 1');
  if (fault.operation === 'InvokeAgent' && CONVERSE_ONLY.has(fault.kind)) throw new Error(`InvokeAgent's error model has no ${fault.kind} error`);
  if (fault.at === 'stream' && fault.operation === 'Converse') throw new Error('Converse has no event stream: only InvokeAgent and ConverseStream raise errors inside one');
  if (fault.at === 'stream' && fault.kind === 'model-timeout') throw new Error('ModelTimeoutException is not an event of any event stream');
  if (fault.kind === 'model-stream-error' && (fault.at !== 'stream' || (fault.operation && fault.operation !== 'ConverseStream'))) {
    throw new Error('ModelStreamErrorException is raised inside the ConverseStream event stream only (at: stream)');
  }
}

/** The error a fault answers, worded as the Bedrock API reference words it. */
export function faultError(fault: BedrockFault): AwsError {
  switch (fault.kind) {
    case 'throttle':
      return new AwsError('ThrottlingException', 'Your request was denied due to exceeding the account quotas for Amazon Bedrock. (injected fault)', 429);
    case 'fail':
      return new AwsError('ValidationException', 'The request failed validation. (injected fault)');
    case 'internal':
      return new AwsError('InternalServerException', 'An internal server error occurred. Retry your request. (injected fault)', 500);
    case 'model-timeout':
      return new AwsError('ModelTimeoutException', 'The request took too long to process. Processing time exceeded the model timeout length. (injected fault)', 408);
    case 'unavailable':
      return new AwsError('ServiceUnavailableException', "The service isn't currently available. Try again later. (injected fault)", 503);
    case 'model-stream-error':
      return new AwsError('ModelStreamErrorException', 'A streaming error occurred. Retry your request. (injected fault)', 424);
    case 'error':
      return new AwsError(fault.code, fault.message ?? `${fault.code} (injected fault)`, fault.status);
  }
}
