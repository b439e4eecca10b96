/**
 * Attacks on the edge's authentication: unknown keys, wrong secrets, requests altered after
 * signing, stale or future dates, expired, altered or missing session tokens, unsigned requests and
 * foreign credential scopes. Each attack must fail with AWS's error name and HTTP status, and each
 * has a control that succeeds with correct inputs, so that a broken setup cannot pass.
 */
import http from 'node:http';
import { DynamoDBClient, GetItemCommand, type GetItemCommandOutput } from '@aws-sdk/client-dynamodb';
import { EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SEAL_KEY_ALIAS, type LocalCredentials, type LocalPrincipalName } from '../infra/local/iam/principals.ts';
import { startLocalStack, type LocalStack } from '../infra/local/stack.ts';
import { assumeTenantRole, type ScopedCredentials } from '../tasks/tenant-credentials.ts';
import { failure } from './aws-failure.ts';

const SIGNATURE_MISMATCH = /^The request signature we calculated does not match the signature you provided\./;
const MINUTE = 60_000;

let stack: LocalStack;
/** When set, the stand-ins' clock stands still at this epoch millisecond. */
let frozenAt: number | undefined;
/** Added to the real time when the clock is not frozen. */
let clockShiftMs = 0;

beforeAll(async () => {
  stack = await startLocalStack({ port: 0, clock: () => new Date(frozenAt ?? Date.now() + clockShiftMs) });
});

afterAll(async () => {
  await stack?.stop();
});

afterEach(() => {
  frozenAt = undefined;
  clockShiftMs = 0;
});

type Who = LocalPrincipalName | LocalCredentials;
interface ClientOptions {
  region?: string;
  systemClockOffset?: number;
}

function dynamo(who: Who, options: ClientOptions = {}): DynamoDBClient {
  return new DynamoDBClient({ ...stack.clientConfig(who), ...options });
}

function sts(who: Who, options: ClientOptions = {}): STSClient {
  return new STSClient({ ...stack.clientConfig(who), ...options });
}

function kms(who: Who, options: ClientOptions = {}): KMSClient {
  return new KMSClient({ ...stack.clientConfig(who), ...options });
}

function readConfig(client: DynamoDBClient, tenantId = 'tenant1'): Promise<GetItemCommandOutput> {
  return client.send(new GetItemCommand({ TableName: stack.tables.config, Key: { tenantId: { S: tenantId } } }));
}

/** validate-context may GetItem on the config table: the request every DynamoDB control makes. */
async function expectConfigRead(client: DynamoDBClient, tenantId = 'tenant1'): Promise<void> {
  const out = await readConfig(client, tenantId);
  expect(out.Item?.tenantId?.S).toBe(tenantId);
}

function sealContext() {
  const user = stack.user('tenant1-user');
  return { tenantId: user.tenantId, userId: user.sub, answerId: `${user.sub}-answer-1` };
}

function encrypt(client: KMSClient) {
  return client.send(new EncryptCommand({ KeyId: SEAL_KEY_ALIAS, Plaintext: Buffer.from('secret'), EncryptionContext: sealContext() }));
}

function withSecret(name: LocalPrincipalName, secretAccessKey: string): LocalCredentials {
  return { accessKeyId: stack.iam.credentials(name).accessKeyId, secretAccessKey };
}

/** The same secret with one character changed. */
function wrongSecret(name: LocalPrincipalName): string {
  const secret = stack.iam.credentials(name).secretAccessKey;
  return (secret[0] === 'A' ? 'B' : 'A') + secret.slice(1);
}

function mintTenant1(): Promise<ScopedCredentials> {
  return assumeTenantRole(
    { tenantId: 'tenant1', userId: stack.user('tenant1-user').sub },
    {
      sts: sts('mint-credentials'),
      tenantAccessRoleArn: stack.iam.resources.tenantAccessRoleArn,
      location: stack.iam.location,
      tables: stack.tables,
    },
  );
}

