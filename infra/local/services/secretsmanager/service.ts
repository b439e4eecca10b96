/**
 * Secrets Manager (JSON 1.1, `X-Amz-Target: secretsmanager.<Operation>`, signing name
 * `secretsmanager`), the operations the users CLI needs to keep a user's first password where an
 * administrator can read it: CreateSecret, GetSecretValue, PutSecretValue, DeleteSecret and
 * DescribeSecret, with SecretString values only.
 *
 * As on AWS: a secret's ARN ends in `-` and six random characters; a secret is named by its name or
 * its ARN; IAM authorises `secretsmanager:<Operation>` on the secret's ARN (for a name no secret has,
 * on the ARN without the suffix; for CreateSecret, on the ARN the secret will have); DeleteSecret
 * schedules the deletion after a recovery window of 7 to 30 days (default 30) unless
 * ForceDeleteWithoutRecovery, and a secret scheduled for deletion refuses its value, new values and
 * its name to CreateSecret with InvalidRequestException, while DescribeSecret still shows it (with
 * DeletedDate). When the window has passed, the secret is gone.
 *
 * The secrets are kept in `<dataDir>/secretsmanager.json` (owner-only), in memory without dataDir.
 */
import { randomInt, randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { writePrivateFile } from '../../../../client/cli/private-file.ts';
import type { AwsLocation } from '../../../../tasks/aws-location.ts';
import { AwsError, jsonResponse, parseJsonBody, type Protocol, type WireResponse } from '../../edge/aws-error.ts';
import type { EdgeCall } from '../../edge/edge.ts';
import { optionalBoolean, optionalNumber, optionalString, requiredString, validationError, type Fields } from '../../edge/wire.ts';
import type { PolicyEvaluator } from '../../iam/evaluator.ts';

export const SECRETS_MANAGER_PROTOCOL: Protocol = { kind: 'json', version: '1.1', errorPrefix: '' };
const TARGET_PREFIX = 'secretsmanager.';
export const SECRETS_STATE_FILE = 'secretsmanager.json';

const DAY_MS = 24 * 3600 * 1000;
/** SecretString: "Length Constraints: Maximum length of 65536." Name: "Maximum length of 512." */
const MAX_SECRET_STRING = 65536;
const MAX_NAME = 512;
/** The characters AWS draws the ARN suffix from (letters and digits). */
const SUFFIX_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

const MSG = {
  notFound: "Secrets Manager can't find the specified secret.",
  markedForDeletion: "You can't perform this operation on the secret because it was marked for deletion.",
  createScheduled: "You can't create this secret because a secret with this name is already scheduled for deletion.",
  forceAndWindow: "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.",
} as const;

const VersionSchema = z.object({ id: z.string(), value: z.string(), stages: z.array(z.string()), createdAt: z.number() });
const SecretSchema = z.object({
  name: z.string(),
  arn: z.string(),
  description: z.string().optional(),
  createdAt: z.number(),
  changedAt: z.number(),
  deletedAt: z.number().optional(),
  deletionDate: z.number().optional(),
  versions: z.array(VersionSchema),
});
const StateSchema = z.object({ version: z.literal(1), secrets: z.array(SecretSchema) });
type StoredSecret = z.infer<typeof SecretSchema>;

export interface SecretsManagerOptions {
  location: AwsLocation;
  evaluator: PolicyEvaluator;
  /** Where `secretsmanager.json` is kept. In memory when undefined. */
  dataDir?: string;
  clock?: () => Date;
}

const seconds = (ms: number) => ms / 1000;

export class SecretsManagerService {
  readonly protocol = SECRETS_MANAGER_PROTOCOL;
  private readonly secrets = new Map<string, StoredSecret>();
  private readonly clock: () => Date;
  private readonly file?: string;
  private writes: Promise<void> = Promise.resolve();

  constructor(private readonly options: SecretsManagerOptions) {
    this.clock = options.clock ?? (() => new Date());
    if (options.dataDir) {
      this.file = path.join(options.dataDir, SECRETS_STATE_FILE);
      if (existsSync(this.file)) {
        const state = StateSchema.parse(JSON.parse(readFileSync(this.file, 'utf8')));
        for (const s of state.secrets) this.secrets.set(s.name, s);
      }
    }
  }

  /** `arn:<partition>:secretsmanager:<region>:<account>:secret:<name>` (the caller adds the suffix). */
  private baseArn(name: string): string {
    const { partition, region, accountId } = this.options.location;
    return `arn:${partition}:secretsmanager:${region}:${accountId}:secret:${name}`;
  }

  /** The secret names kept (tests, the users CLI's tests). */
  names(): string[] {
    this.purge();
    return [...this.secrets.keys()];
  }

  /** Waits for pending writes of the state file. */
  async flush(): Promise<void> {
    await this.writes;
  }

  async handle({ principal, target, body, requestId }: EdgeCall): Promise<WireResponse> {
    const operation = target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : '';
    const run = this.operations[operation];
    if (!run) throw new AwsError('UnknownOperationException', `Operation ${operation || target || '(none)'} is not supported by the local Secrets Manager.`, 400);
    const input = parseJsonBody(body);
    this.purge();
    const authorize = (resource: string) => this.options.evaluator.authorize({ principal, action: `secretsmanager:${operation}`, resource });
    return jsonResponse(SECRETS_MANAGER_PROTOCOL, await run(input, authorize), requestId);
  }

  private readonly operations: Record<string, (input: Fields, authorize: (arn: string) => Promise<void>) => Promise<unknown>> = {
    CreateSecret: (input, authorize) => this.createSecret(input, authorize),
    GetSecretValue: (input, authorize) => this.getSecretValue(input, authorize),
    PutSecretValue: (input, authorize) => this.putSecretValue(input, authorize),
    DeleteSecret: (input, authorize) => this.deleteSecret(input, authorize),
    DescribeSecret: (input, authorize) => this.describeSecret(input, authorize),
  };

  /** The secret a SecretId names (its name or its full ARN), after IAM has allowed the action on it. */
  private async resolve(input: Fields, authorize: (arn: string) => Promise<void>): Promise<StoredSecret> {
    const id = requiredString(input, 'SecretId');
    const secret = id.startsWith('arn:') ? [...this.secrets.values()].find((s) => s.arn === id) : this.secrets.get(id);
    await authorize(secret?.arn ?? (id.startsWith('arn:') ? id : this.baseArn(id)));
    if (!secret) throw new AwsError('ResourceNotFoundException', MSG.notFound, 400);
    return secret;
  }

  private secretString(input: Fields): string {
    const value = optionalString(input, 'SecretString');
    if (value === undefined) {
      if (input.SecretBinary !== undefined) throw new AwsError('InvalidRequestException', 'The local Secrets Manager keeps SecretString values only.', 400);
      throw new AwsError('InvalidParameterException', 'You must provide either SecretString or SecretBinary.', 400);
    }
    if (value.length > MAX_SECRET_STRING) throw validationError('secretString', `have length less than or equal to ${MAX_SECRET_STRING}`);
    return value;
  }

  private async createSecret(input: Fields, authorize: (arn: string) => Promise<void>) {
    const name = requiredString(input, 'Name');
    if (name.length > MAX_NAME) throw validationError('name', `have length less than or equal to ${MAX_NAME}`, { value: name });
    const existing = this.secrets.get(name);
    const arn = existing?.arn ?? `${this.baseArn(name)}-${suffix()}`;
    await authorize(arn);
    if (existing?.deletionDate !== undefined) throw new AwsError('InvalidRequestException', MSG.createScheduled, 400);
    if (existing) throw new AwsError('ResourceExistsException', `The operation failed because the secret ${name} already exists.`, 400);
    const value = this.secretString(input);
    const description = optionalString(input, 'Description');
    const now = this.clock().getTime();
    const versionId = optionalString(input, 'ClientRequestToken') ?? randomUUID();
    this.secrets.set(name, {
      name,
      arn,
      ...(description !== undefined ? { description } : {}),
      createdAt: now,
      changedAt: now,
      versions: [{ id: versionId, value, stages: ['AWSCURRENT'], createdAt: now }],
    });
    await this.persist();
    return { ARN: arn, Name: name, VersionId: versionId };
  }

  private async getSecretValue(input: Fields, authorize: (arn: string) => Promise<void>) {
    const secret = await this.resolve(input, authorize);
    if (secret.deletionDate !== undefined) throw new AwsError('InvalidRequestException', MSG.markedForDeletion, 400);
    const versionId = optionalString(input, 'VersionId');
    const stage = optionalString(input, 'VersionStage') ?? (versionId ? undefined : 'AWSCURRENT');
    const version = secret.versions.find((v) => (versionId === undefined || v.id === versionId) && (stage === undefined || v.stages.includes(stage)));
    if (!version) throw new AwsError('ResourceNotFoundException', "Secrets Manager can't find the specified secret value for staging label: " + (stage ?? versionId ?? ''), 400);
    return { ARN: secret.arn, Name: secret.name, VersionId: version.id, SecretString: version.value, VersionStages: version.stages, CreatedDate: seconds(version.createdAt) };
  }

  private async putSecretValue(input: Fields, authorize: (arn: string) => Promise<void>) {
    const secret = await this.resolve(input, authorize);
    if (secret.deletionDate !== undefined) throw new AwsError('InvalidRequestException', MSG.markedForDeletion, 400);
    const value = this.secretString(input);
    const now = this.clock().getTime();
    const versionId = optionalString(input, 'ClientRequestToken') ?? randomUUID();
    // The new version is AWSCURRENT, the one it replaces AWSPREVIOUS; a version with no label is dropped.
    for (const v of secret.versions) v.stages = v.stages.filter((s) => s !== 'AWSPREVIOUS').map((s) => (s === 'AWSCURRENT' ? 'AWSPREVIOUS' : s));
    secret.versions = [...secret.versions.filter((v) => v.stages.length > 0), { id: versionId, value, stages: ['AWSCURRENT'], createdAt: now }];
    secret.changedAt = now;
    await this.persist();
    return { ARN: secret.arn, Name: secret.name, VersionId: versionId, VersionStages: ['AWSCURRENT'] };
  }

  private async deleteSecret(input: Fields, authorize: (arn: string) => Promise<void>) {
    const secret = await this.resolve(input, authorize);
    const window = optionalNumber(input, 'RecoveryWindowInDays');
    const force = optionalBoolean(input, 'ForceDeleteWithoutRecovery') ?? false;
    if (force && window !== undefined) throw new AwsError('InvalidParameterException', MSG.forceAndWindow, 400);
    if (window !== undefined && (!Number.isInteger(window) || window < 7 || window > 30)) {
      throw new AwsError('InvalidParameterException', 'The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).', 400);
    }
    const now = this.clock().getTime();
    if (force) {
      this.secrets.delete(secret.name);
      await this.persist();
      return { ARN: secret.arn, Name: secret.name, DeletionDate: seconds(now) };
    }
    if (secret.deletionDate !== undefined) throw new AwsError('InvalidRequestException', MSG.markedForDeletion, 400);
    secret.deletedAt = now;
    secret.deletionDate = now + (window ?? 30) * DAY_MS;
    await this.persist();
    return { ARN: secret.arn, Name: secret.name, DeletionDate: seconds(secret.deletionDate) };
  }

  private async describeSecret(input: Fields, authorize: (arn: string) => Promise<void>) {
    const secret = await this.resolve(input, authorize);
    return {
      ARN: secret.arn,
      Name: secret.name,
      ...(secret.description !== undefined ? { Description: secret.description } : {}),
      CreatedDate: seconds(secret.createdAt),
      LastChangedDate: seconds(secret.changedAt),
      ...(secret.deletedAt !== undefined ? { DeletedDate: seconds(secret.deletedAt) } : {}),
      VersionIdsToStages: Object.fromEntries(secret.versions.map((v) => [v.id, v.stages])),
    };
  }

  /**
   * Secrets whose recovery window has passed are deleted for good. In memory only: the file forgets
   * them at its next write, and a restart before that purges them again (their date has passed).
   */
  private purge(): void {
    const now = this.clock().getTime();
    for (const [name, s] of this.secrets) if (s.deletionDate !== undefined && s.deletionDate <= now) this.secrets.delete(name);
  }

  /** Writes the state (when persisted), one write at a time, each owner-only. */
  private persist(): Promise<void> {
    const file = this.file;
    if (!file) return Promise.resolve();
    const run = this.writes.then(() => writePrivateFile(file, JSON.stringify({ version: 1, secrets: [...this.secrets.values()] }, null, 2)));
    this.writes = run.catch(() => undefined);
    return run;
  }
}

function suffix(): string {
  return Array.from({ length: 6 }, () => SUFFIX_CHARS[randomInt(SUFFIX_CHARS.length)]).join('');
}
