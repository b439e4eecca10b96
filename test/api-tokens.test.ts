/**
 * Bad user pool tokens against the local AppSync, through the real client: each one is refused on
 * `POST /graphql` (the `ask` mutation, with an answerId that is valid for the token's sub) and at
 * the realtime handshake and `start`, and none of them starts an execution. The genuine ID token
 * (the control) is accepted and starts exactly one.
 *
 * The stack is persisted in a temp dir, so the pool's private key can be read from
 * `<dataDir>/cognito.json` to craft tokens that are validly signed but wrong in one claim.
 */
import { createPublicKey, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SFNClient } from '@aws-sdk/client-sfn';
import { decodeJwt, SignJWT, type JWK, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError, ASK, AssistantApi, ON_ANSWER } from '../client/api.ts';
import { signIn, type Tokens } from '../client/auth.ts';
import { listExecutions } from '../client/executions.ts';
import { realtimeRefusal } from './realtime-refusal.ts';
import { startLocalStack, type LocalStack } from '../infra/local/stack.ts';
import { poolSigner, type PoolSigner } from './pool-key.ts';

const NEW_PASSWORD = 'Correct-Horse-Battery-9!';
const OTHER_ISSUER = 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_SomeOtherPool';

let dataDir: string;
let stack: LocalStack;
let sfn: SFNClient;
let genuine: Tokens;
let claims: JWTPayload;
let kid: string;
let signer: PoolSigner;

const b64url = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

/** Signed with the pool's own private key (RS256): valid except for what the claims or header change. */
function signWithPoolKey(payload: JWTPayload, header: Record<string, unknown> = {}): Promise<string> {
  return signer.sign(payload, header);
}

/** The pool's public key, as an attacker gets it from the JWKS. */
function publicKey(format: 'pem' | 'der'): Uint8Array {
  const key = createPublicKey({ key: stack.cognito.jwks().keys[0]! as unknown as JWK & { kty: string }, format: 'jwk' });
  return format === 'pem' ? Buffer.from(key.export({ type: 'spki', format: 'pem' }) as string) : new Uint8Array(key.export({ type: 'spki', format: 'der' }));
}

function client(idToken: string | (() => string)): AssistantApi {
  return new AssistantApi({ graphqlUrl: stack.graphqlUrl, realtimeUrl: stack.realtimeUrl, idToken, answerTimeoutMs: 20_000 });
}

async function executionCount(): Promise<number> {
  return (await listExecutions(sfn, stack.iam.resources.stateMachineArn, undefined, 1000)).length;
}

/** The sub a token claims (read without verification), or the genuine user's when it has none. */
function claimedSub(token: string): string {
  try {
    const sub = decodeJwt(token).sub;
    if (typeof sub === 'string') return sub;
  } catch {
    // malformed: the answerId is still one the genuine user could own
  }
  return claims.sub!;
}

/** Sends the `ask` mutation with `token`, as the real client does; the error it fails with, or undefined. */
async function askWith(token: string): Promise<ApiError | undefined> {
  try {
    await client(token).graphql(ASK, { answerId: `${claimedSub(token)}.${randomUUID()}`, question: "What's your return policy?", conversationId: null });
    return undefined;
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
}


beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'assistant-tokens-'));
  stack = await startLocalStack({ port: 0, dataDir, seedOrdersPerUser: 0, retryIntervalOverrides: 0 });
  sfn = new SFNClient(stack.clientConfig('operator'));
  const pool = { region: stack.iam.location.region, clientId: stack.cognito.clientId, endpoint: stack.edgeUrl };
  genuine = await signIn(pool, 'tenant1-user', stack.cognito.temporaryPasswords()['tenant1-user']!, () => NEW_PASSWORD);
  claims = decodeJwt(genuine.idToken);
  await stack.cognito.flush();
  signer = await poolSigner(dataDir);
  kid = signer.kid;
});

afterAll(async () => {
  sfn?.destroy();
  await stack?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** The bad tokens: each is made once the genuine sign-in and the pool key are known. */
const BAD_TOKENS: [string, () => Promise<string> | string][] = [
  ['alg none, no signature', () => `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(claims)}.`],
  ['alg none, with the pool kid and a leftover signature', () => `${b64url({ alg: 'none', kid })}.${b64url(claims)}.${genuine.idToken.split('.')[2]!}`],
  ['HS256 with the pool public key (PEM) as the HMAC secret', () => new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid }).sign(publicKey('pem'))],
  ['HS256 with the pool public key (DER) as the HMAC secret', () => new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid }).sign(publicKey('der'))],
  ['unknown kid (signed with the pool key)', () => signWithPoolKey(claims, { kid: `unknown-${randomUUID()}` })],
  [
    'tampered payload: custom:tenantId changed, original signature kept',
    () => {
      const [header, , signature] = genuine.idToken.split('.');
      return `${header!}.${b64url({ ...claims, 'custom:tenantId': 'tenant2' })}.${signature!}`;
    },
  ],
  ['wrong issuer', () => signWithPoolKey({ ...claims, iss: OTHER_ISSUER })],
  ['wrong audience', () => signWithPoolKey({ ...claims, aud: 'someotherappclient00000001' })],
  // The genuine access token is accepted as on AWS (test/access-token.test.ts); one of another app client is not.
  ['an ID token of another app client of the pool (signed with the pool key)', () => signWithPoolKey({ ...claims, aud: 'anotherappclientofthepool1' })],
  ['ID claims with token_use access (signed with the pool key)', () => signWithPoolKey({ ...claims, token_use: 'access' })],
  ['expired', () => signWithPoolKey({ ...claims, iat: now() - 7200, auth_time: now() - 7200, exp: now() - 3600 })],
  // aws-jwt-verify enforces nbf (not iat): a token not valid for another hour.
  ['not yet valid (nbf and iat an hour ahead)', () => signWithPoolKey({ ...claims, nbf: now() + 3600, iat: now() + 3600, exp: now() + 7200 })],
  ['malformed: 2 segments', () => genuine.idToken.split('.').slice(0, 2).join('.')],
  ['malformed: 5 segments', () => `${genuine.idToken}.${b64url('x')}.${b64url('y')}`],
  [
    'malformed: bad base64 in the payload',
    () => {
      const [header, payload, signature] = genuine.idToken.split('.');
      return `${header!}.${payload!.slice(0, 10)}!*$${payload!.slice(13)}.${signature!}`;
    },
  ],
  ['malformed: payload is not JSON (signed with the pool key)', async () => {
    const header = b64url({ alg: 'RS256', kid });
    const signed = await signWithPoolKey(claims);
    return `${header}.${b64url('not json')}.${signed.split('.')[2]!}`;
  }],
];

