/**
 * CORS for a team's own browser app on its own origin (a Vite dev server, say): the local AppSync
 * answers preflights and POSTs as AppSync does (any origin, a fixed list of request headers), on
 * HTTP and HTTPS alike; the edge answers any origin for the Cognito calls a page makes without AWS
 * credentials (sign-in), and keeps every other call (signed: DynamoDB, Step Functions, ...) to the
 * bundled web UI's origins. The realtime WebSocket needs no CORS. The browser itself runs in
 * test/amplify-browser.test.ts.
 */
import http from 'node:http';
import https from 'node:https';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ON_ANSWER } from '../client/api.ts';
import { signIn } from '../client/auth.ts';
import { connectRealtime, type WebSocketConstructor } from '../client/realtime.ts';
import { APPSYNC_ALLOWED_HEADERS } from '../infra/local/services/appsync/cors.ts';
import { startLocalStack, type LocalStack } from '../infra/local/stack.ts';

const PAGE = 'http://localhost:5173';
const NEW_PASSWORD = 'Correct-Horse-Battery-9!';
const EXPOSED = 'x-amzn-RequestId,x-amzn-ErrorType,x-amz-user-agent,x-amzn-ErrorMessage,Date,x-amz-schema-version';

let stack: LocalStack;
let ca: string;
let idToken: string;

beforeAll(async () => {
  stack = await startLocalStack({ port: 0, seedOrdersPerUser: 0, lambdaSandbox: false });
  ca = await readFile(stack.tls.caFile, 'utf8');
  const pool = { region: stack.iam.location.region, clientId: stack.cognito.clientId, endpoint: stack.edgeUrl };
  idToken = (await signIn(pool, 'tenant1-user', stack.cognito.temporaryPasswords()['tenant1-user']!, () => NEW_PASSWORD)).idToken;
});
afterAll(async () => {
  await stack?.stop();
});

type Answer = { status: number; headers: http.IncomingHttpHeaders; body: string };

