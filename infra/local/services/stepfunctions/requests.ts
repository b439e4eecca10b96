/**
 * Reading Step Functions requests, and refusing bad ones with AWS's errors: ARNs, execution names
 * and input, page sizes and pagination tokens, StopExecution's error and cause.
 */
import { randomUUID } from 'node:crypto';
import { AwsError } from '../../edge/aws-error.ts';
import { optionalString, requiredString, validationError, type Fields } from '../../edge/wire.ts';
import { EXECUTION_STATUSES, type ExecutionStatus } from './execution.ts';
import type { Failure } from './history.ts';
import { MAX_PAYLOAD_BYTES, payloadBytes } from './payload-limits.ts';

const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;

const STATE_MACHINE_ARN = /^arn:[a-z-]+:states:[a-z0-9-]+:\d{12}:stateMachine:[^:]+$/;
const EXECUTION_ARN = /^arn:[a-z-]+:states:[a-z0-9-]+:\d{12}:execution:[^:]+:[^:]+$/;
/** Execution names: 1-80 characters, no whitespace, brackets, wildcards, special or control characters. */
const INVALID_NAME_CHARS = /[\s<>{}[\]?*"#%\\^|~`$&,;:/]/;
const isControl = (c: number) => c <= 0x1f || (c >= 0x7f && c <= 0x9f);

function invalidName(name: string): boolean {
  if (name.length < 1 || name.length > 80 || INVALID_NAME_CHARS.test(name)) return true;
  for (let i = 0; i < name.length; i++) if (isControl(name.charCodeAt(i))) return true;
  return false;
}

export function checkStateMachineArn(arn: string): void {
  if (!STATE_MACHINE_ARN.test(arn)) throw new AwsError('InvalidArn', `Invalid Arn: '${arn}'`, 400);
}

function checkExecutionArn(arn: string): void {
  if (!EXECUTION_ARN.test(arn)) throw new AwsError('InvalidArn', `Invalid Arn: '${arn}'`, 400);
}

/** The request's `stateMachineArn`: present and well-formed. */
export function stateMachineArnOf(input: Fields): string {
  const arn = requiredString(input, 'stateMachineArn');
  checkStateMachineArn(arn);
  return arn;
}

/** The request's `executionArn`: present and well-formed. */
export function executionArnOf(input: Fields): string {
  const arn = requiredString(input, 'executionArn');
  checkExecutionArn(arn);
  return arn;
}

/** StartExecution's `name`, a new UUID when absent. */
export function executionName(input: Fields): string {
  const name = optionalString(input, 'name') ?? randomUUID();
  if (invalidName(name)) throw new AwsError('InvalidName', `Invalid Name: '${name}'`, 400);
  return name;
}

/** StartExecution's `input` (`{}` when absent): its text, and its value. */
export function executionInput(input: Fields): { text: string; value: unknown } {
  const text = optionalString(input, 'input') ?? '{}';
  // The quota counts UTF-8 bytes. AWS treats the input as sensitive: the message does not quote it.
  if (payloadBytes(text) > MAX_PAYLOAD_BYTES) throw validationError('input', `have length less than or equal to ${MAX_PAYLOAD_BYTES}`);
  try {
    return { text, value: JSON.parse(text) as unknown };
  } catch {
    // The message does not echo the input: it may hold anything.
    throw new AwsError('InvalidExecutionInput', 'Invalid State Machine Execution Input: the input is not valid JSON.', 400);
  }
}

/** ListExecutions' `statusFilter`, if any. */
export function statusFilterOf(input: Fields): ExecutionStatus | undefined {
  const statusFilter = optionalString(input, 'statusFilter');
  if (statusFilter !== undefined && !EXECUTION_STATUSES.includes(statusFilter)) {
    throw validationError('statusFilter', `satisfy enum value set: [${EXECUTION_STATUSES.join(', ')}]`, { value: statusFilter });
  }
  return statusFilter as ExecutionStatus | undefined;
}

/** StopExecution's `error` and `cause`, each only if given. */
export function stopFailureOf(input: Fields): Partial<Failure> {
  const error = optionalString(input, 'error');
  const cause = optionalString(input, 'cause');
  // Both are sensitive members: the messages do not quote them.
  if (error !== undefined && error.length > 256) throw validationError('error', 'have length less than or equal to 256');
  if (cause !== undefined && cause.length > 32_768) throw validationError('cause', 'have length less than or equal to 32768');
  return { ...(error !== undefined ? { error } : {}), ...(cause !== undefined ? { cause } : {}) };
}

/** `maxResults`: 0 or absent means the default page. */
export function pageSize(input: Fields): number {
  const v = input.maxResults;
  if (v === undefined || v === null || v === 0) return DEFAULT_PAGE;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_PAGE) {
    throw validationError('maxResults', `have value less than or equal to ${MAX_PAGE}`, { value: v });
  }
  return v;
}

export function encodeToken(value: object): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

/** A pagination token that this service issued for the same request (`valid` says so), or InvalidToken. */
export function decodeToken<T>(token: string, valid: (t: Partial<T>) => boolean): T {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || !valid(parsed as Partial<T>)) {
    throw new AwsError('InvalidToken', 'Invalid Token: the pagination token is not valid for this request.', 400);
  }
  return parsed as T;
}