describe('control: the genuine ID token', () => {
  it('is accepted on POST /graphql and starts exactly one execution, which answers', async () => {
    const before = await executionCount();
    const answerId = `${claims.sub!}.${randomUUID()}`;
    const out = await client(genuine.idToken).graphql<{ ask: { answerId: string; executionId: string } }>(ASK, {
      answerId,
      question: "What's your return policy?",
      conversationId: null,
    });
    expect(out.ask.answerId).toBe(answerId);
    expect(await executionCount()).toBe(before + 1);
    const rows = await listExecutions(sfn, stack.iam.resources.stateMachineArn, undefined, 1);
    expect(rows[0]!.executionArn).toBe(out.ask.executionId);
    expect((await stack.states.waitForExecution(out.ask.executionId)).status).toBe('SUCCEEDED');
  });

  it('connects over realtime and subscribes to its own answers', async () => {
    const connection = await client(genuine.idToken).connect();
    try {
      const sub = await connection.subscribe(ON_ANSWER, { answerId: `${claims.sub!}.${randomUUID()}` }, () => undefined);
      await sub.unsubscribe();
    } finally {
      connection.close();
    }
  });

  it('the crafting works: the pool key and the genuine claims make a token that is accepted', async () => {
    // Without this, "signed with the pool key" cases could fail for a reason other than the one named.
    expect(await stack.cognito.verifiers().idToken.verify(await signWithPoolKey(claims))).toMatchObject({ sub: claims.sub, 'custom:tenantId': 'tenant1' });
    const before = await executionCount();
    expect(await askWith(await signWithPoolKey({ ...claims, iat: now(), exp: now() + 600 }))).toBeUndefined();
    expect(await executionCount()).toBe(before + 1);
    await stack.states.drain();
  });
});

describe.each(BAD_TOKENS)('bad token: %s', (_name, make) => {
  let token: string;
  beforeAll(async () => {
    token = await make();
    expect(token).not.toBe(genuine.idToken);
  });

  it('POST /graphql ask: HTTP 401 UnauthorizedException, and no execution starts', async () => {
    const before = await executionCount();
    const err = await askWith(token);
    expect(err, 'the ask mutation was accepted').toBeDefined();
    expect({ status: err!.status, errorType: err!.errorType }).toEqual({ status: 401, errorType: 'UnauthorizedException' });
    expect(await executionCount()).toBe(before);
  });

  it('realtime handshake: connection_error UnauthorizedException (401)', async () => {
    const err = await realtimeRefusal(client(token).connect());
    expect({ errorType: err.errorType, errorCode: err.errorCode }).toEqual({ errorType: 'UnauthorizedException', errorCode: 401 });
  });

  it('realtime start on a genuine connection: UnauthorizedException; the connection still serves the genuine token', async () => {
    let current = genuine.idToken;
    const connection = await client(() => current).connect();
    try {
      current = token;
      const err = await realtimeRefusal(connection.subscribe(ON_ANSWER, { answerId: `${claims.sub!}.${randomUUID()}` }, () => undefined));
      expect(err.errorType).toBe('UnauthorizedException');
      current = genuine.idToken;
      const own = await connection.subscribe(ON_ANSWER, { answerId: `${claims.sub!}.${randomUUID()}` }, () => undefined);
      await own.unsubscribe();
    } finally {
      connection.close();
    }
  });
});

describe.each([
  ['whose custom:tenantId is empty', () => ({ ...claims, 'custom:tenantId': '' })],
  [
    'without custom:tenantId',
    () => {
      const { 'custom:tenantId': _dropped, ...rest } = claims;
      return rest;
    },
  ],
])('a correctly signed ID token %s', (_name, payload) => {
  // As on AWS, AppSync authenticates the token (it asks nothing of custom claims); the resolver refuses it.
  it('passes authentication, but the ask resolver refuses it (Unauthorized) and no execution starts', async () => {
    const token = await signWithPoolKey(payload());
    // It does authenticate (the realtime handshake accepts it): the refusal below is the resolver's.
    const connection = await client(token).connect();
    connection.close();
    const before = await executionCount();
    const err = await askWith(token);
    expect(err, 'the ask mutation was accepted').toBeDefined();
    expect({ status: err!.status, errorType: err!.errorType }).toEqual({ status: 200, errorType: 'Unauthorized' });
    expect(await executionCount()).toBe(before);
  });
});
