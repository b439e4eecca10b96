/**
 * The local IAM: roles with their identity and trust policies (from tasks/policies.ts), the local
 * principals that hold long-term keys (one per task role, and the operator), and the temporary
 * sessions that STS AssumeRole creates. Keys are generated at run time, never committed.
 */
import { randomBytes } from 'node:crypto';
import { operatorPolicy, publishRoleTrustPolicy, taskRolePolicies, tenantAccessRolePolicy, tenantAccessRoleTrustPolicy, type PolicyDocument, type PolicyResources } from '../../../tasks/policies.ts';
import { apiDataSourcePolicy, apiUsageDataSourcePolicy } from '../../../tasks/api-policies.ts';
import type { AgentRuntimeKind } from '../../../tasks/config.ts';
import { TASK_NAMES, type TaskName } from '../../../tasks/task-names.ts';
import { TableNames } from '../../../tasks/tables.ts';
import type { AwsLocation } from '../../../tasks/aws-location.ts';
import { DEFAULT_MODEL_ID, profileForRegion } from '../../../tasks/models.ts';
import { AuthError } from '../edge/aws-error.ts';
import { SessionTokens } from './session-tokens.ts';

export const LOCAL_LOCATION: AwsLocation = { partition: 'aws', region: 'us-east-1', accountId: '000000000000' };

export const TENANT_ACCESS_ROLE = 'tenant-access';
export const OPERATOR = 'operator';
/** The local AppSync's HTTP data source role (AppSync's service role on AWS). */
export const API_DATA_SOURCE = 'appsync-api';
/** The role of the API's DynamoDB data sources (usage and config tables): apiUsageDataSourcePolicy. */
export const API_USAGE_DATA_SOURCE = 'appsync-usage-data-source';
export type LocalPrincipalName = TaskName | typeof OPERATOR | typeof API_DATA_SOURCE | typeof API_USAGE_DATA_SOURCE;

export interface Role {
  name: string;
  arn: string;
  roleId: string;
  identityPolicies: { name: string; policy: PolicyDocument }[];
  trustPolicy?: PolicyDocument;
}

/** Whoever signed a request, as the policy evaluator needs it. */
export interface Principal {
  /** The ARN AWS reports as the caller (`assumed-role/...` for role sessions). */
  arn: string;
  /** The IAM user or role the principal belongs to. */
  ownerArn: string;
  /** Unique id of this identity, e.g. `AROA...:session` (the `aws:userid` key). */
  userId: string;
  identityPolicies: { name: string; policy: PolicyDocument }[];
  sessionPolicy?: PolicyDocument;
  tags: Record<string, string>;
  /** Set for STS sessions. */
  expiresAt?: Date;
}

export interface LocalCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

interface KeyEntry {
  secretAccessKey: string;
  sessionToken?: string;
  principal: Principal;
}

const ALPHANUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** AWS-shaped key ids: a 4-letter kind prefix and 16 random base32 characters. */
export function newAccessKeyId(prefix: 'AKIA' | 'ASIA'): string {
  const bytes = randomBytes(16);
  let id = prefix;
  for (const b of bytes) id += ALPHANUM[b % 32];
  return id;
}

export function newSecretAccessKey(): string {
  return randomBytes(30).toString('base64');
}

function uniqueId(prefix: string): string {
  return prefix + randomBytes(10).toString('hex').toUpperCase().slice(0, 17);
}

/** How often, at most, `pruneSessions` sweeps the sessions. */
const PRUNE_INTERVAL_MS = 60_000;

export interface PersistedKeys {
  principals: Record<string, { accessKeyId: string; secretAccessKey: string }>;
}

export interface LocalIamOptions {
  tables?: TableNames;
  location?: AwsLocation;
  /** Keys from an earlier start (persisted mode), so that scripts keep working. */
  keys?: PersistedKeys;
  /** The invoke-agent role may call this runtime's API only. @default 'bedrock-agent' */
  agentRuntime?: AgentRuntimeKind;
  /** The model (id or inference profile id) the `converse` runtime may invoke. @default LOCAL_MODEL_ID */
  modelId?: string;
}

