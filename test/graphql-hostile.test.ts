/**
 * Hostile requests to the local AppSync, on a whole stack: inputs that used to make Node exit, field
 * authorization however the document reaches a field, and the per-request limits. After each
 * hostile input a legitimate request is served (the control), and the legitimate paths (the user's
 * ask, the workflow's IAM publish) keep working.
 */
import net from 'node:net';
import { SFNClient } from '@aws-sdk/client-sfn';
import { makeRoom } from './admission-room.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ASK } from '../client/api.ts';
import { signIn } from '../client/auth.ts';
import { listExecutions } from '../client/executions.ts';
import type { AnswerEventRecord } from '../infra/local/services/appsync/graphql.ts';
import { MAX_GRAPHQL_REQUEST_BYTES } from '../infra/local/services/appsync/request.ts';
import { startLocalStack, type LocalStack } from '../infra/local/stack.ts';
import { RESOLVER_COUNT_LIMIT } from '../tasks/api-limits.ts';
import { GraphqlRequestError, IamGraphqlClient } from '../tasks/graphql-client.ts';
import type { LocalPrincipalName } from '../infra/local/iam/principals.ts';

let stack: LocalStack;
let sfn: SFNClient;
let idToken: string;
let sub: string;
let port: number;
const published: AnswerEventRecord[] = [];
let n = 0;

beforeAll(async () => {
  stack = await startLocalStack({ port: 0, appsyncPort: 0, seedOrdersPerUser: 0, retryIntervalOverrides: 0 });
  sfn = new SFNClient(stack.clientConfig('operator'));
  const pool = { region: stack.iam.location.region, clientId: stack.cognito.clientId, endpoint: stack.edgeUrl };
  idToken = (await signIn(pool, 'tenant1-user', stack.cognito.temporaryPasswords()['tenant1-user']!, () => 'Correct-Horse-Battery-9!')).idToken;
  sub = stack.user('tenant1-user').sub;
  port = Number(new URL(stack.graphqlUrl).port);
  stack.appsync.events.on('publish', (e: AnswerEventRecord) => published.push(e));
});
afterAll(() => stack?.stop());

const answerId = () => `${sub}.hostile-${++n}`;
const executions = async () => (await listExecutions(sfn, stack.iam.resources.stateMachineArn, undefined, 1000)).length;

/** A signed-in user's POST with `body` as is. */
async function asUser(body: string): Promise<{ status: number; payload: { data?: unknown; errors?: { errorType: string; message: string }[] } }> {
  const res = await fetch(stack.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json', authorization: idToken }, body });
  return { status: res.status, payload: (await res.json()) as never };
}

const iamClient = (who: LocalPrincipalName) => new IamGraphqlClient({ url: stack.graphqlUrl, region: stack.iam.location.region, credentials: stack.iam.credentials(who) });

/** The control after each hostile input: a legitimate query is answered. */
async function stillServes(): Promise<void> {
  const { status, payload } = await asUser(JSON.stringify({ query: '{ me }' }));
  expect(status).toBe(200);
  expect(payload).toEqual({ data: { me: null } });
}

/** Writes `parts` on a fresh socket (then half-closes it when `end`), and resolves with what the server answered before closing. */
function raw(parts: (string | Buffer)[], end = false): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let answer = '';
    socket.on('data', (d) => (answer += d.toString('latin1')));
    socket.on('error', (err) => (answer ? resolve(answer) : reject(err)));
    socket.on('close', () => resolve(answer));
    socket.on('connect', () => {
      for (const part of parts) socket.write(part);
      if (end) socket.end();
    });
  });
}

