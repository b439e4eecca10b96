/**
 * KMS (JSON 1.1): Encrypt and Decrypt with a symmetric key, the encryption context bound as
 * AES-256-GCM additional authenticated data. Decrypting with any other context fails with
 * InvalidCiphertextException, as on AWS. Calls are authorised with the caller's policies and the
 * `kms:EncryptionContext:*` condition keys.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { AwsError, jsonResponse, parseJsonBody, type Protocol, type WireResponse } from '../../edge/aws-error.ts';
import { optionalString, optionalStringMap, requiredString, validationError, type Fields } from '../../edge/wire.ts';
import type { PolicyEvaluator } from '../../iam/evaluator.ts';
import type { EdgeCall } from '../../edge/edge.ts';
import type { Principal } from '../../iam/principals.ts';
import type { PolicyDocument } from '../../../../tasks/policies.ts';
import type { AwsLocation } from '../../../../tasks/aws-location.ts';

export const KMS_PROTOCOL: Protocol = { kind: 'json', version: '1.1', errorPrefix: '' };
const TARGET_PREFIX = 'TrentService.';

const BLOB_VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const MAX_PLAINTEXT_BYTES = 4096;

export interface KmsKey {
  keyId: string;
  /** base64 of 32 bytes of key material. */
  material: string;
  aliases: string[];
}

/** Key policies are configuration (from tasks/policies.ts), not persisted state. */
export type KeyPolicies = Record<string, PolicyDocument>;

type EncryptionContext = Record<string, string>;

/** AAD: the context's pairs sorted by key, so that the order the caller used does not matter. */
function aad(context: EncryptionContext): Buffer {
  const sorted = Object.keys(context)
    .sort()
    .map((k) => [k, context[k]]);
  return Buffer.from(JSON.stringify(sorted), 'utf8');
}

/**
 * A blob member (base64 on the wire): required, and at least one byte long. The message quotes no
 * value: plaintext is sensitive, and AWS does not print blobs.
 */
function blobField(input: Fields, field: string, wireName: string): Buffer {
  const v = requiredString(input, field, { wireName });
  if (v.length === 0) throw validationError(wireName, 'have length greater than or equal to 1');
  return Buffer.from(v, 'base64');
}

export class KmsService {
  readonly protocol = KMS_PROTOCOL;
  private readonly keys = new Map<string, KmsKey>();

  constructor(
    private readonly location: AwsLocation,
    private readonly evaluator: PolicyEvaluator,
    keys: KmsKey[],
    private readonly keyPolicies: KeyPolicies,
  ) {
    for (const k of keys) this.keys.set(k.keyId, k);
  }

  /** A new key with fresh material (used on first start; persisted by the caller). */
  static newKey(keyId: string, aliases: string[]): KmsKey {
    return { keyId, material: randomBytes(32).toString('base64'), aliases };
  }

  keyArn(keyId: string): string {
    return `arn:${this.location.partition}:kms:${this.location.region}:${this.location.accountId}:key/${keyId}`;
  }

