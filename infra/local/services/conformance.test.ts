/**
 * The case file every stand-in behind the edge runs, as every Hono router runs the same router
 * cases: an unknown operation, a body that is not JSON or not a JSON object, a member of the wrong
 * JSON type, an unsigned request, and a signature scoped to another service (or to one that does
 * not exist). Each case asserts AWS's HTTP status and error code, read from the wire as an SDK
 * reads it (`x-amzn-errortype`, `__type`, the XML `Code`), and then that the service's control, one
 * valid signed call, still succeeds. Requests are signed by hand with @smithy/signature-v4, so that
 * the edge sees exactly what each case sends.
 */
import http from 'node:http';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  LOCAL_AGENT_ALIAS_ID,
  LOCAL_AGENT_ID,
  LOCAL_MODEL_ID,
  SEAL_KEY_ALIAS,
  STATE_MACHINE_LOG_GROUP,
  type LocalPrincipalName,
} from '../iam/principals.ts';
import { startLocalStack, type LocalStack } from '../stack.ts';
import { bootstrapVersionParameter } from '../../aws/bootstrap.ts';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { LOCAL_USER_SECRET_PREFIX } from '../iam/principals.ts';

const USER_SECRET = `${LOCAL_USER_SECRET_PREFIX}tenant1-user`;

let stack: LocalStack;

beforeAll(async () => {
  // No execution runs here: the task functions need no sandbox thread.
  stack = await startLocalStack({ port: 0, appsyncPort: 0, lambdaSandbox: false });
  // The Secrets Manager control reads a secret: the operator makes it, as npm run users would.
  const secrets = new SecretsManagerClient(stack.clientConfig('operator'));
  await secrets.send(new CreateSecretCommand({ Name: USER_SECRET, SecretString: '{"password":"x"}' }));
  secrets.destroy();
});

afterAll(async () => {
  await stack?.stop();
});

/** A request before signing: path, headers (content type, target) and body. */
interface WireRequest {
  path: string;
  headers: Record<string, string>;
  body: string;
}

interface WireAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** The error code, as the SDK's deserializers read it; undefined for a success. */
  code?: string;
  message?: string;
}

interface Expected {
  status: number;
  code: string;
}


interface Conformant {
  /** The SigV4 signing name: the credential scope's service. */
  service: string;
  protocol: 'json' | 'rest-json' | 'query';
  /** Who signs the control (a principal the control's call is granted to). */
  who: LocalPrincipalName;
  /** The control: one valid call... */
  valid(): WireRequest;
  /** ...and what its 200 answer holds, so that a control cannot pass on an empty answer. */
  holds(answer: WireAnswer): void;
  unknownOperation(): WireRequest;
  /** The control with one member of the wrong JSON type (JSON and REST-JSON services). */
  wrongMemberType?(): WireRequest;
}

/** AWS's answers, by protocol family. */
const EXPECTED: Record<Conformant['protocol'], Record<'unknownOperation' | 'unsigned' | 'scopedElsewhere' | 'serialization', Expected>> = {
  // JSON 1.0/1.1 services answer every client error, authentication included, with 400.
  json: {
    unknownOperation: { status: 400, code: 'UnknownOperationException' },
    unsigned: { status: 400, code: 'MissingAuthenticationTokenException' },
    scopedElsewhere: { status: 400, code: 'InvalidSignatureException' },
    serialization: { status: 400, code: 'SerializationException' },
  },
  // REST-JSON: no operation matches the method and path (404); authentication failures are 403.
  'rest-json': {
    unknownOperation: { status: 404, code: 'UnknownOperationException' },
    unsigned: { status: 403, code: 'MissingAuthenticationTokenException' },
    scopedElsewhere: { status: 403, code: 'InvalidSignatureException' },
    serialization: { status: 400, code: 'SerializationException' },
  },
  // The query protocol (STS): common errors without the Exception suffix.
  query: {
    unknownOperation: { status: 400, code: 'InvalidAction' },
    unsigned: { status: 403, code: 'MissingAuthenticationToken' },
    scopedElsewhere: { status: 403, code: 'SignatureDoesNotMatch' },
    serialization: { status: 400, code: 'unused: the query protocol carries no JSON' },
  },
};

