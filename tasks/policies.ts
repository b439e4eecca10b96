/**
 * Every IAM policy document of the product, in one source file (the API's data source roles' in
 * api-policies.ts beside it, which keeps this file under the size limit). The CDK stack deploys exactly
 * these documents (with tokens for the ARNs); the local edge enforces exactly these documents
 * (with local ARNs). Nothing here uses `*` in an action or a resource, nor a prefix match.
 */
import { conversationPartition, ordersTablesArnPattern, tableArn, type TableNames } from './tables.ts';
import type { AwsLocation } from './aws-location.ts';
import type { AgentRuntimeKind } from './config.ts';
import type { TaskName } from './task-names.ts';
import { MODELS, modelInvokeArns } from './models.ts';
import { operatorAdminStatements } from './operator-admin-policy.ts';
import { meterUsageStatement, releaseSlotStatement } from './usage-policy.ts';

export interface PolicyStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource?: string | string[];
  Principal?: { AWS: string | string[] } | { Service: string | string[] };
  Condition?: Record<string, Record<string, string | string[]>>;
}

export interface PolicyDocument {
  Version: '2012-10-17';
  Statement: PolicyStatement[];
}

/** Session tags that carry the asker's identity on the tenant access role's sessions. */
export const SESSION_TAG_KEYS = { tenantId: 'TenantId', userId: 'UserId' } as const;

/** Encryption context keys that bind sealed credentials to one request. */
export const SEAL_CONTEXT_KEYS = ['tenantId', 'userId', 'answerId'] as const;

/** The read-only DynamoDB actions a tenant session may ever use. */
export const TENANT_READ_ACTIONS = ['dynamodb:GetItem', 'dynamodb:Query'] as const;

/**
 * What a tenant session may do in its asker's partition of the conversations table: read the turns
 * and write new ones (the invoke-agent task does, never the model). No Scan, no PartiQL, no delete,
 * no update: a turn is written once.
 */
export const CONVERSATION_ACTIONS = ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem'] as const;

/** ARNs the policies refer to. In CDK these are tokens; locally, plain strings. */
export interface PolicyResources {
  readonly location: AwsLocation;
  readonly tables: TableNames;
  readonly tenantAccessRoleArn: string;
  readonly mintCredentialsRoleArn: string;
  readonly invokeAgentRoleArn: string;
  readonly validateContextRoleArn: string;
  /** The publish-answer task's role: the only role that may call `publishAnswer`. */
  readonly publishRoleArn: string;
  /** The account's root principal, which administers the seal key. */
  readonly accountRootArn: string;
  /** The KMS key that seals minted credentials between states. */
  readonly sealKeyArn: string;
  /** The AppSync GraphQL API, for the publish-answer role. */
  readonly graphqlApiArn: string;
  /** Which agent runtime the invoke-agent task uses: its role may call that runtime's API only. */
  readonly agentRuntime: AgentRuntimeKind;
  /** The Bedrock agent alias InvokeAgent calls (the `bedrock-agent` runtime). */
  readonly agentAliasArn: string;
  /** The model id or inference profile id the `converse` runtime (or the agent) calls. */
  readonly modelId: string;
  /** The Express state machine. */
  readonly stateMachineArn: string;
  /** The Cognito user pool the customers sign in to (`arn:...:cognito-idp:<region>:<account>:userpool/<id>`). */
  readonly userPoolArn: string;
  /**
   * The CloudWatch log groups where an operator reads Express executions (a group's ARN, or an
   * ARN pattern such as every Step Functions vended log group of the account).
   */
  readonly executionLogGroupsArn?: string;
  /** The operator's Secrets Manager names for users' passwords (`<stack>/seed-users/`): operator-admin-policy.ts. */
  readonly userSecretNamePrefix?: string;
}

const doc = (...Statement: PolicyStatement[]): PolicyDocument => ({ Version: '2012-10-17', Statement });

function leadingKeysEqual(value: string): PolicyStatement['Condition'] {
  return {
    'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [value] },
    Null: { 'dynamodb:LeadingKeys': 'false' },
  };
}

/**
 * KMS use only with an encryption context made of the seal keys (and not without one). The values
 * are bound by the ciphertext itself: decrypting under any other context fails. The tasks' input
 * schemas require all three keys. (`kms:EncryptionContext:<key>` conditions are not used because
 * the local policy simulator does not evaluate that key family.)
 */