  private resolveKey(ref: string): KmsKey {
    if (ref.length === 0) throw validationError('keyId', 'have length greater than or equal to 1', { value: ref });
    const aliasPrefix = `arn:${this.location.partition}:kms:${this.location.region}:${this.location.accountId}:`;
    const bare = ref.startsWith(aliasPrefix) ? ref.slice(aliasPrefix.length).replace(/^key\//, '') : ref;
    for (const key of this.keys.values()) {
      if (key.keyId === bare || key.aliases.includes(bare)) return key;
    }
    throw new AwsError('NotFoundException', `Key '${ref}' does not exist`, 400);
  }

  private async authorize(principal: Principal, action: string, key: KmsKey, context: EncryptionContext): Promise<void> {
    const ctx: Record<string, string | string[]> = {
      'kms:CallerAccount': principal.arn.split(':')[4] ?? '',
      'kms:EncryptionAlgorithm': 'SYMMETRIC_DEFAULT',
    };
    // As on AWS, a request without an encryption context has no kms:EncryptionContextKeys at all
    // (an empty list would satisfy `Null: { kms:EncryptionContextKeys: false }`).
    if (Object.keys(context).length > 0) ctx['kms:EncryptionContextKeys'] = Object.keys(context);
    for (const [k, v] of Object.entries(context)) ctx[`kms:EncryptionContext:${k}`] = v;
    const keyPolicy = this.keyPolicies[key.keyId];
    if (!keyPolicy) throw new AwsError('KMSInternalException', `Key ${key.keyId} has no key policy.`, 500);
    await this.evaluator.authorize({ principal, action, resource: this.keyArn(key.keyId), context: ctx, resourcePolicy: keyPolicy });
  }

  async handle({ principal, target, body, requestId }: EdgeCall): Promise<WireResponse> {
    // As on AWS, the operation (under KMS's own target prefix) is resolved before the body is read.
    const operation = target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : '';
    let run: (input: Fields) => Promise<object>;
    switch (operation) {
      case 'Encrypt':
        run = (input) => this.encrypt(principal, input);
        break;
      case 'Decrypt':
        run = (input) => this.decrypt(principal, input);
        break;
      default:
        throw new AwsError('UnknownOperationException', `Operation ${operation || target || '(none)'} is not supported by the local KMS.`, 400);
    }
    return jsonResponse(KMS_PROTOCOL, await run(parseJsonBody(body)), requestId);
  }

  private async encrypt(principal: Principal, input: Fields) {
    const key = this.resolveKey(requiredString(input, 'KeyId', { wireName: 'keyId' }));
    const plaintext = blobField(input, 'Plaintext', 'plaintext');
    if (plaintext.length > MAX_PLAINTEXT_BYTES) throw validationError('plaintext', `have length less than or equal to ${MAX_PLAINTEXT_BYTES}`);
    const context = optionalStringMap(input, 'EncryptionContext') ?? {};
    await this.authorize(principal, 'kms:Encrypt', key, context);
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', Buffer.from(key.material, 'base64'), iv);
    cipher.setAAD(aad(context));
    const sealed = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    const keyId = Buffer.from(key.keyId, 'utf8');
    const blob = Buffer.concat([Buffer.from([BLOB_VERSION, keyId.length]), keyId, iv, cipher.getAuthTag(), sealed]);
    return { CiphertextBlob: blob.toString('base64'), KeyId: this.keyArn(key.keyId), EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
  }

  private async decrypt(principal: Principal, input: Fields) {
    const blob = blobField(input, 'CiphertextBlob', 'ciphertextBlob');
    const invalid = () => new AwsError('InvalidCiphertextException', '', 400);
    if (blob.length < 2 || blob[0] !== BLOB_VERSION) throw invalid();
    const idLength = blob[1]!;
    const headerEnd = 2 + idLength + IV_BYTES + TAG_BYTES;
    if (blob.length < headerEnd) throw invalid();
    const keyId = blob.subarray(2, 2 + idLength).toString('utf8');
    const key = this.keys.get(keyId);
    if (!key) throw invalid();
    const keyRef = optionalString(input, 'KeyId');
    if (keyRef !== undefined && this.resolveKey(keyRef).keyId !== key.keyId) {
      throw new AwsError('IncorrectKeyException', 'The key ID in the request does not identify a CMK that can perform this operation.', 400);
    }
    const context = optionalStringMap(input, 'EncryptionContext') ?? {};
    await this.authorize(principal, 'kms:Decrypt', key, context);
    const iv = blob.subarray(2 + idLength, 2 + idLength + IV_BYTES);
    const tag = blob.subarray(2 + idLength + IV_BYTES, headerEnd);
    const decipher = createDecipheriv('aes-256-gcm', Buffer.from(key.material, 'base64'), iv);
    decipher.setAAD(aad(context));
    decipher.setAuthTag(tag);
    let plaintext: Buffer;
    try {
      plaintext = Buffer.concat([decipher.update(blob.subarray(headerEnd)), decipher.final()]);
    } catch {
      throw invalid();
    }
    return { Plaintext: plaintext.toString('base64'), KeyId: this.keyArn(key.keyId), EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
  }
}
