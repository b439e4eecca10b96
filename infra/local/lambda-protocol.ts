/** Messages between the local Lambda runtime (lambda-runtime.ts) and its sandbox (lambda-worker.ts). */
import type { TaskName } from '../../tasks/policies.ts';
import type { LocalCredentials } from './principals.ts';

/** One function as the sandbox builds it: its ARN, task, Lambda environment and role credentials. */
export interface SandboxFunction {
  functionArn: string;
  task: TaskName;
  /** The environment CDK gives the function (`taskEnvironment`), plus AWS_REGION. */
  environment: Record<string, string>;
  credentials: LocalCredentials;
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
  | { kind: 'error'; id: number; name: string; message: string }
  | { kind: 'log'; functionArn: string; line: Record<string, unknown> };