function jsonRequest(version: '1.0' | '1.1', target: string, body: object): WireRequest {
  return { path: '/', headers: { 'content-type': `application/x-amz-json-${version}`, 'x-amz-target': target }, body: JSON.stringify(body) };
}

const json = (answer: WireAnswer) => JSON.parse(answer.body) as Record<string, unknown>;

const SERVICES: Conformant[] = [
  {
    service: 'dynamodb',
    protocol: 'json',
    who: 'validate-context',
    valid: () => jsonRequest('1.0', 'DynamoDB_20120810.GetItem', { TableName: stack.tables.config, Key: { tenantId: { S: 'tenant1' } } }),
    holds: (a) => expect(json(a)).toMatchObject({ Item: { tenantId: { S: 'tenant1' } } }),
    unknownOperation: () => jsonRequest('1.0', 'DynamoDB_20120810.NoSuchOperation', {}),
    wrongMemberType: () => jsonRequest('1.0', 'DynamoDB_20120810.GetItem', { TableName: 5, Key: { tenantId: { S: 'tenant1' } } }),
  },
  {
    service: 'kms',
    protocol: 'json',
    who: 'mint-credentials',
    valid: () => jsonRequest('1.1', 'TrentService.Encrypt', { KeyId: SEAL_KEY_ALIAS, Plaintext: Buffer.from('conformance').toString('base64'), EncryptionContext: sealContext() }),
    holds: (a) => expect(json(a)).toMatchObject({ KeyId: stack.iam.resources.sealKeyArn, CiphertextBlob: expect.any(String) }),
    unknownOperation: () => jsonRequest('1.1', 'TrentService.NoSuchOperation', {}),
    wrongMemberType: () => jsonRequest('1.1', 'TrentService.Encrypt', { KeyId: 5, Plaintext: 'AA==', EncryptionContext: sealContext() }),
  },
  {
    service: 'states',
    protocol: 'json',
    who: 'operator',
    valid: () => jsonRequest('1.0', 'AWSStepFunctions.DescribeStateMachine', { stateMachineArn: stack.iam.resources.stateMachineArn }),
    holds: (a) => expect(json(a)).toMatchObject({ stateMachineArn: stack.iam.resources.stateMachineArn, status: 'ACTIVE' }),
    unknownOperation: () => jsonRequest('1.0', 'AWSStepFunctions.NoSuchOperation', {}),
    wrongMemberType: () => jsonRequest('1.0', 'AWSStepFunctions.DescribeStateMachine', { stateMachineArn: 5 }),
  },
  {
    service: 'logs',
    protocol: 'json',
    who: 'operator',
    valid: () => jsonRequest('1.1', 'Logs_20140328.FilterLogEvents', { logGroupName: STATE_MACHINE_LOG_GROUP, limit: 1 }),
    holds: (a) => expect(json(a)).toMatchObject({ events: expect.any(Array), searchedLogStreams: [] }),
    unknownOperation: () => jsonRequest('1.1', 'Logs_20140328.NoSuchOperation', {}),
    wrongMemberType: () => jsonRequest('1.1', 'Logs_20140328.FilterLogEvents', { logGroupName: STATE_MACHINE_LOG_GROUP, limit: '1' }),
  },
  {
    service: 'ssm',
    protocol: 'json',
    who: 'operator',
    valid: () => jsonRequest('1.1', 'AmazonSSM.GetParameter', { Name: bootstrapVersionParameter() }),
    holds: (a) => expect(json(a)).toMatchObject({ Parameter: { Name: bootstrapVersionParameter(), Type: 'String' } }),
    unknownOperation: () => jsonRequest('1.1', 'AmazonSSM.NoSuchOperation', {}),
    wrongMemberType: () => jsonRequest('1.1', 'AmazonSSM.GetParameter', { Name: 5 }),
  },
  {
    service: 'secretsmanager',
    protocol: 'json',
    who: 'operator',
    valid: () => jsonRequest('1.1', 'secretsmanager.GetSecretValue', { SecretId: USER_SECRET }),
    holds: (a) => expect(json(a)).toMatchObject({ Name: USER_SECRET, SecretString: '{"password":"x"}', VersionStages: ['AWSCURRENT'] }),
    unknownOperation: () => jsonRequest('1.1', 'secretsmanager.NoSuchOperation', {}),
    wrongMemberType: () => jsonRequest('1.1', 'secretsmanager.GetSecretValue', { SecretId: 5 }),
  },
  {
    // The sign-in operations are legitimately unsigned; AdminGetUser needs a signature and a grant.
    service: 'cognito-idp',
    protocol: 'json',
    who: 'validate-context',
    valid: () => jsonRequest('1.1', 'AWSCognitoIdentityProviderService.AdminGetUser', { UserPoolId: stack.cognito.poolId, Username: 'tenant1-user' }),
    holds: (a) => expect(json(a)).toMatchObject({ Username: 'tenant1-user', Enabled: true }),
    unknownOperation: () => jsonRequest('1.1', 'AWSCognitoIdentityProviderService.NoSuchOperation', {}),
    wrongMemberType: () => jsonRequest('1.1', 'AWSCognitoIdentityProviderService.AdminGetUser', { UserPoolId: 5, Username: 'tenant1-user' }),
  },
  {
    service: 'bedrock',
    protocol: 'rest-json',
    who: 'invoke-agent',
    valid: () => invokeAgent({ inputText: 'What is the return policy?' }),
    holds: (a) => expect(a.headers['content-type']).toBe('application/vnd.amazon.eventstream'),
    unknownOperation: () => ({ path: `/model/${LOCAL_MODEL_ID}/no-such-operation`, headers: { 'content-type': 'application/json' }, body: '{}' }),
    wrongMemberType: () => invokeAgent({ inputText: 5 }),
  },
  {
    service: 'sts',
    protocol: 'query',
    who: 'operator',
    valid: () => queryRequest('GetCallerIdentity'),
    holds: (a) => expect(a.body).toContain(`<Arn>${stack.iam.principalArn('operator')}</Arn>`),
    unknownOperation: () => queryRequest('NoSuchOperation'),
  },
];