function sealContextCondition(): PolicyStatement['Condition'] {
  return {
    'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': [...SEAL_CONTEXT_KEYS] },
    Null: { 'kms:EncryptionContextKeys': 'false' },
  };
}

/**
 * Read-only access to one tenant's config row and one user's partition of that tenant's orders, and
 * read and write access to that user's partition of the conversations table.
 */
function tenantReadPolicy(
  res: Pick<PolicyResources, 'location' | 'tables'>,
  tenant: string,
  user: string,
  sidSuffix: string,
): PolicyDocument {
  return doc(
    {
      Sid: `TenantConfigRow${sidSuffix}`,
      Effect: 'Allow',
      Action: [...TENANT_READ_ACTIONS],
      Resource: tableArn(res.location, res.tables.config),
      Condition: leadingKeysEqual(tenant),
    },
    {
      Sid: `OwnOrders${sidSuffix}`,
      Effect: 'Allow',
      Action: [...TENANT_READ_ACTIONS],
      Resource: tableArn(res.location, res.tables.orders(tenant)),
      Condition: leadingKeysEqual(user),
    },
    {
      Sid: `OwnConversations${sidSuffix}`,
      Effect: 'Allow',
      Action: [...CONVERSATION_ACTIONS],
      Resource: tableArn(res.location, res.tables.conversations),
      Condition: leadingKeysEqual(conversationPartition(tenant, user)),
    },
  );
}

/**
 * The tenant isolation session policy, passed as `Policy` to AssumeRole by mint-credentials.
 * The effective permissions of the session are the intersection of this and the tenant access
 * role's identity policy: GetItem/Query on the tenant's config row and on the asker's partition of
 * the tenant's orders table, and GetItem/Query/PutItem on the asker's partition of the conversations
 * table (`<tenantId>#<userId>`), nothing else.
 */
export function tenantIsolationPolicy(
  res: Pick<PolicyResources, 'location' | 'tables'>,
  tenantId: string,
  userId: string,
): PolicyDocument {
  return tenantReadPolicy(res, tenantId, userId, '');
}

/**
 * The tenant access role's own (identity) policy: the same shape as the session policy, but keyed
 * on the session tags, so that a session policy bug alone cannot widen access (defence in depth).
 */
export function tenantAccessRolePolicy(res: Pick<PolicyResources, 'location' | 'tables'>): PolicyDocument {
  const tenantTag = `\${aws:PrincipalTag/${SESSION_TAG_KEYS.tenantId}}`;
  const userTag = `\${aws:PrincipalTag/${SESSION_TAG_KEYS.userId}}`;
  return tenantReadPolicy(res, tenantTag, userTag, 'ByTag');
}

/** Only the mint-credentials role may assume the tenant access role, and only with both tags. */
export function tenantAccessRoleTrustPolicy(res: Pick<PolicyResources, 'mintCredentialsRoleArn'>): PolicyDocument {
  const tagKeys = Object.values(SESSION_TAG_KEYS);
  return doc(
    {
      Sid: 'MintCredentialsAssumesWithIdentityTags',
      Effect: 'Allow',
      Principal: { AWS: res.mintCredentialsRoleArn },
      Action: 'sts:AssumeRole',
      // A session without both tags would be useless (the role policy is keyed on them): refuse it.
      Condition: { Null: Object.fromEntries(tagKeys.map((k) => [`aws:RequestTag/${k}`, 'false'])) },
    },
    {
      Sid: 'MintCredentialsTagsIdentity',
      Effect: 'Allow',
      Principal: { AWS: res.mintCredentialsRoleArn },
      Action: 'sts:TagSession',
      Condition: {
        'ForAllValues:StringEquals': { 'aws:TagKeys': tagKeys },
        Null: Object.fromEntries(tagKeys.map((k) => [`aws:RequestTag/${k}`, 'false'])),
      },
    },
  );
}

/**
 * The tasks that publish events to the asker (tasks/answer-events.ts) besides publish-answer (DONE
 * and FAILED): validate-context (ACCEPTED, PROGRESS) and invoke-agent (PROGRESS, CHUNK). Only the
 * publish role (publish-answer's) may call `publishAnswer`; these two publish as sessions of that
 * role (`sts:AssumeRole`, named after the task), so that the permission to write to an asker's
 * screen is held by exactly one role, and every publish names the task that made it.
 */