describe('an unknown access key', () => {
  const unknown = (): LocalCredentials => ({ accessKeyId: 'AKIA' + 'UNKNOWN'.padEnd(16, 'X'), secretAccessKey: stack.iam.credentials('validate-context').secretAccessKey });

  it('control: the real key with the same secret reads the config row', async () => {
    await expectConfigRead(dynamo('validate-context'));
  });

  it('DynamoDB answers UnrecognizedClientException (400)', async () => {
    expect(await failure(readConfig(dynamo(unknown())))).toMatchObject({
      name: 'UnrecognizedClientException',
      status: 400,
      message: 'The security token included in the request is invalid.',
    });
  });

  it('STS answers InvalidClientTokenId (403)', async () => {
    expect(await failure(sts(unknown()).send(new GetCallerIdentityCommand({})))).toMatchObject({ name: 'InvalidClientTokenId', status: 403 });
  });

  it('KMS answers UnrecognizedClientException (400)', async () => {
    expect(await failure(encrypt(kms({ ...unknown(), secretAccessKey: stack.iam.credentials('mint-credentials').secretAccessKey })))).toMatchObject({
      name: 'UnrecognizedClientException',
      status: 400,
    });
  });
});

describe('a wrong secret', () => {
  it('control: the right secrets succeed on DynamoDB, KMS and STS', async () => {
    await expectConfigRead(dynamo(withSecret('validate-context', stack.iam.credentials('validate-context').secretAccessKey)));
    expect((await encrypt(kms('mint-credentials'))).CiphertextBlob?.length).toBeGreaterThan(0);
    expect((await sts('operator').send(new GetCallerIdentityCommand({}))).Arn).toBe(stack.iam.principalArn('operator'));
  });

  it('DynamoDB answers InvalidSignatureException (400)', async () => {
    const f = await failure(readConfig(dynamo(withSecret('validate-context', wrongSecret('validate-context')))));
    expect(f).toMatchObject({ name: 'InvalidSignatureException', status: 400 });
    expect(f.message).toMatch(SIGNATURE_MISMATCH);
  });

  it('KMS answers InvalidSignatureException (400)', async () => {
    const f = await failure(encrypt(kms(withSecret('mint-credentials', wrongSecret('mint-credentials')))));
    expect(f).toMatchObject({ name: 'InvalidSignatureException', status: 400 });
    expect(f.message).toMatch(SIGNATURE_MISMATCH);
  });

  it('STS answers SignatureDoesNotMatch (403)', async () => {
    const f = await failure(sts(withSecret('operator', wrongSecret('operator'))).send(new GetCallerIdentityCommand({})));
    expect(f).toMatchObject({ name: 'SignatureDoesNotMatch', status: 403 });
    expect(f.message).toMatch(SIGNATURE_MISMATCH);
  });
});

interface RawResponse {
  status: number;
  /** The JSON error type (`__type` without its namespace), when there is one. */
  errorType?: string;
  message?: string;
  json: Record<string, unknown>;
}

interface RawRequest {
  headers: Record<string, string>;
  body: string;
}

