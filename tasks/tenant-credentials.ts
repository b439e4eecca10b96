/**
 * Scoped credentials for one asker: AssumeRole on the tenant access role with the tenant isolation
 * session policy and the TenantId/UserId session tags. The mint-credentials task uses this (and then
 * seals the result); `npm run creds` uses it to show what a request would get.
 */
import { AssumeRoleCommand, type STSClient } from '@aws-sdk/client-sts';
import * as z from 'zod/mini';
import { SESSION_TAG_KEYS, tenantIsolationPolicy } from './policies.ts';
import type { TableNames } from './tables.ts';
import type { AwsLocation } from './aws-location.ts';
import { IdentitySchema } from './workflow-input.ts';
import './zod-locale.ts';

/** The asker, as taken from the verified token. */
export const AskerSchema = z.pick(IdentitySchema, { tenantId: true, userId: true });
export type Asker = z.infer<typeof AskerSchema>;

export interface ScopedCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  /** ISO-8601. */
  expiration: string;
}

export interface TenantCredentialsDeps {
  sts: STSClient;
  tenantAccessRoleArn: string;
  location: AwsLocation;
  tables: TableNames;
  /** @default 900 (the minimum: a question's whole workflow fits in it) */
  durationSeconds?: number;
}

/** `t-<tenant>.<user>`, cut to STS's 64-character limit; for CloudTrail readers, not for security. */
export function roleSessionName(asker: Asker): string {
  return `t-${asker.tenantId}.${asker.userId}`.slice(0, 64);
}

export async function assumeTenantRole(input: Asker, deps: TenantCredentialsDeps): Promise<ScopedCredentials> {
  const asker = AskerSchema.parse(input);
  const policy = tenantIsolationPolicy({ location: deps.location, tables: deps.tables }, asker.tenantId, asker.userId);
  const out = await deps.sts.send(
    new AssumeRoleCommand({
      RoleArn: deps.tenantAccessRoleArn,
      RoleSessionName: roleSessionName(asker),
      DurationSeconds: deps.durationSeconds ?? 900,
      Policy: JSON.stringify(policy),
      Tags: [
        { Key: SESSION_TAG_KEYS.tenantId, Value: asker.tenantId },
        { Key: SESSION_TAG_KEYS.userId, Value: asker.userId },
      ],
    }),
  );
  const c = out.Credentials;
  if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) {
    throw new Error('AssumeRole returned no credentials');
  }
  return {
    accessKeyId: c.AccessKeyId,
    secretAccessKey: c.SecretAccessKey,
    sessionToken: c.SessionToken,
    expiration: c.Expiration.toISOString(),
  };
}
