/**
 * Task configuration: what a task needs to know about its deployment. On Lambda it comes from the
 * function's environment (set by CDK); the local stack passes the same object. Credentials are not
 * configuration: each task signs with its own role's credentials, however the runtime supplies them.
 */
import * as z from 'zod/mini';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { TableNames } from './tables.ts';
import type { AwsLocation } from './aws-location.ts';
import './zod-locale.ts';

export const AGENT_RUNTIMES = ['bedrock-agent', 'converse'] as const;
export type AgentRuntimeKind = (typeof AGENT_RUNTIMES)[number];

/** What each agent runtime is, in one line (help texts). Keyed by kind: a new runtime must say what it is. */
export const AGENT_RUNTIME_SUMMARIES: Record<AgentRuntimeKind, string> = {
  'bedrock-agent': 'Bedrock Agents (Classic) InvokeAgent with return of control; needs an agent and an alias',
  converse: 'the Bedrock Converse API on the model, with the tool loop in the invoke-agent task',
};

export interface TaskConfig {
  readonly location: AwsLocation;
  readonly tables: TableNames;
  readonly tenantAccessRoleArn: string;
  /**
   * The publish role (publish-answer's), the only one allowed to call `publishAnswer`: the other
   * publishing tasks publish their progress events as sessions of it.
   */
  readonly publishRoleArn: string;
  /** Key id, ARN or alias of the KMS key that seals minted credentials. */
  readonly sealKeyId: string;
  /** The AppSync GraphQL endpoint the answers are published to. */
  readonly graphqlUrl: string;
  readonly agentRuntime: AgentRuntimeKind;
  readonly agentId: string;
  readonly agentAliasId: string;
  readonly modelId: string;
  /** The Cognito user pool the askers belong to (ValidateContext checks the asker still does). */
  readonly userPoolId: string;
  /**
   * Whether a warm mint-credentials function reuses a (tenant, user) scoped session (tasks/scoped-sessions.ts).
   * @default true; false only to measure the cost of one AssumeRole per question (`npm run bench -- workflow`)
   */
  readonly scopedSessionReuse?: boolean;
}

/** How a task's SDK clients are built: region, and where the runtime supplies them, endpoint and credentials. */
export interface ClientOptions {
  readonly region: string;
  /** Unset on Lambda. Locally, the edge (the SDK also honours AWS_ENDPOINT_URL). */
  readonly endpoint?: string;
  readonly credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
}

const RoleArn = z.string().check(z.regex(/^arn:[\w-]+:iam::\d{12}:role\/.+$/, 'must be an IAM role ARN'));

const EnvSchema = z.object({
  AWS_REGION: z.string().check(z.minLength(1)),
  TABLE_PREFIX: z._default(z.string(), ''),
  TENANT_ACCESS_ROLE_ARN: RoleArn,
  PUBLISH_ROLE_ARN: RoleArn,
  SEAL_KEY_ID: z.string().check(z.minLength(1)),
  GRAPHQL_URL: z.url(),
  AGENT_RUNTIME: z._default(z.enum(AGENT_RUNTIMES), 'converse'),
  AGENT_ID: z._default(z.string(), ''),
  AGENT_ALIAS_ID: z._default(z.string(), ''),
  MODEL_ID: z._default(z.string(), ''),
  USER_POOL_ID: z.string().check(z.regex(/^[\w-]+_[0-9a-zA-Z]+$/, 'must be a Cognito user pool id')),
  SCOPED_SESSION_REUSE: z._default(z.enum(['on', 'off']), 'on'),
});

/** The task configuration from a Lambda function's environment; fails naming the missing variables. */
export function taskConfigFromEnv(env: NodeJS.ProcessEnv = process.env): TaskConfig {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`Task configuration is incomplete: ${problems}`);
  }
  const e = parsed.data;
  const [, partition = 'aws', , , accountId = ''] = e.TENANT_ACCESS_ROLE_ARN.split(':');
  return {
    location: { partition, region: e.AWS_REGION, accountId },
    tables: new TableNames(e.TABLE_PREFIX),
    tenantAccessRoleArn: e.TENANT_ACCESS_ROLE_ARN,
    publishRoleArn: e.PUBLISH_ROLE_ARN,
    sealKeyId: e.SEAL_KEY_ID,
    graphqlUrl: e.GRAPHQL_URL,
    agentRuntime: e.AGENT_RUNTIME,
    agentId: e.AGENT_ID,
    agentAliasId: e.AGENT_ALIAS_ID,
    modelId: e.MODEL_ID,
    userPoolId: e.USER_POOL_ID,
    scopedSessionReuse: e.SCOPED_SESSION_REUSE === 'on',
  };
}

/** The environment CDK sets for a task's Lambda function (the inverse of taskConfigFromEnv). */
export function taskEnvironment(config: Omit<TaskConfig, 'location'> & { tablePrefix: string }): Record<string, string> {
  return {
    TABLE_PREFIX: config.tablePrefix,
    TENANT_ACCESS_ROLE_ARN: config.tenantAccessRoleArn,
    PUBLISH_ROLE_ARN: config.publishRoleArn,
    SEAL_KEY_ID: config.sealKeyId,
    GRAPHQL_URL: config.graphqlUrl,
    AGENT_RUNTIME: config.agentRuntime,
    AGENT_ID: config.agentId,
    AGENT_ALIAS_ID: config.agentAliasId,
    MODEL_ID: config.modelId,
    USER_POOL_ID: config.userPoolId,
    ...(config.scopedSessionReuse === false ? { SCOPED_SESSION_REUSE: 'off' } : {}),
  };
}

/**
 * SDK client configuration from ClientOptions. One attempt: the state machine's Retry owns retrying
 * (with backoff, visible in the execution history), instead of hidden SDK retries inside a task.
 * The middleware stack is built once per command class, not at every call (no task adds
 * middleware to a single command): about 15% less CPU per call. Not for DynamoDB: see dynamoConfig.
 */
export function sdkConfig(options: ClientOptions) {
  return {
    region: options.region,
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
    maxAttempts: 1,
    cacheMiddleware: true,
  };
}

/**
 * sdkConfig for a DynamoDB client, which the tasks use through lib-dynamodb's DynamoDBDocumentClient:
 * that one adds its (un)marshalling middleware per command, and refuses a client with `cacheMiddleware`.
 */
export function dynamoConfig(options: ClientOptions) {
  return { ...sdkConfig(options), cacheMiddleware: false };
}