/** One request over HTTP or HTTPS (trusting the local CA), as a browser would send it. */
function request(url: string, method: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  const send = url.startsWith('https:') ? https.request : http.request;
  return new Promise((resolve, reject) => {
    const req = send(url, { method, headers, ca }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.once('error', reject);
    req.end(body);
  });
}

const preflight = (url: string, requestHeaders?: string, origin = PAGE) =>
  request(url, 'OPTIONS', { origin, 'access-control-request-method': 'POST', ...(requestHeaders ? { 'access-control-request-headers': requestHeaders } : {}) });

/** Whether a browser would send a request with these headers after this preflight answer (the Fetch standard's CORS check, case-insensitive). */
function grants(answer: Answer, origin: string, headers: string[]): boolean {
  const allowOrigin = answer.headers['access-control-allow-origin'];
  if (answer.status < 200 || answer.status > 299 || (allowOrigin !== '*' && allowOrigin !== origin)) return false;
  const allowed = String(answer.headers['access-control-allow-headers'] ?? '').split(',').map((h) => h.trim().toLowerCase());
  return headers.every((h) => allowed.includes(h.toLowerCase()) || allowed.includes('*'));
}

describe('the local AppSync answers CORS as AppSync does', () => {
  const endpoints = () => [
    ['HTTP', stack.graphqlUrl],
    ['HTTPS', stack.graphqlHttpsUrl],
  ];

  it('answers a preflight from any origin: 200, allow-origin *, its exposed headers, a two-day max age, the fixed header list (HTTP and HTTPS)', async () => {
    for (const [, url] of endpoints()) {
      const answer = await preflight(url!, 'authorization,content-type,x-amz-user-agent');
      expect(answer.status).toBe(200);
      expect(answer.body).toBe('');
      expect(answer.headers).toMatchObject({
        'access-control-allow-origin': '*',
        'access-control-expose-headers': EXPOSED,
        'access-control-max-age': '172800',
        'access-control-allow-headers': APPSYNC_ALLOWED_HEADERS,
      });
      // What Amplify sends (user pool mode) and what the AWS SDK signs (IAM mode) are granted.
      expect(grants(answer, PAGE, ['authorization', 'content-type', 'x-amz-user-agent'])).toBe(true);
      expect(grants(answer, PAGE, ['authorization', 'content-type', 'x-amz-date', 'x-amz-security-token', 'x-amz-content-sha256'])).toBe(true);
      expect(grants(answer, PAGE, ['x-api-key', 'content-type'])).toBe(true);
    }
  });

  it('does not grant a header outside its list (control: sentry-trace, as on AWS), whatever the page asks', async () => {
    for (const [, url] of endpoints()) {
      const answer = await preflight(url!, 'authorization,content-type,sentry-trace');
      expect(answer.status).toBe(200);
      expect(answer.headers['access-control-allow-headers']).toBe(APPSYNC_ALLOWED_HEADERS);
      expect(grants(answer, PAGE, ['authorization', 'content-type', 'sentry-trace'])).toBe(false);
    }
  });

  it('puts allow-origin * on POST answers, accepted and refused alike (HTTP and HTTPS); the site beside it gets none', async () => {
    for (const [, url] of endpoints()) {
      const ok = await request(url!, 'POST', { origin: PAGE, 'content-type': 'application/json', authorization: idToken }, JSON.stringify({ query: '{ me }' }));
      expect(ok.status).toBe(200);
      expect(ok.headers).toMatchObject({ 'access-control-allow-origin': '*', 'access-control-expose-headers': EXPOSED });
      const refused = await request(url!, 'POST', { origin: PAGE, 'content-type': 'application/json', authorization: 'not-a-token' }, JSON.stringify({ query: '{ me }' }));
      expect(refused.status).toBe(401);
      expect(refused.headers['access-control-allow-origin']).toBe('*');
    }
    // Control: CORS is the GraphQL endpoint's, not the port's.
    const other = await request(stack.graphqlUrl.replace(/\/graphql$/, '/not-graphql'), 'GET', { origin: PAGE });
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('opens the realtime WebSocket from a page on another origin: a WebSocket has no CORS (control: the same connection without a token is refused)', async () => {
    const host = new URL(stack.graphqlHttpsUrl).host;
    const fromPage = (authorization: string) =>
      connectRealtime({
        realtimeUrl: stack.realtimeWssUrl,
        host,
        authorization,
        WebSocketImpl: class extends WebSocket {
          constructor(url: string, protocols?: string | string[]) {
            super(url, protocols, { ca, origin: PAGE });
            this.on('error', () => undefined);
          }
        } as unknown as WebSocketConstructor,
      });
    const connection = await fromPage(idToken);
    try {
      const subscription = await connection.subscribe(ON_ANSWER, { answerId: `${stack.user('tenant1-user').sub}.cors-check` }, () => undefined);
      await subscription.unsubscribe();
    } finally {
      connection.close();
    }
    await expect(fromPage('not-a-token')).rejects.toThrow();
  });
});

describe("the edge answers any origin for Cognito's public calls, and only the UI's for the rest", () => {
  const cognitoHeaders = 'content-type,x-amz-target,x-amz-user-agent,cache-control';
  const cognito = (target: string, body: unknown, origin = PAGE) =>
    request(stack.edgeUrl, 'POST', { origin, 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `AWSCognitoIdentityProviderService.${target}`, 'cache-control': 'no-store' }, JSON.stringify(body));

  it("grants a preflight for what Amplify's sign-in sends (content-type, x-amz-target, x-amz-user-agent, cache-control) to any origin", async () => {
    const answer = await preflight(stack.edgeUrl, cognitoHeaders);
    expect(answer.status).toBe(200);
    expect(answer.headers['access-control-allow-origin']).toBe('*');
    expect(grants(answer, PAGE, cognitoHeaders.split(','))).toBe(true);
  });

  it('does not grant a foreign preflight for a signed call (authorization, x-amz-date, x-amz-security-token): a DynamoDB call from that page is never sent', async () => {
    const answer = await preflight(stack.edgeUrl, 'authorization,content-type,x-amz-date,x-amz-security-token,x-amz-target');
    expect(answer.status).toBe(403);
    expect(grants(answer, PAGE, ['authorization', 'content-type', 'x-amz-target'])).toBe(false);
  });

  it('lets any page read sign-in answers, successes and refusals alike (InitiateAuth, RespondToAuthChallenge, GetUser)', async () => {
    const wrong = await cognito('InitiateAuth', { AuthFlow: 'USER_PASSWORD_AUTH', ClientId: stack.cognito.clientId, AuthParameters: { USERNAME: 'tenant2-user', PASSWORD: 'wrong-Password-1!' } });
    expect(wrong.status).toBe(400);
    expect(wrong.headers['access-control-allow-origin']).toBe('*');
    expect(wrong.headers['access-control-expose-headers']).toContain('x-amzn-errortype');
    const first = await cognito('InitiateAuth', { AuthFlow: 'USER_PASSWORD_AUTH', ClientId: stack.cognito.clientId, AuthParameters: { USERNAME: 'tenant2-user', PASSWORD: stack.cognito.temporaryPasswords()['tenant2-user']! } });
    expect(first.status).toBe(200);
    expect(first.headers['access-control-allow-origin']).toBe('*');
    const challenge = JSON.parse(first.body) as { ChallengeName: string; Session: string };
    expect(challenge.ChallengeName).toBe('NEW_PASSWORD_REQUIRED');
    const answered = await cognito('RespondToAuthChallenge', { ClientId: stack.cognito.clientId, ChallengeName: 'NEW_PASSWORD_REQUIRED', Session: challenge.Session, ChallengeResponses: { USERNAME: 'tenant2-user', NEW_PASSWORD } });
    expect(answered.status).toBe(200);
    expect(answered.headers['access-control-allow-origin']).toBe('*');
    const accessToken = (JSON.parse(answered.body) as { AuthenticationResult: { AccessToken: string } }).AuthenticationResult.AccessToken;
    const user = await cognito('GetUser', { AccessToken: accessToken });
    expect(user.status).toBe(200);
    expect(user.headers['access-control-allow-origin']).toBe('*');
  });

  it('control: a DynamoDB call and a Step Functions call from that page get no CORS grant, while the UI origin keeps its own', async () => {
    const dynamodb = await request(stack.edgeUrl, 'POST', { origin: PAGE, 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'DynamoDB_20120810.ListTables' }, '{}');
    expect(dynamodb.status).toBeGreaterThanOrEqual(400);
    expect(dynamodb.headers['access-control-allow-origin']).toBeUndefined();
    const sfn = await request(stack.edgeUrl, 'POST', { origin: PAGE, 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'AWSStepFunctions.ListExecutions' }, '{}');
    expect(sfn.headers['access-control-allow-origin']).toBeUndefined();
    // A Cognito admin operation, unsigned, is refused and gets the Cognito endpoint's CORS (the refusal is readable), nothing more.
    const admin = await cognito('AdminGetUser', { UserPoolId: stack.cognito.poolId, Username: 'tenant1-user' });
    expect(admin.status).toBeGreaterThanOrEqual(400);
    expect(admin.body).toContain('MissingAuthenticationToken');
  });
});
