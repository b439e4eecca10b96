/**
 * The seal key: mint-credentials seals with the encryption context {tenantId, userId, answerId},
 * invoke-agent unseals with the same context, and nothing else works: another context, a changed
 * ciphertext, another principal, or no context at all. Every refusal has a control that succeeds.
 */
import { DecryptCommand, EncryptCommand, KMSClient, type EncryptCommandInput } from '@aws-sdk/client-kms';
import { STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEAL_KEY_ALIAS, type LocalCredentials, type LocalPrincipalName } from '../infra/local/iam/principals.ts';
import { startLocalStack, type LocalStack } from '../infra/local/stack.ts';
import { assumeTenantRole } from '../tasks/tenant-credentials.ts';
import { failure, startsWith } from './aws-failure.ts';

type Context = Record<string, string>;

let stack: LocalStack;
let keyArn: string;
let context: Context;
/** A sealed blob, made by mint-credentials under `context`. */
let sealed: Uint8Array;
const PLAINTEXT = JSON.stringify({ accessKeyId: 'ASIAEXAMPLE', secretAccessKey: 'not-a-real-secret', sessionToken: 'token' });

beforeAll(async () => {
  stack = await startLocalStack({ port: 0 });
  keyArn = stack.iam.resources.sealKeyArn;
  expect(keyArn).toMatch(/^arn:aws:kms:us-east-1:000000000000:key\//);
  const user = stack.user('tenant1-user');
  context = { tenantId: user.tenantId, userId: user.sub, answerId: `${user.sub}.answer-1` };
  sealed = await encrypt('mint-credentials', context);
});

afterAll(async () => {
  await stack?.stop();
});

function kms(who: LocalPrincipalName | LocalCredentials): KMSClient {
  return new KMSClient(stack.clientConfig(who));
}

async function encrypt(who: LocalPrincipalName | LocalCredentials, encryptionContext: Context | undefined): Promise<Uint8Array> {
  const out = await kms(who).send(
    new EncryptCommand({ KeyId: SEAL_KEY_ALIAS, Plaintext: Buffer.from(PLAINTEXT), ...(encryptionContext ? { EncryptionContext: encryptionContext } : {}) }),
  );
  expect(out.KeyId).toBe(keyArn);
  return out.CiphertextBlob!;
}

async function decrypt(who: LocalPrincipalName | LocalCredentials, blob: Uint8Array, encryptionContext: Context): Promise<string> {
  const out = await kms(who).send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: encryptionContext }));
  expect(out.KeyId).toBe(keyArn);
  return Buffer.from(out.Plaintext!).toString('utf8');
}

const notAuthorized = (who: LocalPrincipalName, action: string) =>
  startsWith(`User: ${stack.iam.principalArn(who)} is not authorized to perform: ${action} on resource: ${keyArn} `);

describe('sealing and unsealing', () => {
  it('control: invoke-agent unseals what mint-credentials sealed, under the same context', async () => {
    expect(Buffer.from(sealed).toString('utf8')).not.toContain('not-a-real-secret');
    expect(await decrypt('invoke-agent', sealed, context)).toBe(PLAINTEXT);
  });

  it('control: the order of the context keys does not matter', async () => {
    const reversed = Object.fromEntries(Object.entries(context).reverse());
    expect(Object.keys(reversed)).not.toEqual(Object.keys(context));
    expect(await decrypt('invoke-agent', sealed, reversed)).toBe(PLAINTEXT);
  });

  it.each([
    ['another answerId', () => ({ ...context, answerId: `${context.userId}.answer-2` })],
    ['another tenantId', () => ({ ...context, tenantId: 'tenant2' })],
    ['another userId', () => ({ ...context, userId: stack.user('tenant1-user2').sub })],
  ])('a context with %s: InvalidCiphertextException (400)', async (_label, other) => {
    expect(await failure(decrypt('invoke-agent', sealed, other()))).toMatchObject({ name: 'InvalidCiphertextException', status: 400 });
  });

  it('a context missing answerId: InvalidCiphertextException (400) (the key policy admits any subset of the seal keys; the ciphertext refuses)', async () => {
    const { answerId: _answerId, ...partial } = context;
    expect(await failure(decrypt('invoke-agent', sealed, partial))).toMatchObject({ name: 'InvalidCiphertextException', status: 400 });
  });

  it('no context at all: AccessDeniedException (400) (the policies require a context)', async () => {
    const f = await failure(decrypt('invoke-agent', sealed, {}));
    expect(f).toMatchObject({ name: 'AccessDeniedException', status: 400 });
    expect(f.message).toMatch(notAuthorized('invoke-agent', 'kms:Decrypt'));
  });

  it('a context with an extra key: AccessDeniedException (400) (the policies deny before decryption)', async () => {
    const f = await failure(decrypt('invoke-agent', sealed, { ...context, role: 'admin' }));
    expect(f).toMatchObject({ name: 'AccessDeniedException', status: 400 });
    expect(f.message).toMatch(notAuthorized('invoke-agent', 'kms:Decrypt'));
  });

  it.each([
    ['the last byte', (blob: Uint8Array) => blob.length - 1],
    ['a byte in the middle', (blob: Uint8Array) => Math.floor(blob.length / 2)],
    ['the first byte', () => 0],
  ])('a ciphertext with %s flipped: InvalidCiphertextException (400)', async (_label, at) => {
    const tampered = Uint8Array.from(sealed);
    const i = at(tampered);
    tampered[i] = tampered[i]! ^ 0x01;
    expect(await failure(decrypt('invoke-agent', tampered, context))).toMatchObject({ name: 'InvalidCiphertextException', status: 400 });
  });
});

