/**
 * `.data/local-env.json`: the running local stack's endpoints and the local principals' keys, a
 * dev convenience for scripts (`npm run orders`, `npm run creds`). Local keys only; never AWS ones.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { TASK_NAMES } from '../../tasks/policies.ts';
import { writePrivateFile } from './private-file.ts';
import type { LocalClientConfig, LocalStack, LocalUser } from './stack.ts';
import { API_DATA_SOURCE, OPERATOR, type LocalPrincipalName } from './principals.ts';

export const LOCAL_ENV_FILE = 'local-env.json';

export interface LocalEnv {
  region: string;
  accountId: string;
  endpoints: { edge: string; graphql: string; realtime: string };
  userPool: { id: string; clientId: string };
  persisted: boolean;
  tenantAccessRoleArn: string;
  stateMachineArn: string;
  principals: Record<string, { arn: string; accessKeyId: string; secretAccessKey: string }>;
  users: LocalUser[];
}

export function localEnvOf(stack: LocalStack, persisted: boolean): LocalEnv {
  return {
    region: stack.iam.location.region,
    accountId: stack.iam.location.accountId,
    endpoints: { edge: stack.edgeUrl, graphql: stack.graphqlUrl, realtime: stack.realtimeUrl },
    userPool: { id: stack.cognito.poolId, clientId: stack.cognito.clientId },
    persisted,
    tenantAccessRoleArn: stack.iam.resources.tenantAccessRoleArn,
    stateMachineArn: stack.iam.resources.stateMachineArn,
    principals: Object.fromEntries(
      ([...TASK_NAMES, OPERATOR, API_DATA_SOURCE] as LocalPrincipalName[]).map((name) => [name, { arn: stack.iam.principalArn(name), ...stack.iam.credentials(name) }]),
    ),
    users: stack.users.map((u) => ({ ...u })),
  };
}

export async function writeLocalEnv(env: LocalEnv, dataDir: string): Promise<string> {
  const file = path.resolve(dataDir, LOCAL_ENV_FILE);
  await writePrivateFile(file, `${JSON.stringify(env, null, 2)}\n`);
  return file;
}

export function readLocalEnv(dataDir = '.data'): LocalEnv {
  const file = path.resolve(dataDir, LOCAL_ENV_FILE);
  if (!existsSync(file)) {
    throw new Error(`${file} not found: start the local stack first (npm start).`);
  }
  return JSON.parse(readFileSync(file, 'utf8')) as LocalEnv;
}

/** For the CLIs: the local env, or a one-line explanation on stderr and exit code 1. */
export function readLocalEnvOrExit(dataDir: string): LocalEnv {
  try {
    return readLocalEnv(dataDir);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(1);
  }
}

export function principalConfig(env: LocalEnv, name: LocalPrincipalName): LocalClientConfig {
  const p = env.principals[name];
  if (!p) throw new Error(`No local principal '${name}' in ${LOCAL_ENV_FILE}.`);
  return {
    endpoint: env.endpoints.edge,
    region: env.region,
    credentials: { accessKeyId: p.accessKeyId, secretAccessKey: p.secretAccessKey },
    maxAttempts: 1,
  };
}

export function findUser(env: LocalEnv, username: string): LocalUser {
  const user = env.users.find((u) => u.username === username);
  if (!user) throw new Error(`Unknown user '${username}'. Local users: ${env.users.map((u) => u.username).join(', ')}`);
  return user;
}

/** Turns "connection refused" into advice. */
export function explainConnectionError(err: unknown, env: LocalEnv): string {
  const e = err as { code?: string; name?: string; message?: string; cause?: { code?: string } };
  const code = e.code ?? e.cause?.code;
  if (code === 'ECONNREFUSED') return `The local stack is not running at ${env.endpoints.edge}: start it with npm start.`;
  if (e.name === 'UnrecognizedClientException' || e.name === 'InvalidClientTokenId') {
    return `The stack at ${env.endpoints.edge} does not know these keys: it was restarted in --memory mode since ${LOCAL_ENV_FILE} was written? Restart npm start.`;
  }
  return `${e.name ?? 'Error'}: ${e.message ?? String(err)}`;
}
