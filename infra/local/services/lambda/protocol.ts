/**
 * Messages between the local Lambda runtime (runtime.ts) and its sandbox (worker.ts),
 * and how a function is built from its definition, in the sandbox and in the stack's own thread alike.
 */
import { taskConfigFromEnv } from '../../../../tasks/config.ts';
import type { HandlerOptions } from '../../../../tasks/handler.ts';
import { createTaskHandler, type TaskHandler } from '../../../../tasks/task-modules.ts';
import type { TaskName } from '../../../../tasks/task-names.ts';
import type { LocalCredentials } from '../../iam/principals.ts';
import type { ErrorDocument } from './invocation.ts';

/** One function as the sandbox builds it: its ARN, task, Lambda environment and role credentials. */
export interface SandboxFunction {
  functionArn: string;
  task: TaskName;
  /** The environment CDK gives the function (`taskEnvironment`), plus AWS_REGION. */
  environment: Record<string, string>;
  credentials: LocalCredentials;
}

/**
 * A function as its Lambda runs it: configured from its environment (`taskConfigFromEnv`), signing
 * with its role's credentials, every SDK call sent to `endpoint` (the edge).
 */
export function buildFunction(fn: SandboxFunction, endpoint: string, options: HandlerOptions): TaskHandler {
  const config = taskConfigFromEnv(fn.environment);
  return createTaskHandler(fn.task, config, { region: config.location.region, endpoint, credentials: fn.credentials }, options);
}

export interface SandboxInit {
  kind: 'init';
  /** Where the functions' SDK clients send every call: the edge. */
  endpoint: string;
  functions: SandboxFunction[];
}

export interface SandboxRequest {
  kind: 'invoke';
  id: number;
  functionArn: string;
  event: unknown;
}

export type SandboxReply =
  | { kind: 'ready' }
  | { kind: 'result'; id: number; result: unknown }
  /** The function threw: its error document, as the Node.js runtime reports it. */
  | { kind: 'error'; id: number; payload: ErrorDocument }
  /** Lambda itself failed the invocation (no such function): no function error. */
  | { kind: 'service-error'; id: number; name: `Lambda.${string}`; message: string }
  | { kind: 'log'; functionArn: string; line: Record<string, unknown> };
