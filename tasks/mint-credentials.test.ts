import { KMSClient } from '@aws-sdk/client-kms';
import { STSClient } from '@aws-sdk/client-sts';
import { describe, expect, it } from 'vitest';
import { awsError, FAKE_CLIENT_CONFIG, fakeCredentials, scripted, type FakeReply, rejection } from '../test/fake-aws.ts';
import { ErrorName } from './errors.ts';
import { mintCredentials, mintCredentialsDeps, sealContext, SESSION_MIN_REMAINING_SECONDS, type MintCredentialsDeps } from './mint-credentials.ts';
import { ScopedSessions } from './scoped-sessions.ts';
import { SEAL_CONTEXT_KEYS, SESSION_TAG_KEYS, tenantIsolationPolicy } from './policies.ts';
import { TableNames } from './tables.ts';

const location = { partition: 'aws', region: 'us-east-1', accountId: '123456789012' };
const tables = new TableNames('prod-');
const ROLE = 'arn:aws:iam::123456789012:role/tenant-access';
const KEY = 'arn:aws:kms:us-east-1:123456789012:key/seal';
const identity = { tenantId: 'tenant1', userId: 'user-1', username: 'alice' };
const input = { identity, request: { answerId: 'user-1.a1', question: 'Where is my order?' }, context: { sessionId: 's-1', storeName: 'Store', nextSeq: 3 } };

const mintedKey = fakeCredentials('ASIA');
const minted = {
  AccessKeyId: mintedKey.accessKeyId,
  SecretAccessKey: mintedKey.secretAccessKey,
  SessionToken: 'minted-session-token-0123456789abcdef',
  Expiration: new Date('2030-01-01T00:15:00.000Z'),
};
const SECRETS = [minted.AccessKeyId, minted.SecretAccessKey, minted.SessionToken];
const CIPHERTEXT = Uint8Array.from([1, 2, 3, 250, 251, 252]);

function harness(replies: { assume?: FakeReply; encrypt?: FakeReply } = {}) {
  const sts = scripted(new STSClient(FAKE_CLIENT_CONFIG));
  const kms = scripted(new KMSClient(FAKE_CLIENT_CONFIG));
  if (replies.assume) sts.on('AssumeRoleCommand', replies.assume);
  if (replies.encrypt) kms.on('EncryptCommand', replies.encrypt);
  const deps: MintCredentialsDeps = { sts: sts.client, kms: kms.client, tenantAccessRoleArn: ROLE, sealKeyId: KEY, location, tables };
  return {
    deps,
    sts,
    kms,
    assertDone() {
      sts.assertDone();
      kms.assertDone();
    },
  };
}

/** Everything an error would show in a log, the execution history or the Catch's `$.error`. */
const shown = (err: Error) => JSON.stringify({ name: err.name, message: err.message, cause: String((err.cause as Error | undefined)?.message) });