function sealContext(): Record<string, string> {
  const user = stack.user('tenant1-user');
  return { tenantId: user.tenantId, userId: user.sub, answerId: `${user.sub}.conformance` };
}

function invokeAgent(body: object): WireRequest {
  return {
    path: `/agents/${LOCAL_AGENT_ID}/agentAliases/${LOCAL_AGENT_ALIAS_ID}/sessions/conformance-session/text`,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  };
}

function queryRequest(action: string): WireRequest {
  return { path: '/', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `Action=${action}&Version=2011-06-15` };
}

/** `request` signed by `who`, with `service` in the credential scope. */
async function sign(request: WireRequest, who: LocalPrincipalName, service: string): Promise<WireRequest> {
  const url = new URL(stack.edgeUrl);
  const signer = new SignatureV4({
    credentials: stack.iam.credentials(who),
    region: stack.iam.location.region,
    service,
    sha256: Hash.bind(null, 'sha256'),
    applyChecksum: true,
  });
  const signed = await signer.sign(
    new HttpRequest({
      method: 'POST',
      protocol: 'http:',
      hostname: url.hostname,
      port: Number(url.port),
      path: request.path,
      headers: { host: url.host, ...request.headers },
      body: request.body,
    }),
  );
  expect(signed.headers.authorization).toContain(`/${service}/aws4_request`);
  return { ...request, headers: signed.headers };
}

/** The error code and message as the SDKs read them: header first, then `__type`, or the XML Error. */
function readError(status: number, headers: http.IncomingHttpHeaders, body: string): Pick<WireAnswer, 'code' | 'message'> {
  if (status < 300) return {};
  const header = typeof headers['x-amzn-errortype'] === 'string' ? headers['x-amzn-errortype'].split(':')[0] : undefined;
  if (String(headers['content-type']).includes('xml')) {
    const text = (tag: string) => new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(body)?.[1]?.replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)));
    return { code: text('Code'), message: text('Message') };
  }
  const parsed = JSON.parse(body || '{}') as { __type?: string; message?: string; Message?: string };
  const type = parsed.__type?.split('#').pop();
  // Both carry the code when both are present, and they must agree.
  if (header !== undefined && type !== undefined) expect(type).toBe(header);
  return { code: header ?? type, message: parsed.message ?? parsed.Message };
}