/** Sends exactly these headers and this body to the edge (no SDK, no re-signing). */
function sendRaw({ headers, body }: RawRequest): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(stack.edgeUrl, { method: 'POST', path: '/', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const json = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
        const type = typeof json.__type === 'string' ? json.__type.split('#').pop() : undefined;
        resolve({
          status: res.statusCode ?? 0,
          json,
          ...(type ? { errorType: type } : {}),
          ...(typeof json.message === 'string' ? { message: json.message } : {}),
        });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

interface SignOptions {
  who?: LocalPrincipalName;
  operation?: string;
  body?: string;
  signingDate?: Date;
  /** Whether the signer adds (and signs) `x-amz-content-sha256`. */
  applyChecksum?: boolean;
  extraHeaders?: Record<string, string>;
}

const configKeyBody = (tenantId: string) => JSON.stringify({ TableName: 'tenant-config', Key: { tenantId: { S: tenantId } } });

/** A DynamoDB request signed with `@smithy/signature-v4`, as the SDK would sign it. */
async function signDynamo(options: SignOptions = {}): Promise<RawRequest> {
  const url = new URL(stack.edgeUrl);
  const body = options.body ?? configKeyBody('tenant1');
  const signer = new SignatureV4({
    credentials: stack.iam.credentials(options.who ?? 'validate-context'),
    region: stack.iam.location.region,
    service: 'dynamodb',
    sha256: Hash.bind(null, 'sha256'),
    applyChecksum: options.applyChecksum ?? true,
  });
  const request = new HttpRequest({
    method: 'POST',
    protocol: 'http:',
    hostname: url.hostname,
    port: Number(url.port),
    path: '/',
    headers: {
      host: url.host,
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-target': `DynamoDB_20120810.${options.operation ?? 'GetItem'}`,
      ...options.extraHeaders,
    },
    body,
  });
  const signed = await signer.sign(request, options.signingDate ? { signingDate: options.signingDate } : {});
  return { headers: signed.headers, body };
}

describe('a request altered after it was signed', () => {
  it('control: the untampered request, sent by hand, reads the config row', async () => {
    const res = await sendRaw(await signDynamo());
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ Item: { tenantId: { S: 'tenant1' } } });
  });

  it('a changed body, with no x-amz-content-sha256 header, fails the signature: InvalidSignatureException (400)', async () => {
    const signed = await signDynamo({ applyChecksum: false });
    expect(Object.keys(signed.headers)).not.toContain('x-amz-content-sha256');
    const res = await sendRaw({ ...signed, body: signed.body.replace('tenant1', 'tenant2') });
    expect(res).toMatchObject({ status: 400, errorType: 'InvalidSignatureException' });
    expect(res.message).toMatch(SIGNATURE_MISMATCH);
  });

  it('a changed body under a signed x-amz-content-sha256 fails: InvalidSignatureException (400)', async () => {
    const signed = await signDynamo();
    expect(Object.keys(signed.headers)).toContain('x-amz-content-sha256');
    const res = await sendRaw({ ...signed, body: signed.body.replace('tenant1', 'tenant2') });
    expect(res).toMatchObject({ status: 400, errorType: 'InvalidSignatureException' });
  });

  it('a payload the client declared UNSIGNED-PAYLOAD is refused, changed or not: InvalidSignatureException (400)', async () => {
    // Only S3 accepts unsigned payloads; here the body would be open to change after signing.
    const signed = await signDynamo({ extraHeaders: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } });
    expect(await sendRaw({ ...signed, body: signed.body.replace('tenant1', 'tenant2') })).toMatchObject({ status: 400, errorType: 'InvalidSignatureException' });
    expect(await sendRaw(signed)).toMatchObject({ status: 400, errorType: 'InvalidSignatureException' });
  });

  it('a changed signed header (X-Amz-Target GetItem -> DeleteItem) fails: InvalidSignatureException (400), the row survives', async () => {
    const signed = await signDynamo({ who: 'operator' });
    const res = await sendRaw({ ...signed, headers: { ...signed.headers, 'x-amz-target': 'DynamoDB_20120810.DeleteItem' } });
    expect(res).toMatchObject({ status: 400, errorType: 'InvalidSignatureException' });
    await expectConfigRead(dynamo('operator'));
  });
});