describe('mintCredentials', () => {
  it("assumes the tenant access role for the asker only: the isolation session policy, the asker's tags, 900 seconds", async () => {
    const h = harness({ assume: { Credentials: minted }, encrypt: { CiphertextBlob: CIPHERTEXT } });
    await mintCredentials(input, h.deps);
    expect(h.sts.calls).toEqual([
      {
        command: 'AssumeRoleCommand',
        input: {
          RoleArn: ROLE,
          RoleSessionName: 't-tenant1.user-1',
          DurationSeconds: 900,
          Policy: JSON.stringify(tenantIsolationPolicy({ location, tables }, 'tenant1', 'user-1')),
          Tags: [
            { Key: SESSION_TAG_KEYS.tenantId, Value: 'tenant1' },
            { Key: SESSION_TAG_KEYS.userId, Value: 'user-1' },
          ],
        },
      },
    ]);
    h.assertDone();
  });

  it('seals the credentials under the encryption context (tenantId, userId, answerId) and outputs only the sealed blob', async () => {
    const h = harness({ assume: { Credentials: minted }, encrypt: { CiphertextBlob: CIPHERTEXT } });
    const out = await mintCredentials(input, h.deps);
    expect(out).toEqual({ sealedCredentials: Buffer.from(CIPHERTEXT).toString('base64'), expiration: '2030-01-01T00:15:00.000Z' });
    for (const secret of SECRETS) expect(JSON.stringify(out)).not.toContain(secret);

    const [encrypt] = h.kms.calls;
    expect(encrypt?.command).toBe('EncryptCommand');
    const { KeyId, EncryptionContext, Plaintext } = encrypt!.input as { KeyId: string; EncryptionContext: Record<string, string>; Plaintext: Uint8Array };
    expect(KeyId).toBe(KEY);
    expect(EncryptionContext).toEqual({ tenantId: 'tenant1', userId: 'user-1', answerId: 'user-1.a1' });
    expect(Object.keys(EncryptionContext).sort()).toEqual([...SEAL_CONTEXT_KEYS].sort());
    expect(sealContext(identity, 'user-1.a1')).toEqual(EncryptionContext);
    expect(JSON.parse(Buffer.from(Plaintext).toString('utf8'))).toEqual({
      accessKeyId: minted.AccessKeyId,
      secretAccessKey: minted.SecretAccessKey,
      sessionToken: minted.SessionToken,
      expiration: '2030-01-01T00:15:00.000Z',
    });
    h.assertDone();
  });

  it('refuses a malformed state with InvalidRequest, without calling STS or KMS', async () => {
    const h = harness();
    const err = await rejection(mintCredentials({ identity: { ...identity, tenantId: '*' }, request: input.request }, h.deps));
    expect(err.name).toBe(ErrorName.InvalidRequest);
    expect([...h.sts.calls, ...h.kms.calls]).toEqual([]);
  });

  it.each([
    ['STS denies AssumeRole', awsError('AccessDenied', 403), ErrorName.CredentialsFailed],
    ['STS returns no credentials', {}, ErrorName.CredentialsFailed],
    ['STS throttles', awsError('Throttling', 400), ErrorName.Throttled],
    ['STS is down', awsError('InternalFailure', 500), ErrorName.ServiceUnavailable],
  ])('fails without sealing anything when %s', async (_, assume, name) => {
    const h = harness({ assume });
    const err = await rejection(mintCredentials(input, h.deps));
    expect(err.name).toBe(name);
    expect(err.message).toMatch(/^AssumeRole on the tenant access role failed/);
    expect(h.kms.calls).toEqual([]);
    h.assertDone();
  });

  it.each([
    ['KMS denies Encrypt', awsError('AccessDeniedException', 400), ErrorName.CredentialsFailed],
    ['KMS returns no ciphertext', {}, ErrorName.CredentialsFailed],
    ['KMS throttles', awsError('ThrottlingException', 400), ErrorName.Throttled],
  ])('fails with no credential in the error when %s', async (_, encrypt, name) => {
    const h = harness({ assume: { Credentials: minted }, encrypt });
    const err = await rejection(mintCredentials(input, h.deps));
    expect(err.name).toBe(name);
    expect(err.message).toMatch(/^(Sealing the credentials with KMS failed|KMS returned no ciphertext)/);
    for (const secret of SECRETS) expect(shown(err)).not.toContain(secret);
    h.assertDone();
  });
});