export class LocalIam {
  readonly location: AwsLocation;
  readonly tables: TableNames;
  readonly resources: PolicyResources;
  readonly roles = new Map<string, Role>();
  private readonly keys = new Map<string, KeyEntry>();
  private readonly sessionTokens = new SessionTokens();
  /** Clock time of the last sweep of expired sessions. */
  private lastPrune?: number;
  private readonly longTerm = new Map<LocalPrincipalName, LocalCredentials & { arn: string }>();

  constructor(options: LocalIamOptions = {}) {
    this.location = options.location ?? LOCAL_LOCATION;
    this.tables = options.tables ?? new TableNames();
    const { partition, accountId, region } = this.location;
    const roleArn = (name: string) => `arn:${partition}:iam::${accountId}:role/${name}`;
    this.resources = {
      location: this.location,
      tables: this.tables,
      tenantAccessRoleArn: roleArn(TENANT_ACCESS_ROLE),
      mintCredentialsRoleArn: roleArn('mint-credentials'),
      invokeAgentRoleArn: roleArn('invoke-agent'),
      validateContextRoleArn: roleArn('validate-context'),
      publishRoleArn: roleArn('publish-answer'),
      accountRootArn: `arn:${partition}:iam::${accountId}:root`,
      sealKeyArn: `arn:${partition}:kms:${region}:${accountId}:key/${SEAL_KEY_ID}`,
      graphqlApiArn: `arn:${partition}:appsync:${region}:${accountId}:apis/local`,
      agentRuntime: options.agentRuntime ?? 'bedrock-agent',
      agentAliasArn: `arn:${partition}:bedrock:${region}:${accountId}:agent-alias/${LOCAL_AGENT_ID}/${LOCAL_AGENT_ALIAS_ID}`,
      modelId: options.modelId ?? LOCAL_MODEL_ID,
      stateMachineArn: `arn:${partition}:states:${region}:${accountId}:stateMachine:${STATE_MACHINE_NAME}`,
      userPoolArn: userPoolArn(this.location, localUserPoolId(region)),
      // Every Step Functions vended log group of the account: the operator inspects state machines.
      executionLogGroupsArn: `arn:${partition}:logs:${region}:${accountId}:log-group:/aws/vendedlogs/states/*`,
      // As the deployed stack names them (infra/aws/seed-users.ts): `<stack name>/seed-users/<username>`.
      userSecretNamePrefix: LOCAL_USER_SECRET_PREFIX,
    };

    const taskPolicies = taskRolePolicies(this.resources);
    for (const task of TASK_NAMES) {
      this.addRole({
        name: task,
        arn: roleArn(task),
        roleId: uniqueId('AROA'),
        identityPolicies: [{ name: `${task}-policy`, policy: taskPolicies[task] }],
        // The publish role is also assumed by the other publishing tasks (tasks/answer-events.ts).
        ...(task === 'publish-answer' ? { trustPolicy: publishRoleTrustPolicy(this.resources) } : {}),
      });
    }
    this.addRole({
      name: TENANT_ACCESS_ROLE,
      arn: this.resources.tenantAccessRoleArn,
      roleId: uniqueId('AROA'),
      identityPolicies: [{ name: 'tenant-access-policy', policy: tenantAccessRolePolicy(this.resources) }],
      trustPolicy: tenantAccessRoleTrustPolicy(this.resources),
    });

    for (const task of TASK_NAMES) {
      const role = this.roles.get(task)!;
      // Locally a task role signs with long-term keys, but it is reported as a Lambda's role session.
      this.addLongTerm(task, options.keys, {
        arn: `arn:${partition}:sts::${accountId}:assumed-role/${task}/${task}`,
        ownerArn: role.arn,
        userId: `${role.roleId}:${task}`,
        identityPolicies: role.identityPolicies,
        tags: {},
      });
    }
    const apiRole = { name: API_DATA_SOURCE, arn: roleArn(API_DATA_SOURCE), roleId: uniqueId('AROA'), identityPolicies: [{ name: 'appsync-api-policy', policy: apiDataSourcePolicy(this.resources) }] };
    this.addRole(apiRole);
    this.addLongTerm(API_DATA_SOURCE, options.keys, {
      arn: `arn:${partition}:sts::${accountId}:assumed-role/${API_DATA_SOURCE}/appsync`,
      ownerArn: apiRole.arn,
      userId: `${apiRole.roleId}:appsync`,
      identityPolicies: apiRole.identityPolicies,
      tags: {},
    });
    const usageRole = {
      name: API_USAGE_DATA_SOURCE,
      arn: roleArn(API_USAGE_DATA_SOURCE),
      roleId: uniqueId('AROA'),
      identityPolicies: [{ name: 'appsync-usage-data-source-policy', policy: apiUsageDataSourcePolicy(this.resources) }],
    };
    this.addRole(usageRole);
    this.addLongTerm(API_USAGE_DATA_SOURCE, options.keys, {
      arn: `arn:${partition}:sts::${accountId}:assumed-role/${API_USAGE_DATA_SOURCE}/appsync`,
      ownerArn: usageRole.arn,
      userId: `${usageRole.roleId}:appsync`,
      identityPolicies: usageRole.identityPolicies,
      tags: {},
    });
    const operatorArn = `arn:${partition}:iam::${accountId}:user/${OPERATOR}`;
    this.addLongTerm(OPERATOR, options.keys, {
      arn: operatorArn,
      ownerArn: operatorArn,
      userId: uniqueId('AIDA'),
      identityPolicies: [{ name: 'operator-policy', policy: operatorPolicy(this.resources) }],
      tags: {},
    });
  }