export const PUBLISH_ROLE_ASSUMERS = ['validate-context', 'invoke-agent'] as const satisfies readonly TaskName[];

/** `appsync:GraphQL` on the `publishAnswer` mutation field only: no query, no other field. */
function publishAnswerStatement(res: Pick<PolicyResources, 'graphqlApiArn'>): PolicyStatement {
  return {
    Sid: 'PublishAnswer',
    Effect: 'Allow',
    Action: 'appsync:GraphQL',
    Resource: `${res.graphqlApiArn}/types/Mutation/fields/publishAnswer`,
  };
}

/** For validate-context and invoke-agent: sessions of the publish role, to publish their events. */
function assumePublishRoleStatement(res: Pick<PolicyResources, 'publishRoleArn'>): PolicyStatement {
  return { Sid: 'PublishAsThePublishRole', Effect: 'Allow', Action: 'sts:AssumeRole', Resource: res.publishRoleArn };
}

/**
 * The publish role's trust policy: its Lambda function, and sessions for the two other publishing
 * tasks' roles. (Locally the roles sign with their own keys; only the role statement is used.)
 */
export function publishRoleTrustPolicy(res: Pick<PolicyResources, 'validateContextRoleArn' | 'invokeAgentRoleArn'>): PolicyDocument {
  return doc(
    { Sid: 'PublishAnswerFunction', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
    {
      Sid: 'ProgressPublishers',
      Effect: 'Allow',
      Principal: { AWS: [res.validateContextRoleArn, res.invokeAgentRoleArn] },
      Action: 'sts:AssumeRole',
    },
  );
}

/**
 * What the invoke-agent role may call to ask the model, by agent runtime: that runtime's API only
 * (an agent alias for InvokeAgent, the model for Converse). Keyed by kind, so a new runtime cannot
 * compile without saying what its role may call.
 */
const AGENT_RUNTIME_STATEMENTS: Record<AgentRuntimeKind, (res: PolicyResources) => PolicyStatement> = {
  'bedrock-agent': (res) => ({ Sid: 'InvokeTheAgent', Effect: 'Allow', Action: 'bedrock:InvokeAgent', Resource: res.agentAliasArn }),
  converse: (res) => modelInvokeStatement('ConverseWithTheModel', res.modelId, res.location),
};

/**
 * InvokeModel and InvokeModelWithResponseStream on what a request naming `modelId` reaches: the
 * model, or an inference profile and its models in every destination Region (tasks/models.ts,
 * modelInvokeArns). The converse role's statement and the Bedrock agent's role's (infra/aws/agent.ts).
 */
export function modelInvokeStatement(sid: string, modelId: string, location: AwsLocation): PolicyStatement {
  return { Sid: sid, Effect: 'Allow', Action: ['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream'], Resource: modelInvokeArns(modelId, location) };
}

/** One identity policy per task role. */
export function taskRolePolicies(res: PolicyResources): Record<TaskName, PolicyDocument> {
  const tagKeys = Object.values(SESSION_TAG_KEYS);
  return {
    'validate-context': doc(
      {
        Sid: 'ReadTenantConfig',
        Effect: 'Allow',
        Action: 'dynamodb:GetItem',
        Resource: tableArn(res.location, res.tables.config),
      },
      {
        // The answerId is claimed first (idempotency): a conditional PutItem, nothing else on that table.
        Sid: 'ClaimTheAnswer',
        Effect: 'Allow',
        Action: 'dynamodb:PutItem',
        Resource: tableArn(res.location, res.tables.claims),
      },
      {
        // A replayed run is validated again: the user must still exist and still belong to the tenant.
        Sid: 'LookUpTheAsker',
        Effect: 'Allow',
        Action: 'cognito-idp:AdminGetUser',
        Resource: res.userPoolArn,
      },
      assumePublishRoleStatement(res),
    ),
    'mint-credentials': doc(
      {
        Sid: 'AssumeTenantAccessRole',
        Effect: 'Allow',
        Action: 'sts:AssumeRole',
        Resource: res.tenantAccessRoleArn,
      },
      {
        Sid: 'TagTenantSessions',
        Effect: 'Allow',
        Action: 'sts:TagSession',
        Resource: res.tenantAccessRoleArn,
        Condition: { 'ForAllValues:StringEquals': { 'aws:TagKeys': tagKeys } },
      },
      {
        Sid: 'SealCredentials',
        Effect: 'Allow',
        Action: 'kms:Encrypt',
        Resource: res.sealKeyArn,
        Condition: sealContextCondition(),
      },
    ),
    'invoke-agent': doc(
      {
        Sid: 'UnsealCredentials',
        Effect: 'Allow',
        Action: 'kms:Decrypt',
        Resource: res.sealKeyArn,
        Condition: sealContextCondition(),
      },
      AGENT_RUNTIME_STATEMENTS[res.agentRuntime](res),
      assumePublishRoleStatement(res),
      meterUsageStatement(res),
    ),
    'publish-answer': doc(publishAnswerStatement(res), releaseSlotStatement(res)),
    'record-failure': doc({
      Sid: 'RecordFailedRun',
      Effect: 'Allow',
      Action: 'dynamodb:PutItem',
      Resource: tableArn(res.location, res.tables.runs),
    }),
  };
}

/**
 * Every administrative KMS action on a key, spelled out: the key-resource actions that CDK's key
 * administrator patterns (`Key.grantAdmin`: kms:Create*, Describe*, Enable*, List*, Put*, Update*,
 * Revoke*, Disable*, Get*, Delete*, TagResource, UntagResource, ScheduleKeyDeletion,
 * CancelKeyDeletion) expand to, plus RotateKeyOnDemand, which the KMS console's key administrator
 * statement adds. It covers what CloudFormation needs to update AWS::KMS::Key (UpdateKeyDescription,
 * Enable/DisableKeyRotation, Enable/DisableKey, List/Tag/UntagResource, PutKeyPolicy...). No
 * cryptographic action: CDK's default (`kms:*` for the account) would let any principal of the
 * account whose IAM policy allows kms:Decrypt unseal credentials; here only the key policy's
 * seal and unseal statements admit a use.
 */
export const KEY_ADMINISTRATION_ACTIONS = [
  'kms:CancelKeyDeletion',
  'kms:CreateAlias',
  'kms:CreateGrant',
  'kms:DeleteAlias',
  'kms:DeleteImportedKeyMaterial',
  'kms:DescribeKey',
  'kms:DisableKey',
  'kms:DisableKeyRotation',
  'kms:EnableKey',
  'kms:EnableKeyRotation',
  'kms:GetKeyPolicy',
  'kms:GetKeyRotationStatus',
  'kms:GetParametersForImport',
  'kms:GetPublicKey',
  'kms:ListGrants',
  'kms:ListKeyPolicies',
  'kms:ListKeyRotations',
  'kms:ListResourceTags',
  'kms:PutKeyPolicy',
  'kms:RevokeGrant',
  'kms:RotateKeyOnDemand',
  'kms:ScheduleKeyDeletion',
  'kms:TagResource',
  'kms:UntagResource',
  'kms:UpdateAlias',
  'kms:UpdateKeyDescription',
  'kms:UpdatePrimaryRegion',
] as const;

/**
 * The seal key's key policy. KMS requires the key policy to admit a caller; this one admits the
 * mint-credentials role to seal and the invoke-agent role to unseal (with the seal context only),
 * and the account root to administer the key (never to use it). `Resource` in a key policy always
 * means "this key", which KMS spells `*`.
 */
export function sealKeyPolicy(res: PolicyResources): PolicyDocument {
  return doc(
    {
      Sid: 'AdministerKey',
      Effect: 'Allow',
      Principal: { AWS: res.accountRootArn },
      Action: [...KEY_ADMINISTRATION_ACTIONS],
      Resource: '*',
    },
    {
      Sid: 'MintCredentialsSeals',
      Effect: 'Allow',
      Principal: { AWS: res.mintCredentialsRoleArn },
      Action: 'kms:Encrypt',
      Resource: '*',
      Condition: sealContextCondition(),
    },
    {
      Sid: 'InvokeAgentUnseals',
      Effect: 'Allow',
      Principal: { AWS: res.invokeAgentRoleArn },
      Action: 'kms:Decrypt',
      Resource: '*',
      Condition: sealContextCondition(),
    },
  );
}

/** Actions the operator (admin scripts: seeding, `npm run orders`) may use on the project's tables. */
export const OPERATOR_TABLE_ACTIONS = [
  'dynamodb:CreateTable',
  'dynamodb:DescribeTable',
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:ConditionCheckItem',
  'dynamodb:Query',
  'dynamodb:Scan',
  'dynamodb:BatchGetItem',
  'dynamodb:BatchWriteItem',
] as const;

/** Executions of a state machine: `arn:...:execution:<name>:<id>`. */
export function executionArnPattern(stateMachineArn: string): string {
  return `${stateMachineArn.replace(':stateMachine:', ':execution:')}:*`;
}

/**
 * What `npm run preflight` reads before a deployment (infra/aws/preflight.ts): the models' lifecycle,
 * the account's access to them and the inference profiles (Bedrock control plane), the account's
 * Agents Classic agents, and the CDK bootstrap version parameter. Read-only; the README lists these
 * as the permissions the preflight needs beside a deployer's own.
 */
export const PREFLIGHT_ACTIONS = [
  'bedrock:GetFoundationModel',
  'bedrock:GetFoundationModelAvailability',
  'bedrock:GetInferenceProfile',
  'bedrock:ListAgents',
  'ssm:GetParameter',
] as const;

/**
 * The actions of PREFLIGHT_ACTIONS that name no resource type in the Service Authorization
 * Reference (IAM allows them only on `*`): the one place a policy here says `*`.
 */
export const RESOURCELESS_PREFLIGHT_ACTIONS = ['bedrock:GetFoundationModelAvailability', 'bedrock:ListAgents'] as const;

/** The preflight's reads, on the models table's models and profiles in the deploy Region and the bootstrap parameters. */
export function preflightStatements(location: AwsLocation): PolicyStatement[] {
  const { partition, region, accountId } = location;
  return [
    {
      Sid: 'PreflightReadsModels',
      Effect: 'Allow',
      Action: 'bedrock:GetFoundationModel',
      Resource: MODELS.map((m) => `arn:${partition}:bedrock:${region}::foundation-model/${m.modelId}`),
    },
    {
      Sid: 'PreflightReadsProfiles',
      Effect: 'Allow',
      Action: 'bedrock:GetInferenceProfile',
      Resource: MODELS.flatMap((m) => Object.values(m.profiles)).map((id) => `arn:${partition}:bedrock:${region}:${accountId}:inference-profile/${id}`),
    },
    { Sid: 'PreflightReadsAccess', Effect: 'Allow', Action: [...RESOURCELESS_PREFLIGHT_ACTIONS], Resource: '*' },
    {
      Sid: 'PreflightReadsBootstrapVersion',
      Effect: 'Allow',
      Action: 'ssm:GetParameter',
      Resource: `arn:${partition}:ssm:${region}:${accountId}:parameter/cdk-bootstrap/*/version`,
    },
  ];
}

/**
 * The operator principal: administers the project's tables by name, inspects, stops and replays
 * executions of the assistant's state machine, and runs the deployment preflight.
 */
export function operatorPolicy(res: PolicyResources): PolicyDocument {
  const tables = [res.tables.config, res.tables.runs, res.tables.claims, res.tables.conversations, res.tables.usage];
  return doc(
    {
      Sid: 'AdministerProjectTables',
      Effect: 'Allow',
      Action: [...OPERATOR_TABLE_ACTIONS],
      Resource: tables.map((t) => tableArn(res.location, t)),
    },
    // Tenants are added at runtime, so their orders tables cannot be listed when this policy is
    // written: the operator's work on orders tables follows their name pattern, never `*`.
    { Sid: 'AdministerTenantOrders', Effect: 'Allow', Action: [...OPERATOR_TABLE_ACTIONS], Resource: ordersTablesArnPattern(res.location, res.tables) },
    {
      Sid: 'RunAndListExecutions',
      Effect: 'Allow',
      Action: ['states:StartExecution', 'states:ListExecutions', 'states:DescribeStateMachine'],
      Resource: res.stateMachineArn,
    },
    {
      Sid: 'InspectExecutions',
      Effect: 'Allow',
      Action: ['states:DescribeExecution', 'states:GetExecutionHistory', 'states:StopExecution'],
      Resource: executionArnPattern(res.stateMachineArn),
    },
    ...(res.executionLogGroupsArn
      ? [{ Sid: 'ReadExecutionLogs', Effect: 'Allow' as const, Action: ['logs:FilterLogEvents'], Resource: [res.executionLogGroupsArn, `${res.executionLogGroupsArn}:*`] }]
      : []),
    ...preflightStatements(res.location),
    ...operatorAdminStatements(res),
  );
}