describe('inputs that used to stop the server', () => {
  it('answers a request target that is not a URL (GET //[) with a 400, and serves the next request', async () => {
    const answer = await raw(['GET //[ HTTP/1.1\r\nHost: x\r\n\r\n']);
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer).toContain('"errorType":"BadRequestException"');
    await stillServes();
  });

  it('answers the same target as a WebSocket upgrade with a 400, and serves the next request', async () => {
    const upgrade = 'GET //[ HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';
    expect(await raw([upgrade])).toMatch(/^HTTP\/1\.1 400 /);
    await stillServes();
  });

  it('survives a body cut short (Content-Length 100, 3 bytes sent, socket closed), and serves the next request', async () => {
    const answer = await raw(['POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"q'], true);
    // Node's HTTP parser sees the body end early: a 400 in AppSync's shape.
    expect(answer).toMatch(/^HTTP\/1\.1 400 [^]*"errorType":"BadRequestException"/);
    await stillServes();
  });

  it.each([
    ['null', 'null', 'The request body must be a JSON object.'],
    ['an array', '[{"query":"{ me }"}]', 'The request body must be a JSON object.'],
    ['a string', '"{ me }"', 'The request body must be a JSON object.'],
    ['variables of the wrong type', '{"query":"{ me }","variables":"x"}', "The request's variables must be a JSON object."],
    ['variables as an array', '{"query":"{ me }","variables":[1]}', "The request's variables must be a JSON object."],
    ['a query that is not a string', '{"query":{"me":true}}', 'The request has no query (a string).'],
    ['an operationName that is not a string', '{"query":"{ me }","operationName":5}', "The request's operationName must be a string."],
  ])('answers a signed-in body of %s with a 400 GraphQL error, and serves the next request', async (_name, body, message) => {
    const { status, payload } = await asUser(body);
    expect(status).toBe(400);
    expect(payload.errors).toEqual([{ errorType: 'MalformedHttpRequestException', message }]);
    await stillServes();
  });
});

describe('field authorization, however the document reaches the field', () => {
  const forged = (victim: string) => `answerId: "${victim}", userId: "someone-else", status: DONE, seq: 99, text: "forged"`;

  it.each([
    ['an inline fragment', (args: string) => `mutation { ... on Mutation { publishAnswer(${args}) { answerId } } }`],
    ['a named fragment', (args: string) => `mutation { ...P } fragment P on Mutation { publishAnswer(${args}) { answerId } }`],
    ['an alias', (args: string) => `mutation { harmless: publishAnswer(${args}) { answerId } }`],
    ['a nested spread', (args: string) => `mutation { ...A } fragment A on Mutation { ...B } fragment B on Mutation { ... on Mutation { x: publishAnswer(${args}) { status } } }`],
  ])('refuses publishAnswer to a user pool caller through %s, and nothing is published', async (_name, document) => {
    const victim = `someone-else.answer-${++n}`;
    const { status, payload } = await asUser(JSON.stringify({ query: document(forged(victim)) }));
    expect(status).toBe(200);
    expect(payload.errors?.[0]).toMatchObject({ errorType: 'Unauthorized', message: 'Not Authorized to access publishAnswer on type Mutation' });
    expect(published.filter((e) => e.answerId === victim)).toEqual([]);
  });

  it('refuses ask to an IAM caller through a fragment (ask is user-pool only), and starts nothing', async () => {
    const before = await executions();
    const err = await iamClient('publish-answer')
      .request(`mutation { ...Q } fragment Q on Mutation { ask(answerId: "x.y", question: "hi") { answerId } }`, {})
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GraphqlRequestError);
    expect((err as GraphqlRequestError).errors[0]).toMatchObject({ errorType: 'Unauthorized', message: 'Not Authorized to access ask on type Mutation' });
    expect(await executions()).toBe(before);
  });

  it('refuses publishAnswer in a fragment to an IAM role without appsync:GraphQL on the field', async () => {
    const victim = `someone-else.answer-${++n}`;
    const err = await iamClient('mint-credentials')
      .request(`mutation { ... on Mutation { publishAnswer(${forged(victim)}) { answerId } } }`, {})
      .catch((e: unknown) => e);
    expect((err as GraphqlRequestError).errors[0]).toMatchObject({ errorType: 'Unauthorized' });
    expect(published.filter((e) => e.answerId === victim)).toEqual([]);
  });

  it('controls: the workflow role publishes through a named fragment, and the user asks', async () => {
    const victim = `${sub}.published-${++n}`;
    const data = await iamClient('publish-answer').request<{ publishAnswer: { answerId: string } }>(
      `mutation { ...P } fragment P on Mutation { publishAnswer(answerId: "${victim}", userId: "${sub}", status: PROGRESS, seq: 1, step: "Test") { answerId } }`,
      {},
    );
    expect(data.publishAnswer.answerId).toBe(victim);
    expect(published.filter((e) => e.answerId === victim)).toHaveLength(1);
    const before = await executions();
    const { payload } = await asUser(JSON.stringify({ query: ASK, variables: { answerId: answerId(), question: "What's your return policy?" } }));
    expect(payload.errors).toBeUndefined();
    expect(await executions()).toBe(before + 1);
  });

  it('runs one operation per document: several without operationName are refused; operationName picks one', async () => {
    const doc = (a: string, b: string) =>
      `mutation First { ask(answerId: "${a}", question: "One?") { answerId } } mutation Second { ask(answerId: "${b}", question: "Two?") { answerId } }`;
    const before = await executions();
    const none = await asUser(JSON.stringify({ query: doc(answerId(), answerId()) }));
    expect(none.payload.errors).toEqual([{ errorType: 'ValidationError', message: 'Must provide operation name if query contains multiple operations.' }]);
    const unknown = await asUser(JSON.stringify({ query: doc(answerId(), answerId()), operationName: 'Third' }));
    expect(unknown.payload.errors?.[0]?.errorType).toBe('ValidationError');
    expect(await executions()).toBe(before);
    const second = answerId();
    const picked = await asUser(JSON.stringify({ query: doc(answerId(), second), operationName: 'Second' }));
    expect(picked.payload).toMatchObject({ data: { ask: { answerId: second } } });
    expect(await executions()).toBe(before + 1);
  });
});

