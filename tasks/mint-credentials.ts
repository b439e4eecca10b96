/**
 * MintCredentials: AssumeRole on the tenant access role with the tenant isolation session policy
 * and the TenantId/UserId session tags, then seal the credentials with KMS under an encryption
 * context of (tenantId, userId, answerId). The output holds only the sealed blob: plaintext
 * credentials never enter the state, the execution history or the logs.
 *
 * A warm function keeps each (tenant, user) session it assumed and hands it out again while more
 * than the workflow's timeout (plus clock skew) of its 15 minutes remain (tasks/scoped-sessions.ts):
 * a user's questions within about 9 minutes make one AssumeRole. Every answer is still sealed on
 * its own, under its own encryption context.
 */
import { EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { STSClient } from '@aws-sdk/client-sts';
import * as z from 'zod/mini';
import { sdkConfig, type ClientOptions, type TaskConfig } from './config.ts';
import { classifyAwsError, ErrorName, WorkflowError } from './errors.ts';
import type { TableNames } from './tables.ts';
import type { AwsLocation } from './aws-location.ts';
import { ScopedSessions } from './scoped-sessions.ts';
import { assumeTenantRole, type ScopedCredentials } from './tenant-credentials.ts';
import { parseWorkflowInput, WORKFLOW_TIMEOUT_SECONDS, type Sealed } from './workflow-input.ts';
import './zod-locale.ts';

export interface MintCredentialsDeps {
  /** Signed with the mint-credentials role: the only principal the tenant access role trusts. */
  sts: STSClient;
  /** Signed with the mint-credentials role: kms:Encrypt with the seal context only. */
  kms: KMSClient;
  tenantAccessRoleArn: string;
  sealKeyId: string;
  location: AwsLocation;
  tables: TableNames;
  /** The warm function's sessions, reused per (tenant, user); absent: every question assumes its own. */
  sessions?: ScopedSessions;
}

/** The scoped session's life (AssumeRole DurationSeconds): STS's minimum. */
export const SCOPED_SESSION_SECONDS = 900;

/**
 * A kept session is handed out only while more than this remains: the workflow's timeout (every state
 * after MintCredentials ends within it) and a minute of clock skew between STS and the function.
 */
export const SESSION_MIN_REMAINING_SECONDS = WORKFLOW_TIMEOUT_SECONDS + 60;

/** The encryption context that binds sealed credentials to one asker and one answer. */
export function sealContext(identity: { tenantId: string; userId: string }, answerId: string): Record<string, string> {
  return { tenantId: identity.tenantId, userId: identity.userId, answerId };
}

export const ScopedCredentialsSchema = z.object({
  accessKeyId: z.string().check(z.minLength(16)),
  secretAccessKey: z.string().check(z.minLength(1)),
  sessionToken: z.string().check(z.minLength(1)),
  expiration: z.string(),
});

export async function mintCredentials(input: unknown, deps: MintCredentialsDeps): Promise<Sealed> {
  const { identity, request } = parseWorkflowInput(input);
  const asker = { tenantId: identity.tenantId, userId: identity.userId };
  const assume = () =>
    assumeTenantRole(asker, { sts: deps.sts, tenantAccessRoleArn: deps.tenantAccessRoleArn, location: deps.location, tables: deps.tables, durationSeconds: SCOPED_SESSION_SECONDS });
  let credentials: ScopedCredentials;
  try {
    credentials = deps.sessions ? (await deps.sessions.get(asker, assume)).credentials : await assume();
  } catch (err) {
    throw classifyAwsError(err, ErrorName.CredentialsFailed, 'AssumeRole on the tenant access role');
  }
  try {
    const out = await deps.kms.send(
      new EncryptCommand({
        KeyId: deps.sealKeyId,
        Plaintext: Buffer.from(JSON.stringify(credentials), 'utf8'),
        EncryptionContext: sealContext(identity, request.answerId),
      }),
    );
    if (!out.CiphertextBlob) throw new WorkflowError(ErrorName.CredentialsFailed, 'KMS returned no ciphertext');
    return { sealedCredentials: Buffer.from(out.CiphertextBlob).toString('base64'), expiration: credentials.expiration };
  } catch (err) {
    throw classifyAwsError(err, ErrorName.CredentialsFailed, 'Sealing the credentials with KMS');
  }
}

export function mintCredentialsDeps(config: TaskConfig, clients: ClientOptions): MintCredentialsDeps {
  return {
    sts: new STSClient(sdkConfig(clients)),
    kms: new KMSClient(sdkConfig(clients)),
    tenantAccessRoleArn: config.tenantAccessRoleArn,
    sealKeyId: config.sealKeyId,
    location: config.location,
    tables: config.tables,
    ...(config.scopedSessionReuse === false ? {} : { sessions: new ScopedSessions({ minRemainingSeconds: SESSION_MIN_REMAINING_SECONDS }) }),
  };
}