describe('a request dated 10 minutes off the stand-ins clock', () => {
  it('control: a request signed now, by hand and by the SDK, succeeds', async () => {
    expect((await sendRaw(await signDynamo({ signingDate: new Date() }))).status).toBe(200);
    await expectConfigRead(dynamo('validate-context'));
  });

  it('signed 10 minutes ago (by hand): InvalidSignatureException (400), "Signature expired"', async () => {
    const res = await sendRaw(await signDynamo({ signingDate: new Date(Date.now() - 10 * MINUTE) }));
    expect(res).toMatchObject({ status: 400, errorType: 'InvalidSignatureException' });
    expect(res.message).toMatch(/^Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z/);
  });

  it('signed 10 minutes ahead (by hand): InvalidSignatureException (400), "Signature not yet current"', async () => {
    const res = await sendRaw(await signDynamo({ signingDate: new Date(Date.now() + 10 * MINUTE) }));
    expect(res).toMatchObject({ status: 400, errorType: 'InvalidSignatureException' });
    expect(res.message).toMatch(/^Signature not yet current: \d{8}T\d{6}Z is still later than \d{8}T\d{6}Z/);
  });

  it('an SDK client whose clock is 10 minutes slow: InvalidSignatureException (400), "Signature expired"', async () => {
    // A fresh client per attempt: after this failure the SDK corrects its offset from the Date header.
    const f = await failure(readConfig(dynamo('validate-context', { systemClockOffset: -10 * MINUTE })));
    expect(f).toMatchObject({ name: 'InvalidSignatureException', status: 400 });
    expect(f.message).toMatch(/^Signature expired/);
  });

  it('the stand-ins clock 10 minutes ahead of an SDK client: DynamoDB InvalidSignatureException (400), STS SignatureDoesNotMatch (403)', async () => {
    clockShiftMs = 10 * MINUTE;
    const ddb = await failure(readConfig(dynamo('validate-context')));
    expect(ddb).toMatchObject({ name: 'InvalidSignatureException', status: 400 });
    expect(ddb.message).toMatch(/^Signature expired/);
    const st = await failure(sts('operator').send(new GetCallerIdentityCommand({})));
    expect(st).toMatchObject({ name: 'SignatureDoesNotMatch', status: 403 });
    expect(st.message).toMatch(/^Signature expired/);
    // Control: the same shift on the client's side makes the signature current again.
    await expectConfigRead(dynamo('validate-context', { systemClockOffset: 10 * MINUTE }));
  });
});

describe('session tokens', () => {
  it('scoped credentials work until they expire (900 s), then ExpiredTokenException (400)', async () => {
    frozenAt = Date.now();
    const mintedAt = frozenAt;
    const creds = await mintTenant1();
    expect(creds.accessKeyId).toMatch(/^ASIA/);
    // Each client signs at the stand-ins' time, so that only the token's age differs.
    const at = (ms: number) => {
      frozenAt = mintedAt + ms;
      return dynamo(creds, { systemClockOffset: frozenAt - Date.now() });
    };
    await expectConfigRead(at(0));
    await expectConfigRead(at(899_000));
    expect(await failure(readConfig(at(901_000)))).toMatchObject({
      name: 'ExpiredTokenException',
      status: 400,
      message: 'The security token included in the request is expired',
    });
    expect(await failure(sts(creds, { systemClockOffset: frozenAt - Date.now() }).send(new GetCallerIdentityCommand({})))).toMatchObject({
      name: 'ExpiredToken',
      status: 400,
    });
  });

  it('an altered session token: UnrecognizedClientException (400); InvalidClientTokenId (403) on STS', async () => {
    const creds = await mintTenant1();
    await expectConfigRead(dynamo(creds));
    const t = creds.sessionToken;
    const altered = { ...creds, sessionToken: t.slice(0, 10) + (t[10] === 'A' ? 'B' : 'A') + t.slice(11) };
    expect(await failure(readConfig(dynamo(altered)))).toMatchObject({ name: 'UnrecognizedClientException', status: 400 });
    expect(await failure(sts(altered).send(new GetCallerIdentityCommand({})))).toMatchObject({ name: 'InvalidClientTokenId', status: 403 });
  });

  it("another session's token with this session's key: UnrecognizedClientException (400)", async () => {
    const [a, b] = await Promise.all([mintTenant1(), mintTenant1()]);
    await expectConfigRead(dynamo(a));
    await expectConfigRead(dynamo(b));
    expect(await failure(readConfig(dynamo({ ...a, sessionToken: b.sessionToken })))).toMatchObject({
      name: 'UnrecognizedClientException',
      status: 400,
    });
  });

  it('an ASIA key without its session token: UnrecognizedClientException (400)', async () => {
    const creds = await mintTenant1();
    await expectConfigRead(dynamo(creds));
    const { sessionToken: _dropped, ...withoutToken } = creds;
    expect(await failure(readConfig(dynamo(withoutToken)))).toMatchObject({ name: 'UnrecognizedClientException', status: 400 });
  });

  it('a long-term key with a session token it was never given: UnrecognizedClientException (400)', async () => {
    const creds = await mintTenant1();
    expect(await failure(readConfig(dynamo({ ...stack.iam.credentials('validate-context'), sessionToken: creds.sessionToken })))).toMatchObject({
      name: 'UnrecognizedClientException',
      status: 400,
    });
  });
});

