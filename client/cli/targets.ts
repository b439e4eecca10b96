/**
 * Where the CLIs send their requests, and the three files that say so. This module owns their
 * formats; the local stack (infra/local) and the CDK app (infra/aws) write them, the CLIs read them.
 * - `.data/local-env.json`: the running local stack's endpoints and the local principals' keys.
 * - `.data/local-users.json`: the local user pool's users and their local passwords.
 * - `cdk-outputs.json`: a deployment's endpoints and names (`npm run deploy` writes it).
 */
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { CommandExit } from './command.ts';
import { withFileLock } from './file-lock.ts';
import { writePrivateFile } from './private-file.ts';

// --- cdk-outputs.json ------------------------------------------------------------------------------
// Written by `cdk deploy --outputs-file cdk-outputs.json`. The keys are the CfnOutput ids of
// infra/aws/stack.ts (its tests check that each key the CLIs read is output).

export const CDK_OUTPUTS_FILE = 'cdk-outputs.json';
/** The deployed stack's default name (infra/aws/stack-name.ts DEFAULT_STACK_NAME; a test checks they agree). */
export const STACK_NAME = 'MultiTenantAiAssistant';

/** What each CLI needs from the outputs, by output key. */
export const ASK_OUTPUTS = ['Region', 'GraphqlUrl', 'RealtimeUrl', 'UserPoolId', 'UserPoolClientId'] as const;
export const EXECUTIONS_OUTPUTS = ['Region', 'StateMachineArn', 'StateMachineLogGroupName', 'RunsTableName'] as const;
/** `npm run tenants` and `npm run users`: the config table, the tables' name prefix, the user pool, where user secrets go. */
export const ADMIN_OUTPUTS = ['Region', 'UserPoolId', 'ConfigTableName', 'TablePrefix', 'UserSecretPrefix'] as const;

/** Outputs whose empty value is a value (a table prefix of none), not a missing output. */
const MAY_BE_EMPTY: ReadonlySet<string> = new Set(['TablePrefix']);

export class DeployOutputsError extends Error {
  constructor(message: string) {
    super(`${message} Deploy (or redeploy) with npm run deploy, which writes ${CDK_OUTPUTS_FILE}.`);
    this.name = 'DeployOutputsError';
  }
}

/**
 * The named outputs of `stackName` in `file`; when the file has no such stack but exactly one other
 * (a deployment named with `-c stackName=...`), that one's. Fails with what is missing and how to
 * get it: no file, not JSON, no such stack, or keys an older deployment did not output.
 */
export function readDeployOutputs<K extends string>(keys: readonly K[], file = CDK_OUTPUTS_FILE, stackName = STACK_NAME): Record<K, string> {
  const resolved = path.resolve(file);
  if (!existsSync(resolved)) throw new DeployOutputsError(`${resolved} not found.`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(resolved, 'utf8'));
  } catch {
    throw new DeployOutputsError(`${resolved} is not valid JSON.`);
  }
  const stacks = parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : {};
  const names = Object.keys(stacks);
  if (!(stackName in stacks) && names.length === 1) stackName = names[0]!;
  const outputs = stacks[stackName];
  if (!outputs || typeof outputs !== 'object') {
    const found = Object.keys(stacks);
    throw new DeployOutputsError(`${resolved} has no outputs of stack ${stackName}${found.length ? ` (it has: ${found.join(', ')})` : ''}.`);
  }
  const values = outputs as Record<string, unknown>;
  const missing = keys.filter((k) => typeof values[k] !== 'string' || (values[k] === '' && !MAY_BE_EMPTY.has(k)));
  if (missing.length > 0) throw new DeployOutputsError(`${resolved} lacks ${missing.join(', ')} for stack ${stackName}.`);
  return Object.fromEntries(keys.map((k) => [k, values[k] as string])) as Record<K, string>;
}

/** For the CLI commands: the outputs, or a CommandExit (code 1) with the reason they cannot be read. */
export function readDeployOutputsForCommand<K extends string>(keys: readonly K[], file?: string): Record<K, string> {
  try {
    return readDeployOutputs(keys, file);
  } catch (err) {
    if (!(err instanceof DeployOutputsError)) throw err;
    throw new CommandExit(err.message, 1);
  }
}

// --- .data/local-env.json --------------------------------------------------------------------------
// The running local stack's endpoints and the local principals' keys, a dev convenience for the
// CLIs (`npm run ask`, `orders`, `creds`, `executions`). Local keys only; never AWS ones.

export const LOCAL_ENV_FILE = 'local-env.json';

/** A local user as the stack and its files name it: the token `sub` is assigned on first start. */
export interface LocalEnvUser {
  username: string;
  tenantId: string;
  sub: string;
}

