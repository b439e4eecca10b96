/**
 * The local Secrets Manager over the wire, with the SDK: a user's password secret created, read by
 * name and by ARN, replaced, described and deleted (with a recovery window, or at once), the errors
 * AWS answers, persistence under dataDir (owner-only), and IAM enforced (the operator may manage
 * `MultiTenantAiAssistant/seed-users/*`, nothing else; a task role nothing: the controls).
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { Edge } from '../../edge/edge.ts';
import { silentLogger } from '../../edge/log.ts';
import { PolicyEvaluator } from '../../iam/evaluator.ts';
import { LocalIam, LOCAL_USER_SECRET_PREFIX, type LocalPrincipalName } from '../../iam/principals.ts';
import { SECRETS_STATE_FILE, SecretsManagerService } from './service.ts';

const DAY_MS = 24 * 3600 * 1000;
let now = new Date('2026-12-01T00:00:00Z');
const clock = () => now;
let iam: LocalIam;
let dataDir: string;
let secrets: SecretsManagerService;
let edge: Edge;
let endpoint: string;
const clients: SecretsManagerClient[] = [];

async function startEdge(): Promise<void> {
  secrets = new SecretsManagerService({ location: iam.location, evaluator: new PolicyEvaluator(), clock, dataDir });
  edge = new Edge({ iam, services: { secretsmanager: secrets }, clock: () => new Date(), logger: silentLogger });
  endpoint = await edge.listen(0);
}

beforeAll(async () => {
  iam = new LocalIam({ tenantIds: ['tenant1'] });
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'secrets-'));
  await startEdge();
});
afterAll(async () => {
  clients.forEach((c) => c.destroy());
  await edge.close();
  await rm(dataDir, { recursive: true, force: true });
});

function client(who: LocalPrincipalName = 'operator'): SecretsManagerClient {
  const c = new SecretsManagerClient({ endpoint, region: iam.location.region, credentials: iam.credentials(who), maxAttempts: 1 });
  clients.push(c);
  return c;
}

const name = (user: string) => `${LOCAL_USER_SECRET_PREFIX}${user}`;

describe('local Secrets Manager', () => {
  it('creates a secret whose ARN ends in a 6-character random suffix, and reads it by name and by ARN', async () => {
    const created = await client().send(new CreateSecretCommand({ Name: name('alice'), SecretString: '{"password":"Temp-1234-abcd"}' }));
    expect(created.ARN).toMatch(new RegExp(`^arn:aws:secretsmanager:us-east-1:${iam.location.accountId}:secret:MultiTenantAiAssistant/seed-users/alice-[A-Za-z0-9]{6}$`));
    expect(created.Name).toBe(name('alice'));
    const byName = await client().send(new GetSecretValueCommand({ SecretId: name('alice') }));
    const byArn = await client().send(new GetSecretValueCommand({ SecretId: created.ARN }));
    expect(byName).toMatchObject({ ARN: created.ARN, SecretString: '{"password":"Temp-1234-abcd"}', VersionId: created.VersionId, VersionStages: ['AWSCURRENT'] });
    expect(byArn.SecretString).toBe(byName.SecretString);
  });

  it('refuses a second secret of the same name with ResourceExistsException (control: another name is created)', async () => {
    await expect(client().send(new CreateSecretCommand({ Name: name('alice'), SecretString: 'x' }))).rejects.toMatchObject({ name: 'ResourceExistsException', $metadata: { httpStatusCode: 400 } });
    await expect(client().send(new CreateSecretCommand({ Name: name('bob'), SecretString: 'x' }))).resolves.toMatchObject({ Name: name('bob') });
  });

  it('answers ResourceNotFoundException for a secret that does not exist', async () => {
    await expect(client().send(new GetSecretValueCommand({ SecretId: name('nobody') }))).rejects.toMatchObject({ name: 'ResourceNotFoundException', $metadata: { httpStatusCode: 400 } });
  });

  it('PutSecretValue makes a new AWSCURRENT version, the old one AWSPREVIOUS', async () => {
    const first = await client().send(new DescribeSecretCommand({ SecretId: name('bob') }));
    const put = await client().send(new PutSecretValueCommand({ SecretId: name('bob'), SecretString: 'second' }));
    expect(put.VersionStages).toEqual(['AWSCURRENT']);
    expect((await client().send(new GetSecretValueCommand({ SecretId: name('bob') }))).SecretString).toBe('second');
    const described = await client().send(new DescribeSecretCommand({ SecretId: name('bob') }));
    const [firstVersion] = Object.keys(first.VersionIdsToStages ?? {});
    expect(described.VersionIdsToStages).toEqual({ [firstVersion!]: ['AWSPREVIOUS'], [put.VersionId!]: ['AWSCURRENT'] });
    expect(described.DeletedDate).toBeUndefined();
  });

  it('a secret scheduled for deletion refuses its value (InvalidRequestException), is still described with DeletedDate, and is gone after the window', async () => {
    await client().send(new CreateSecretCommand({ Name: name('carol'), SecretString: 'c' }));
    const deleted = await client().send(new DeleteSecretCommand({ SecretId: name('carol'), RecoveryWindowInDays: 7 }));
    expect(deleted.DeletionDate).toEqual(new Date(now.getTime() + 7 * DAY_MS));
    await expect(client().send(new GetSecretValueCommand({ SecretId: name('carol') }))).rejects.toMatchObject({ name: 'InvalidRequestException' });
    await expect(client().send(new PutSecretValueCommand({ SecretId: name('carol'), SecretString: 'd' }))).rejects.toMatchObject({ name: 'InvalidRequestException' });
    await expect(client().send(new CreateSecretCommand({ Name: name('carol'), SecretString: 'd' }))).rejects.toMatchObject({ name: 'InvalidRequestException' });
    expect((await client().send(new DescribeSecretCommand({ SecretId: name('carol') }))).DeletedDate).toEqual(now);
    // Control: bob, not deleted, is still readable; a day before the end carol is still there.
    await expect(client().send(new GetSecretValueCommand({ SecretId: name('bob') }))).resolves.toMatchObject({ SecretString: 'second' });
    now = new Date(now.getTime() + 6 * DAY_MS);
    await expect(client().send(new DescribeSecretCommand({ SecretId: name('carol') }))).resolves.toMatchObject({ Name: name('carol') });
    now = new Date(now.getTime() + DAY_MS);
    await expect(client().send(new DescribeSecretCommand({ SecretId: name('carol') }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });

  it('ForceDeleteWithoutRecovery deletes at once; with RecoveryWindowInDays too it is InvalidParameterException; a window under 7 days is refused', async () => {
    await client().send(new CreateSecretCommand({ Name: name('dave'), SecretString: 'd' }));
    await expect(client().send(new DeleteSecretCommand({ SecretId: name('dave'), ForceDeleteWithoutRecovery: true, RecoveryWindowInDays: 7 }))).rejects.toMatchObject({ name: 'InvalidParameterException' });
    await expect(client().send(new DeleteSecretCommand({ SecretId: name('dave'), RecoveryWindowInDays: 6 }))).rejects.toMatchObject({ name: 'InvalidParameterException' });
    await client().send(new DeleteSecretCommand({ SecretId: name('dave'), ForceDeleteWithoutRecovery: true }));
    await expect(client().send(new DescribeSecretCommand({ SecretId: name('dave') }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    // The name is free again at once.
    await expect(client().send(new CreateSecretCommand({ Name: name('dave'), SecretString: 'again' }))).resolves.toMatchObject({ Name: name('dave') });
  });

  it('enforces IAM on the secret ARN: the operator only under its prefix, a task role not at all', async () => {
    await expect(client().send(new CreateSecretCommand({ Name: 'other/secret', SecretString: 'x' }))).rejects.toMatchObject({ name: 'AccessDeniedException' });
    await expect(client('invoke-agent').send(new GetSecretValueCommand({ SecretId: name('alice') }))).rejects.toMatchObject({ name: 'AccessDeniedException' });
    await expect(client('validate-context').send(new CreateSecretCommand({ Name: name('eve'), SecretString: 'x' }))).rejects.toMatchObject({ name: 'AccessDeniedException' });
    // Control: the operator reads alice's.
    await expect(client().send(new GetSecretValueCommand({ SecretId: name('alice') }))).resolves.toMatchObject({ Name: name('alice') });
  });

  it('keeps the secrets in <dataDir>/secretsmanager.json (owner-only) across a restart', async () => {
    await secrets.flush();
    const file = path.join(dataDir, SECRETS_STATE_FILE);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const before = await client().send(new DescribeSecretCommand({ SecretId: name('alice') }));
    await edge.close();
    await startEdge();
    const after = await client().send(new GetSecretValueCommand({ SecretId: name('alice') }));
    expect(after).toMatchObject({ ARN: before.ARN, SecretString: '{"password":"Temp-1234-abcd"}' });
  });
});