  private addRole(role: Role): void {
    this.roles.set(role.name, role);
  }

  private addLongTerm(name: LocalPrincipalName, persisted: PersistedKeys | undefined, principal: Principal): void {
    const saved = persisted?.principals[name];
    const creds = saved ?? { accessKeyId: newAccessKeyId('AKIA'), secretAccessKey: newSecretAccessKey() };
    this.keys.set(creds.accessKeyId, { secretAccessKey: creds.secretAccessKey, principal });
    this.longTerm.set(name, { ...creds, arn: principal.arn });
  }

  /** Credentials of a local principal (a task role or the operator). */
  credentials(name: LocalPrincipalName): LocalCredentials {
    const creds = this.longTerm.get(name);
    if (!creds) throw new Error(`No local principal named ${name}`);
    return { accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey };
  }

  principalArn(name: LocalPrincipalName): string {
    return this.longTerm.get(name)!.arn;
  }

  persistedKeys(): PersistedKeys {
    const principals: PersistedKeys['principals'] = {};
    for (const [name, c] of this.longTerm) principals[name] = { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey };
    return { principals };
  }

  roleByArn(arn: string): Role | undefined {
    for (const role of this.roles.values()) if (role.arn === arn) return role;
    return undefined;
  }

  /** Registers an STS session (its principal names when it expires); returns its temporary credentials. */
  createSession(principal: Principal): LocalCredentials {
    if (!principal.expiresAt) throw new Error('An STS session needs its expiry (expiresAt).');
    const accessKeyId = newAccessKeyId('ASIA');
    const creds = { accessKeyId, secretAccessKey: newSecretAccessKey(), sessionToken: this.sessionTokens.issue(accessKeyId, principal.expiresAt) };
    this.keys.set(creds.accessKeyId, { secretAccessKey: creds.secretAccessKey, sessionToken: creds.sessionToken, principal });
    return creds;
  }

  /** How many STS sessions are held (live ones, and expired ones not swept yet). */
  sessionCount(): number {
    let n = 0;
    for (const e of this.keys.values()) if (e.sessionToken) n++;
    return n;
  }