describe('mintCredentials: a warm function reuses a (tenant, user) session, never across askers or near its end', () => {
  /** STS answers each AssumeRole with its own session, expiring 15 minutes after the clock. */
  let clock = new Date('2030-01-01T00:00:00.000Z');
  /** The key id of the n-th session STS grants in this suite (made at run time). */
  const keys = Array.from({ length: 4 }, () => fakeCredentials('ASIA'));
  const key = (n: number) => keys[n - 1]!.accessKeyId;
  const sessionFor = (n: number) => ({
    Credentials: {
      AccessKeyId: key(n),
      SecretAccessKey: keys[n - 1]!.secretAccessKey,
      SessionToken: `token-${n}`,
      Expiration: new Date(clock.getTime() + 900_000),
    },
  });
  function warm(assumes: number) {
    const h = harness();
    for (let n = 1; n <= assumes; n++) h.sts.on('AssumeRoleCommand', () => sessionFor(n));
    const deps: MintCredentialsDeps = { ...h.deps, sessions: new ScopedSessions({ minRemainingSeconds: SESSION_MIN_REMAINING_SECONDS, now: () => clock }) };
    /** Seals whatever it is given, recording the plaintext (the credentials) and the context. */
    const sealed: { plaintext: { accessKeyId: string }; context: unknown }[] = [];
    const seal = (input: Record<string, unknown>) => {
      const i = input as { Plaintext: Uint8Array; EncryptionContext: unknown };
      sealed.push({ plaintext: JSON.parse(Buffer.from(i.Plaintext).toString('utf8')), context: i.EncryptionContext });
      return { CiphertextBlob: CIPHERTEXT };
    };
    return { h, deps, sealed, seal };
  }
  const ask = (userId: string, answer: string, tenantId = 'tenant1') => ({ identity: { tenantId, userId, username: userId }, request: { answerId: `${userId}.${answer}`, question: 'q' } });

  it('two questions by one user in a row: one AssumeRole, two seals, each under its own answer', async () => {
    clock = new Date('2030-01-01T00:00:00.000Z');
    const { h, deps, sealed, seal } = warm(1);
    h.kms.on('EncryptCommand', seal).on('EncryptCommand', seal);
    await mintCredentials(ask('user-1', 'a1'), deps);
    clock = new Date('2030-01-01T00:01:00.000Z');
    await mintCredentials(ask('user-1', 'a2'), deps);
    expect(h.sts.calls).toHaveLength(1);
    expect(sealed.map((s) => s.plaintext.accessKeyId)).toEqual([key(1), key(1)]);
    expect(sealed.map((s) => s.context)).toEqual([sealContext(ask('user-1', 'a1').identity, 'user-1.a1'), sealContext(ask('user-1', 'a2').identity, 'user-1.a2')]);
    h.assertDone();
  });

  it('two users never share a session, nor one user id in two stores (control: the same asker again shares)', async () => {
    clock = new Date('2030-01-01T00:00:00.000Z');
    const { h, deps, sealed, seal } = warm(3);
    for (let i = 0; i < 4; i++) h.kms.on('EncryptCommand', seal);
    await mintCredentials(ask('user-1', 'a1'), deps);
    await mintCredentials(ask('user-2', 'a1'), deps);
    await mintCredentials(ask('user-1', 'a2', 'tenant2'), deps);
    await mintCredentials(ask('user-1', 'a3'), deps);
    expect(h.sts.calls.map((c) => (c.input as { RoleSessionName: string }).RoleSessionName)).toEqual(['t-tenant1.user-1', 't-tenant1.user-2', 't-tenant2.user-1']);
    expect(sealed.map((s) => s.plaintext.accessKeyId)).toEqual([key(1), key(2), key(3), key(1)]);
    h.assertDone();
  });

  it('a session with no more than the workflow timeout (plus skew) left is never handed out; an expired one neither', async () => {
    clock = new Date('2030-01-01T00:00:00.000Z');
    const { h, deps, sealed, seal } = warm(3);
    for (let i = 0; i < 4; i++) h.kms.on('EncryptCommand', seal);
    await mintCredentials(ask('user-1', 'a1'), deps);
    // One second more than the minimum left: still reused.
    clock = new Date(Date.parse('2030-01-01T00:15:00.000Z') - (SESSION_MIN_REMAINING_SECONDS + 1) * 1000);
    await mintCredentials(ask('user-1', 'a2'), deps);
    // Exactly the minimum left: a new session.
    clock = new Date(Date.parse('2030-01-01T00:15:00.000Z') - SESSION_MIN_REMAINING_SECONDS * 1000);
    await mintCredentials(ask('user-1', 'a3'), deps);
    // After the second session expired: a third.
    clock = new Date(clock.getTime() + 900_000 + 1);
    await mintCredentials(ask('user-1', 'a4'), deps);
    expect(h.sts.calls).toHaveLength(3);
    expect(sealed.map((s) => s.plaintext.accessKeyId)).toEqual([key(1), key(1), key(2), key(3)]);
    h.assertDone();
  });

  it('a failed AssumeRole is not kept: the next question assumes again', async () => {
    clock = new Date('2030-01-01T00:00:00.000Z');
    const h = harness({ assume: awsError('Throttling', 400) });
    h.sts.on('AssumeRoleCommand', { Credentials: minted });
    h.kms.on('EncryptCommand', { CiphertextBlob: CIPHERTEXT });
    const deps: MintCredentialsDeps = { ...h.deps, sessions: new ScopedSessions({ minRemainingSeconds: 60, now: () => clock }) };
    expect((await rejection(mintCredentials(input, deps))).name).toBe(ErrorName.Throttled);
    await expect(mintCredentials(input, deps)).resolves.toMatchObject({ expiration: minted.Expiration.toISOString() });
    expect(h.sts.calls).toHaveLength(2);
    h.assertDone();
  });

  it('the deployed deps keep sessions unless SCOPED_SESSION_REUSE is off', () => {
    const config = { tenantAccessRoleArn: ROLE, sealKeyId: KEY, location, tables } as Parameters<typeof mintCredentialsDeps>[0];
    expect(mintCredentialsDeps(config, { region: 'us-east-1' }).sessions).toBeInstanceOf(ScopedSessions);
    expect(mintCredentialsDeps({ ...config, scopedSessionReuse: false }, { region: 'us-east-1' }).sessions).toBeUndefined();
  });
});