describe('who may use the seal key', () => {
  it('invoke-agent may not Encrypt: AccessDeniedException (400)', async () => {
    const f = await failure(encrypt('invoke-agent', context));
    expect(f).toMatchObject({ name: 'AccessDeniedException', status: 400 });
    expect(f.message).toMatch(notAuthorized('invoke-agent', 'kms:Encrypt'));
  });

  it('mint-credentials may not Decrypt: AccessDeniedException (400)', async () => {
    const f = await failure(decrypt('mint-credentials', sealed, context));
    expect(f).toMatchObject({ name: 'AccessDeniedException', status: 400 });
    expect(f.message).toMatch(notAuthorized('mint-credentials', 'kms:Decrypt'));
  });

  it.each(['validate-context', 'publish-answer', 'record-failure', 'operator'] as const)('%s may not Decrypt: AccessDeniedException (400)', async (who) => {
    expect(await failure(decrypt(who, sealed, context))).toMatchObject({ name: 'AccessDeniedException', status: 400 });
  });

  it('a tenant session may not Decrypt, not even its own context: AccessDeniedException (400)', async () => {
    const user = stack.user('tenant1-user');
    const scoped = await assumeTenantRole(
      { tenantId: user.tenantId, userId: user.sub },
      {
        sts: new STSClient(stack.clientConfig('mint-credentials')),
        tenantAccessRoleArn: stack.iam.resources.tenantAccessRoleArn,
        location: stack.iam.location,
        tables: stack.tables,
      },
    );
    const f = await failure(decrypt(scoped, sealed, context));
    expect(f).toMatchObject({ name: 'AccessDeniedException', status: 400 });
    expect(f.message).toMatch(startsWith(`User: arn:aws:sts::000000000000:assumed-role/tenant-access/t-tenant1.${user.sub} is not authorized to perform: kms:Decrypt`));
  });

  it('control: mint-credentials seals under the full seal context', async () => {
    expect((await encrypt('mint-credentials', context)).length).toBeGreaterThan(0);
  });

  it('mint-credentials may not Encrypt without an encryption context: AccessDeniedException (400)', async () => {
    const f = await failure(encrypt('mint-credentials', undefined));
    expect(f).toMatchObject({ name: 'AccessDeniedException', status: 400 });
    expect(f.message).toMatch(notAuthorized('mint-credentials', 'kms:Encrypt'));
  });

  it('mint-credentials may not Encrypt with a key outside the seal keys: AccessDeniedException (400)', async () => {
    const f = await failure(encrypt('mint-credentials', { ...context, role: 'admin' }));
    expect(f).toMatchObject({ name: 'AccessDeniedException', status: 400 });
    expect(f.message).toMatch(notAuthorized('mint-credentials', 'kms:Encrypt'));
  });
});

describe('requests KMS does not accept', () => {
  const send = (input: Partial<EncryptCommandInput>) => kms('mint-credentials').send(new EncryptCommand(input as EncryptCommandInput));

  it('control: the same request with every member succeeds', async () => {
    expect((await send({ KeyId: SEAL_KEY_ALIAS, Plaintext: Buffer.from(PLAINTEXT), EncryptionContext: context })).KeyId).toBe(keyArn);
  });

  it.each([
    ['no KeyId', { Plaintext: Buffer.from(PLAINTEXT) }, "Value null at 'keyId' failed to satisfy constraint: Member must not be null"],
    ['no Plaintext', { KeyId: SEAL_KEY_ALIAS }, "Value null at 'plaintext' failed to satisfy constraint: Member must not be null"],
    // The plaintext is sensitive: the message never quotes it.
    ['a plaintext of 4097 bytes', { KeyId: SEAL_KEY_ALIAS, Plaintext: Buffer.alloc(4097, 'p') }, "Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096"],
  ])('%s: ValidationException (400) with AWS message', async (_what, input, detail) => {
    expect(await failure(send({ EncryptionContext: context, ...input }))).toMatchObject({
      name: 'ValidationException',
      status: 400,
      message: `1 validation error detected: ${detail}`,
    });
  });
});