  /** The temporary credentials STS has issued and still knows (tests scan outputs for them). */
  issuedSessions(): LocalCredentials[] {
    const out: LocalCredentials[] = [];
    for (const [accessKeyId, e] of this.keys) {
      if (e.sessionToken) out.push({ accessKeyId, secretAccessKey: e.secretAccessKey, sessionToken: e.sessionToken });
    }
    return out;
  }

  /**
   * Drops the STS sessions that have expired: their credentials are refused as expired from their
   * token alone (session-tokens.ts), so nothing of them needs to be kept, and the registry holds the
   * live sessions only (memory flat in steady state). A sweep visits every session, so it runs at
   * most once a minute of the clock (and whenever the clock went back).
   */
  pruneSessions(now: Date): void {
    const t = now.getTime();
    if (this.lastPrune !== undefined && t >= this.lastPrune && t - this.lastPrune < PRUNE_INTERVAL_MS) return;
    this.lastPrune = t;
    for (const [id, entry] of this.keys) {
      const exp = entry.principal.expiresAt;
      if (exp && exp.getTime() <= t) this.keys.delete(id);
    }
  }

  /**
   * The secret and principal for an access key, after checking the session token.
   * Throws AuthError UnrecognizedClient (unknown key, missing or wrong token) or ExpiredToken (a
   * session past its expiry, whether it is still held or was swept: its own token says so).
   */
  resolve(accessKeyId: string, sessionToken: string | undefined, now: Date): { secretAccessKey: string; principal: Principal } {
    const entry = this.keys.get(accessKeyId);
    if (!entry) {
      const swept = sessionToken === undefined ? undefined : this.sessionTokens.expiryOf(accessKeyId, sessionToken);
      throw new AuthError(swept && swept.getTime() <= now.getTime() ? 'ExpiredToken' : 'UnrecognizedClient');
    }
    if (entry.sessionToken !== undefined || sessionToken !== undefined) {
      if (entry.sessionToken !== sessionToken) throw new AuthError('UnrecognizedClient');
    }
    const exp = entry.principal.expiresAt;
    if (exp && exp.getTime() <= now.getTime()) throw new AuthError('ExpiredToken');
    return entry;
  }
}

/** The single local KMS key that seals minted credentials. */
export const SEAL_KEY_ID = '0c0ffee0-5ea1-4c0d-9c0d-000000000001';
export const SEAL_KEY_ALIAS = 'alias/assistant-credentials';

/** The local Bedrock agent ids (the stand-in serves exactly these). */
export const LOCAL_AGENT_ID = 'LOCALAGENT';
export const LOCAL_AGENT_ALIAS_ID = 'LOCALALIAS';
/**
 * The local stack's model (`npm start -- --model-id` chooses another from tasks/models.ts): the
 * default model (Claude Haiku 4.5) through the inference profile of the local Region's geography,
 * as the CDK app chooses it (us-east-1: the us. profile). The local agent plays it.
 */
export const LOCAL_MODEL_ID = profileForRegion(DEFAULT_MODEL_ID, LOCAL_LOCATION.region);
export const STATE_MACHINE_NAME = 'assistant';
/** Where the local Step Functions delivers each execution's log records (level ALL), as CDK configures on AWS. */
export const STATE_MACHINE_LOG_GROUP = `/aws/vendedlogs/states/${STATE_MACHINE_NAME}`;

/**
 * The local user pool's id: `<region>_` and nine letters or digits, as Cognito's are. Fixed (like the
 * agent ids) so that IAM policies can name the pool before the stand-in starts.
 */
export function localUserPoolId(region: string): string {
  return `${region}_LocalPool`;
}

/** Where the local operator keeps users' passwords in Secrets Manager, named as on AWS (the default stack name). */
export const LOCAL_USER_SECRET_PREFIX = 'MultiTenantAiAssistant/seed-users/';

export function userPoolArn(location: AwsLocation, userPoolId: string): string {
  return `arn:${location.partition}:cognito-idp:${location.region}:${location.accountId}:userpool/${userPoolId}`;
}