export interface LocalEnv {
  region: string;
  accountId: string;
  endpoints: { edge: string; graphql: string; realtime: string };
  userPool: { id: string; clientId: string };
  persisted: boolean;
  tenantAccessRoleArn: string;
  stateMachineArn: string;
  /** The table of failed runs, which replay reads (the deployment's `RunsTableName`). */
  runsTable: string;
  /** The tenant config table (the deployment's `ConfigTableName`). */
  configTable: string;
  /** The prefix of every table name (`<prefix><tenantId>-orders`; the deployment's `TablePrefix`). */
  tablePrefix: string;
  principals: Record<string, { arn: string; accessKeyId: string; secretAccessKey: string }>;
  users: LocalEnvUser[];
}

/** AWS SDK v3 client configuration for a local principal (or any credentials) on the edge. */
export interface LocalClientConfig {
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  maxAttempts: number;
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

/** For the CLI commands: the local env, or a CommandExit (code 1) with a one-line explanation. */
export function readLocalEnvForCommand(dataDir: string): LocalEnv {
  try {
    return readLocalEnv(dataDir);
  } catch (err) {
    throw new CommandExit((err as Error).message, 1);
  }
}

/** For the CLI scripts: the local env, or a one-line explanation on stderr and exit code 1. */
export function readLocalEnvOrExit(dataDir: string): LocalEnv {
  try {
    return readLocalEnvForCommand(dataDir);
  } catch (err) {
    if (!(err instanceof CommandExit)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(err.code);
  }
}

export function principalConfig(env: LocalEnv, name: string): LocalClientConfig {
  const p = env.principals[name];
  if (!p) throw new Error(`No local principal '${name}' in ${LOCAL_ENV_FILE}.`);
  return {
    endpoint: env.endpoints.edge,
    region: env.region,
    credentials: { accessKeyId: p.accessKeyId, secretAccessKey: p.secretAccessKey },
    maxAttempts: 1,
  };
}

export function findUser(env: LocalEnv, username: string): LocalEnvUser {
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

// --- .data/local-users.json ------------------------------------------------------------------------
// The local user pool's users (owner-only): usernames, the temporary passwords still valid, and the
// passwords the CLI chose for users who completed their first sign-in.

export const LOCAL_USERS_FILE = 'local-users.json';

export type LocalUserStatus = 'FORCE_CHANGE_PASSWORD' | 'CONFIRMED';

export interface LocalUsersFile {
  region: string;
  userPoolId: string;
  clientId: string;
  issuer: string;
  users: (LocalEnvUser & {
    status: LocalUserStatus;
    temporaryPassword?: string;
    /** The password `npm run ask` chose at the first sign-in (local dev convenience; kept across starts). */
    password?: string;
  })[];
}

export async function readLocalUsers(dataDir = '.data'): Promise<LocalUsersFile> {
  const file = path.resolve(dataDir, LOCAL_USERS_FILE);
  if (!existsSync(file)) throw new Error(`${file} not found: start the local stack first (npm start).`);
  return JSON.parse(await readFile(file, 'utf8')) as LocalUsersFile;
}

/**
 * Writes `doc` as `<dataDir>/local-users.json`, keeping the passwords the CLI chose (in the previous
 * file) for users who are still CONFIRMED with the same sub. Serialised with every other update of
 * the file (this process's and other processes', file-lock.ts) and written atomically.
 */
export async function writeLocalUsersFile(dataDir: string, doc: LocalUsersFile): Promise<string> {
  const file = path.resolve(dataDir, LOCAL_USERS_FILE);
  await withFileLock(file, async () => {
    const previous = existsSync(file) ? ((JSON.parse(await readFile(file, 'utf8')) as LocalUsersFile).users ?? []) : [];
    const users = doc.users.map((u) => {
      const kept = previous.find((p) => p.username === u.username && p.sub === u.sub)?.password;
      return u.status === 'CONFIRMED' && kept ? { ...u, password: kept } : u;
    });
    await writePrivateFile(file, `${JSON.stringify({ ...doc, users }, null, 2)}\n`);
  });
  return file;
}

/**
 * Records the password a local user now has (after the CLI completed NEW_PASSWORD_REQUIRED): a
 * read-modify-write of the file under its lock, so that concurrent first sign-ins (separate `npm run
 * ask` processes) each keep their password.
 */
export async function rememberLocalPassword(dataDir: string, username: string, password: string): Promise<void> {
  const file = path.resolve(dataDir, LOCAL_USERS_FILE);
  await withFileLock(file, async () => {
    const doc = await readLocalUsers(dataDir);
    doc.users = doc.users.map((u) => {
      if (u.username !== username) return u;
      const { temporaryPassword: _done, ...rest } = u;
      return { ...rest, status: 'CONFIRMED' as const, password };
    });
    await writePrivateFile(file, `${JSON.stringify(doc, null, 2)}\n`);
  });
}
