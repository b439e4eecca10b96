/**
 * The API accepts both user pool tokens, as AppSync's AMAZON_COGNITO_USER_POOLS mode does: the ID
 * token (what the web UI and `npm run ask` send) and the access token (what the Amplify client's
 * `userPool` mode sends), whose tenant claim the pre token generation trigger put there. It accepts
 * them from the web client only (appIdClientRegex), over HTTP and realtime alike. End to end through
 * the local stack and the real client.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SFNClient } from '@aws-sdk/client-sfn';
import { decodeJwt, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError, ASK, AssistantApi, ON_ANSWER } from '../client/api.ts';
import { refreshTokens, signIn, type Tokens } from '../client/auth.ts';
import { listExecutions } from '../client/executions.ts';
import { realtimeRefusal } from './realtime-refusal.ts';
import { startLocalStack, type LocalStack } from '../infra/local/stack.ts';
import { poolSigner, type PoolSigner } from './pool-key.ts';

const NEW_PASSWORD = 'Correct-Horse-Battery-9!';
const OTHER_CLIENT = 'anotherappclientofthepool1';

let dataDir: string;
let stack: LocalStack;
let sfn: SFNClient;
let signer: PoolSigner;
const tokens = new Map<string, Tokens>();

const now = () => Math.floor(Date.now() / 1000);

function client(token: string | (() => string)): AssistantApi {
  return new AssistantApi({ graphqlUrl: stack.graphqlUrl, realtimeUrl: stack.realtimeUrl, idToken: token, answerTimeoutMs: 20_000 });
}

async function executionCount(): Promise<number> {
  return (await listExecutions(sfn, stack.iam.resources.stateMachineArn, undefined, 1000)).length;
}

/** The `ask` mutation alone, with an answerId of the token's sub: the error it fails with, or undefined. */
async function askWith(token: string): Promise<ApiError | undefined> {
  try {
    await client(token).graphql(ASK, { answerId: `${String(decodeJwt(token).sub)}.${randomUUID()}`, question: "What's your return policy?", conversationId: null });
    return undefined;
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
}

/** The genuine access token's claims, re-signed with the pool key after `change`. */
function accessClaims(username: string): JWTPayload {
  return { ...decodeJwt(tokens.get(username)!.accessToken), iat: now(), exp: now() + 600 };
}


beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'assistant-access-token-'));
  stack = await startLocalStack({ port: 0, dataDir, seedOrdersPerUser: 0, retryIntervalOverrides: 0 });
  sfn = new SFNClient(stack.clientConfig('operator'));
  const pool = { region: stack.iam.location.region, clientId: stack.cognito.clientId, endpoint: stack.edgeUrl };
  const temporary = stack.cognito.temporaryPasswords();
  for (const username of ['tenant1-user', 'tenant2-user']) tokens.set(username, await signIn(pool, username, temporary[username]!, () => NEW_PASSWORD));
  await stack.cognito.flush();
  signer = await poolSigner(dataDir);
});

afterAll(async () => {
  sfn?.destroy();
  await stack?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('the access token carries the tenant (pre token generation trigger)', () => {
  it('on the first sign-in, a later sign-in and a refresh: custom:tenantId from the user attribute', async () => {
    const pool = { region: stack.iam.location.region, clientId: stack.cognito.clientId, endpoint: stack.edgeUrl };
    const first = tokens.get('tenant2-user')!;
    const again = await signIn(pool, 'tenant2-user', NEW_PASSWORD);
    const refreshed = await refreshTokens(pool, first.refreshToken!);
    for (const t of [first, again, refreshed]) {
      expect(decodeJwt(t.accessToken)).toMatchObject({ token_use: 'access', client_id: stack.cognito.clientId, 'custom:tenantId': 'tenant2', username: 'tenant2-user' });
    }
  });
});

describe.each(['idToken', 'accessToken'] as const)('asking with the %s', (kind) => {
  it.each([
    ['tenant1-user', 10],
    ['tenant2-user', 20],
  ])('%s subscribes, asks, and gets their own store\'s answer (%i days)', async (username, days) => {
    const { final } = await client(tokens.get(username)![kind]).ask("What's your return policy?");
    expect(final).toMatchObject({ status: 'DONE', userId: stack.user(username).sub, text: `You can return items within ${days} days.` });
  });
});

describe('an access token without the tenant claim (signed with the pool key)', () => {
  it('authenticates, but Mutation.ask refuses it (Unauthorized) and no execution starts', async () => {
    const { 'custom:tenantId': _dropped, ...rest } = accessClaims('tenant1-user');
    const token = await signer.sign(rest);
    const connection = await client(token).connect();
    connection.close();
    const before = await executionCount();
    const err = await askWith(token);
    expect(err, 'the ask mutation was accepted').toBeDefined();
    expect({ status: err!.status, errorType: err!.errorType }).toEqual({ status: 200, errorType: 'Unauthorized' });
    expect(await executionCount()).toBe(before);
  });

  it('control: the same claims with the tenant are accepted and start one execution', async () => {
    const before = await executionCount();
    expect(await askWith(await signer.sign(accessClaims('tenant1-user')))).toBeUndefined();
    expect(await executionCount()).toBe(before + 1);
    await stack.states.drain();
  });
});

/** Tokens of another app client of the same pool, validly signed: AppSync's appIdClientRegex refuses them. */
const OTHER_CLIENT_TOKENS: [string, () => JWTPayload][] = [
  ['an access token (client_id)', () => ({ ...accessClaims('tenant1-user'), client_id: OTHER_CLIENT })],
  ['an ID token (aud)', () => ({ ...decodeJwt(tokens.get('tenant1-user')!.idToken), iat: now(), exp: now() + 600, aud: OTHER_CLIENT })],
  ['an access token whose client_id only contains the web client id', () => ({ ...accessClaims('tenant1-user'), client_id: `x${stack.cognito.clientId}` })],
];

describe.each(OTHER_CLIENT_TOKENS)('another app client: %s', (_name, payload) => {
  let token: string;
  beforeAll(async () => {
    token = await signer.sign(payload());
  });

  it('POST /graphql: HTTP 401 UnauthorizedException, and no execution starts', async () => {
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

  it('realtime start on a genuine connection: UnauthorizedException; the connection still serves the web client token', async () => {
    const genuine = tokens.get('tenant1-user')!.accessToken;
    const sub = String(decodeJwt(genuine).sub);
    let current = genuine;
    const connection = await client(() => current).connect();
    try {
      current = token;
      const err = await realtimeRefusal(connection.subscribe(ON_ANSWER, { answerId: `${sub}.${randomUUID()}` }, () => undefined));
      expect(err.errorType).toBe('UnauthorizedException');
      current = genuine;
      const own = await connection.subscribe(ON_ANSWER, { answerId: `${sub}.${randomUUID()}` }, () => undefined);
      await own.unsubscribe();
    } finally {
      connection.close();
    }
  });
});

describe('control: the web client tokens, re-signed with the pool key, are accepted', () => {
  it.each([
    ['access token', () => accessClaims('tenant1-user')],
    ['ID token', () => ({ ...decodeJwt(tokens.get('tenant1-user')!.idToken), iat: now(), exp: now() + 600 })],
  ])('%s: POST /graphql starts one execution; realtime connects', async (_name, payload) => {
    const token = await signer.sign(payload());
    const connection = await client(token).connect();
    connection.close();
    const before = await executionCount();
    expect(await askWith(token)).toBeUndefined();
    expect(await executionCount()).toBe(before + 1);
    await stack.states.drain();
  });
});