describe('per-request limits', () => {
  it(`starts one question for 20 aliased asks: the resolver count limit (${RESOLVER_COUNT_LIMIT}) refuses the rest, and says so`, async () => {
    // Earlier asks of this file may still hold the user's slots: admission is not what this tests.
    await makeRoom(stack, 'tenant1-user');
    const before = await executions();
    const fields = Array.from({ length: 20 }, (_, i) => `a${i}: ask(answerId: "${answerId()}", question: "Again?") { answerId }`).join(' ');
    const { status, payload } = await asUser(JSON.stringify({ query: `mutation { ${fields} }` }));
    expect(status).toBe(200);
    expect(await executions()).toBe(before + 1);
    // ask is non-null: the first refusal nulls `data`, and the executor stops there (GraphQL's rules).
    expect(payload.data).toBeNull();
    expect(payload.errors!.length).toBeGreaterThanOrEqual(1);
    for (const e of payload.errors!) {
      expect(e).toMatchObject({ errorType: 'ResolverCountLimitExceeded', message: `The request invokes more resolvers than this API's limit of ${RESOLVER_COUNT_LIMIT}.` });
    }
  });

  it('refuses an empty question with a GraphQL error before anything starts', async () => {
    const before = await executions();
    const { payload } = await asUser(JSON.stringify({ query: ASK, variables: { answerId: answerId(), question: '   ' } }));
    expect(payload.errors?.[0]).toMatchObject({ errorType: 'BadRequestException', message: 'The question is empty.' });
    expect(await executions()).toBe(before);
  });

  it('refuses a 2.3 MB query by the request size limit (413, saying the limit), and serves the next request', async () => {
    const query = `{ me ${' '.repeat(2.3 * 1024 * 1024)} }`;
    const { status, payload } = await asUser(JSON.stringify({ query }));
    expect(status).toBe(413);
    expect(payload.errors).toEqual([{ errorType: 'PayloadTooLargeException', message: `Request body exceeds ${MAX_GRAPHQL_REQUEST_BYTES} bytes` }]);
    await stillServes();
  });
});