describe('a request without an Authorization header', () => {
  /** The SDK signs as always; this middleware drops the signature on its way out. */
  type Next = (args: { request: unknown }) => Promise<unknown>;
  /** The part of the SDK's middleware stack used here (typed structurally, for both clients). */
  interface RelativeStack {
    addRelativeTo(middleware: (next: Next) => Next, options: { relation: 'after'; toMiddleware: string; name: string }): void;
  }

  function unsigned<C extends DynamoDBClient | STSClient>(client: C): C {
    (client.middlewareStack as unknown as RelativeStack).addRelativeTo(
      (next) => async (args) => {
        const request = args.request as HttpRequest;
        if (!('authorization' in request.headers)) throw new Error('test setup: the request was not signed');
        delete request.headers.authorization;
        return next(args);
      },
      { relation: 'after', toMiddleware: 'httpSigningMiddleware', name: 'dropAuthorization' },
    );
    return client;
  }

  it('control: the same clients without the middleware succeed', async () => {
    await expectConfigRead(dynamo('validate-context'));
    expect((await sts('operator').send(new GetCallerIdentityCommand({}))).Arn).toBe(stack.iam.principalArn('operator'));
  });

  it('DynamoDB answers MissingAuthenticationTokenException (400)', async () => {
    expect(await failure(readConfig(unsigned(dynamo('validate-context'))))).toMatchObject({
      name: 'MissingAuthenticationTokenException',
      status: 400,
      message: 'Request is missing Authentication Token',
    });
  });

  it('STS answers MissingAuthenticationToken (403)', async () => {
    expect(await failure(unsigned(sts('operator')).send(new GetCallerIdentityCommand({})))).toMatchObject({
      name: 'MissingAuthenticationToken',
      status: 403,
    });
  });
});

describe('a credential scope for another region', () => {
  it('control: us-east-1 succeeds', async () => {
    await expectConfigRead(dynamo('validate-context', { region: 'us-east-1' }));
  });

  it('DynamoDB answers InvalidSignatureException (400)', async () => {
    const f = await failure(readConfig(dynamo('validate-context', { region: 'eu-west-1' })));
    expect(f).toMatchObject({ name: 'InvalidSignatureException', status: 400 });
    expect(f.message).toMatch(/^Credential should be scoped to a valid region/);
  });

  it('STS answers SignatureDoesNotMatch (403)', async () => {
    const f = await failure(sts('operator', { region: 'eu-west-1' }).send(new GetCallerIdentityCommand({})));
    expect(f).toMatchObject({ name: 'SignatureDoesNotMatch', status: 403 });
    expect(f.message).toMatch(/^Credential should be scoped to a valid region/);
  });

  it('KMS answers InvalidSignatureException (400)', async () => {
    expect(await failure(encrypt(kms('mint-credentials', { region: 'eu-west-1' })))).toMatchObject({ name: 'InvalidSignatureException', status: 400 });
  });
});