/** Sends exactly these headers and this body to the edge (no SDK, no re-signing). */
function send({ path, headers, body }: WireRequest): Promise<WireAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request(stack.edgeUrl, { method: 'POST', path, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        // An event stream (Bedrock's InvokeAgent) is binary; only its status and headers are read.
        const text = res.headers['content-type'] === 'application/vnd.amazon.eventstream' ? '' : Buffer.concat(chunks).toString('utf8');
        resolve({ status, headers: res.headers, body: text, ...readError(status, res.headers, text) });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The control: the valid call, signed by its principal for its own service, succeeds. */
async function expectControl(svc: Conformant): Promise<void> {
  const answer = await send(await sign(svc.valid(), svc.who, svc.service));
  expect({ status: answer.status, code: answer.code }).toEqual({ status: 200, code: undefined });
  svc.holds(answer);
}

const withBody = (request: WireRequest, body: string): WireRequest => ({ ...request, body });

/** Bodies a JSON service cannot deserialize into its input structure. */
const NOT_JSON_OBJECTS: [string, string][] = [
  ['a list', '[]'],
  ['a string', '"x"'],
  ['a number', '1'],
  ['null', 'null'],
];

describe.each(SERVICES)('$service ($protocol)', (svc) => {
  const expected = EXPECTED[svc.protocol];

  it('control: one valid signed call succeeds', async () => {
    await expectControl(svc);
  });

  it(`an unknown operation: ${expected.unknownOperation.code} (${expected.unknownOperation.status})`, async () => {
    expect(await send(await sign(svc.unknownOperation(), svc.who, svc.service))).toMatchObject(expected.unknownOperation);
    await expectControl(svc);
  });

  it(`an unsigned call: ${expected.unsigned.code} (${expected.unsigned.status})`, async () => {
    const answer = await send(svc.valid());
    expect(answer).toMatchObject(expected.unsigned);
    expect(answer.message).toBe('Request is missing Authentication Token');
    await expectControl(svc);
  });

  // On AWS the endpoint names the service; the edge reads it from the request (target, protocol).
  it.each([
    ['another service', svc.service === 'kms' ? 'dynamodb' : 'kms'],
    ['a service that does not exist', 'nosuchservice'],
  ])(`a signature scoped to %s (%s): ${expected.scopedElsewhere.code} (${expected.scopedElsewhere.status})`, async (_what, scope) => {
    const answer = await send(await sign(svc.valid(), svc.who, scope));
    expect(answer).toMatchObject(expected.scopedElsewhere);
    expect(answer.message).toBe(`Credential should be scoped to correct service: '${svc.service}'.`);
    await expectControl(svc);
  });

  if (svc.protocol === 'query') return; // a form of parameters: there is no JSON to break

  it('a body that is not JSON: SerializationException (400)', async () => {
    expect(await send(await sign(withBody(svc.valid(), '{not json'), svc.who, svc.service))).toMatchObject(expected.serialization);
    await expectControl(svc);
  });

  it.each(NOT_JSON_OBJECTS)('a body that is %s (%s): SerializationException (400)', async (_what, body) => {
    expect(await send(await sign(withBody(svc.valid(), body), svc.who, svc.service))).toMatchObject(expected.serialization);
    await expectControl(svc);
  });

  if (svc.wrongMemberType) {
    const wrong = svc.wrongMemberType;
    it('a member of the wrong JSON type: SerializationException (400)', async () => {
      expect(await send(await sign(wrong(), svc.who, svc.service))).toMatchObject(expected.serialization);
      await expectControl(svc);
    });
  }
});

describe('the edge, for a request that names no service it hosts', () => {
  it.each(['nosuchservice', 'constructor'])(
    "a JSON call to an unknown API scoped to '%s': UnknownServiceException (400), the edge's own answer (AWS has no such endpoint)",
    async (scope) => {
      const answer = await send(await sign(jsonRequest('1.0', 'NoSuchApi_20250101.DoIt', {}), 'operator', scope));
      expect(answer).toMatchObject({ status: 400, code: 'UnknownServiceException' });
      await expectControl(SERVICES[0]!);
    },
  );
});
