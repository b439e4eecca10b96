/**
 * The local AppSync's pipeline resolvers and DynamoDB data source, end to end against the local
 * stack's edge, IAM and DynamoDB: a test-only pipeline (test/fixtures/pipeline/) bound to
 * Mutation.ask in a second local AppSync, whose DynamoDB data sources sign as the API's usage data
 * source role (apiUsageDataSourcePolicy) exactly as the stack's own AppSync does.
 */
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiEnvironment, type PipelineResolverDefinition } from '../infra/resolvers.ts';
import { startLocalStack, type LocalStack } from '../infra/local/stack.ts';
import { API_USAGE_DATA_SOURCE } from '../infra/local/iam/principals.ts';
import { startTestAppSync, type TestAppSync } from '../infra/local/services/appsync/test-server.ts';
import { loadResolver } from '../infra/local/services/appsync/resolver-runtime.ts';
import { signedHttpDataSource } from '../infra/local/services/appsync/http-data-source.ts';
import { dynamodbDataSource } from '../infra/local/services/appsync/dynamodb-data-source.ts';

const FIXTURE: PipelineResolverDefinition = {
  kind: 'PIPELINE',
  typeName: 'Mutation',
  fieldName: 'ask',
  file: 'test/fixtures/pipeline/resolver.ts',
  functions: [
    { name: 'Count', file: 'test/fixtures/pipeline/count.ts', dataSource: { kind: 'DYNAMODB', table: 'usage' } },
    { name: 'ReadPlan', file: 'test/fixtures/pipeline/plan.ts', dataSource: { kind: 'DYNAMODB', table: 'config' } },
  ],
};

let stack: LocalStack;
let api: TestAppSync;
let operator: DynamoDBClient;
let run = 0;

beforeAll(async () => {
  stack = await startLocalStack({ port: 0, seedOrdersPerUser: 0 });
  const signed = signedHttpDataSource({ endpoint: stack.edgeUrl, region: stack.iam.location.region, credentials: stack.iam.credentials(API_USAGE_DATA_SOURCE) });
  api = await startTestAppSync(stack.iam, {
    evaluator: stack.evaluator,
    resolvers: [await loadResolver(FIXTURE)],
    env: apiEnvironment({ stateMachineArn: stack.iam.resources.stateMachineArn, tables: stack.tables }),
    dynamodbDataSource: dynamodbDataSource({ tables: { usage: stack.tables.usage, config: stack.tables.config }, send: (req) => signed('dynamodb', req) }),
    // The token is the user's sub; the user is tenant1's (the pool itself is tested elsewhere).
    verifyUserPoolToken: (token) => Promise.resolve({ sub: token, 'cognito:username': token, 'custom:tenantId': 'tenant1', iss: 'test' }),
  });
  operator = new DynamoDBClient(stack.clientConfig('operator'));
});
afterAll(async () => {
  await api?.appsync.close();
  await stack?.stop();
});

interface Step {
  fn: string;
  prev?: unknown;
  result?: unknown;
  error?: { message: string; type: string } | null;
  plan?: string | null;
}
interface Answer {
  data: { ask: { answerId: string; executionId: string } } | null;
  errors?: { errorType: string; message: string; data?: unknown; path?: unknown[] }[];
}

/** Runs the fixture pipeline with a scenario; a fresh answerId (the counters' partition) unless given. */
async function ask(scenario: string, answerId = `a${++run}`): Promise<Answer & { answerId: string; trace: Step[]; last: unknown }> {
  const res = await fetch(api.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'user-1' },
    body: JSON.stringify({ query: 'mutation($a: ID!, $q: String!) { ask(answerId: $a, question: $q) { answerId executionId } }', variables: { a: answerId, q: scenario } }),
  });
  const body = (await res.json()) as Answer;
  const report = body.data?.ask.executionId;
  const parsed = report && report.startsWith('{') ? (JSON.parse(report) as { trace: Step[]; last: unknown }) : { trace: [], last: undefined };
  return { ...body, answerId, ...parsed };
}

async function counter(answerId: string, sk: string): Promise<number | undefined> {
  const out = await operator.send(new GetItemCommand({ TableName: stack.tables.usage, Key: { pk: { S: `TEST#${answerId}` }, sk: { S: sk } }, ConsistentRead: true }));
  return out.Item?.n?.N === undefined ? undefined : Number(out.Item.n.N);
}

describe('pipeline resolvers: before, functions in order, after', () => {
  it('shares ctx.stash across the functions and hands each the previous one\'s result as ctx.prev.result', async () => {
    const out = await ask('count');
    expect(out.errors).toBeUndefined();
    expect(out.trace).toEqual([
      { fn: 'count', prev: { from: 'before' } },
      { fn: 'count', result: { pk: `TEST#${out.answerId}`, sk: 'C', n: 1 }, error: null },
      { fn: 'plan', prev: { counted: { pk: `TEST#${out.answerId}`, sk: 'C', n: 1 } } },
      { fn: 'plan', plan: 'standard', error: null },
    ]);
    expect(out.last).toEqual({ plan: 'standard' });
  });

  it('earlyReturn in a function\'s request skips its data source and its response; the next function gets the value', async () => {
    const out = await ask('skip');
    expect(out.trace).toEqual([
      { fn: 'count', prev: { from: 'before' } },
      { fn: 'plan', prev: { skipped: true } },
      { fn: 'plan', plan: 'standard', error: null },
    ]);
    expect(await counter(out.answerId, 'C')).toBeUndefined();
  });

  it('earlyReturn in the resolver\'s request skips every function; the resolver\'s response runs', async () => {
    const out = await ask('early-resolver');
    expect(out.data).toEqual({ ask: { answerId: out.answerId, executionId: 'returned early' } });
    expect(await counter(out.answerId, 'C')).toBeUndefined();
    // Control: the same answerId without the early return counts.
    await ask('count', out.answerId);
    expect(await counter(out.answerId, 'C')).toBe(1);
  });

  it('util.error stops the whole resolution: the field is null with that error, nothing after it runs', async () => {
    const out = await ask('fatal');
    expect(out.data).toBeNull();
    expect(out.errors).toEqual([expect.objectContaining({ errorType: 'Stopped', message: 'stopped by the function', data: { at: 'count' }, path: ['ask'] })]);
  });

  it('util.appendError records an error and the resolution goes on: the field has its value and the error beside it', async () => {
    const out = await ask('append');
    expect(out.trace.at(-1)).toEqual({ fn: 'plan', plan: 'standard', error: null });
    expect(out.data?.ask.answerId).toBe(out.answerId);
    expect(out.errors).toEqual([expect.objectContaining({ errorType: 'Noted', message: 'noted and going on', path: ['ask'] })]);
  });
});

describe('DynamoDB data source: GetItem, UpdateItem, TransactWriteItems, as AppSync hands them to the resolver', () => {
  it('GetItem: the item as plain JSON (numbers as numbers), null when there is none', async () => {
    const id = `a${++run}`;
    expect((await ask('get', id)).trace[1]).toEqual({ fn: 'count', result: null, error: null });
    await ask('count', id);
    expect((await ask('get', id)).trace[1]).toEqual({ fn: 'count', result: { pk: `TEST#${id}`, sk: 'C', n: 1 }, error: null });
  });

  it('a failed condition: ctx.error type DynamoDB:ConditionalCheckFailedException, nothing written (control: the writes under the limit succeed)', async () => {
    const id = `a${++run}`;
    expect((await ask('count', id)).trace[1]?.error).toBeNull();
    expect((await ask('count', id)).trace[1]?.error).toBeNull();
    const refused = await ask('count', id);
    expect(refused.trace[1]).toEqual({
      fn: 'count',
      result: null,
      error: { type: 'DynamoDB:ConditionalCheckFailedException', message: expect.stringContaining('The conditional request failed') as string },
    });
    expect(await counter(id, 'C')).toBe(2);
  });

  it('TransactWriteItems: ctx.result.keys lists the items written, in request order', async () => {
    const out = await ask('transact');
    expect(out.trace[1]).toEqual({
      fn: 'count',
      result: { keys: [{ pk: `TEST#${out.answerId}`, sk: 'A' }, { pk: `TEST#${out.answerId}`, sk: 'B' }], cancellationReasons: null },
      error: null,
    });
    expect([await counter(out.answerId, 'A'), await counter(out.answerId, 'B')]).toEqual([1, 1]);
  });

  it('a cancelled transaction: ctx.error DynamoDB:TransactionCanceledException, ctx.result.cancellationReasons per item, and no item written', async () => {
    const out = await ask('transact-cancel');
    expect(out.trace[1]).toEqual({
      fn: 'count',
      result: { keys: null, cancellationReasons: [{ type: 'None', message: null }, { type: 'ConditionalCheckFailed', message: 'The conditional request failed' }] },
      error: { type: 'DynamoDB:TransactionCanceledException', message: expect.stringContaining('Transaction cancelled') as string },
    });
    // All or nothing: the first item's condition held, yet it was not written.
    expect(await counter(out.answerId, 'A')).toBeUndefined();
  });
});

describe('the data source role (apiUsageDataSourcePolicy), enforced by the edge', () => {
  it('a PutItem outside the policy is denied: ctx.error DynamoDB:DynamoDbException naming AccessDeniedException; control: UpdateItem on the same item works', async () => {
    const out = await ask('denied');
    expect(out.trace[1]).toEqual({
      fn: 'count',
      result: null,
      error: { type: 'DynamoDB:DynamoDbException', message: expect.stringMatching(/not authorized to perform: dynamodb:PutItem.*Error Code: AccessDeniedException/) as string },
    });
    expect(await counter(out.answerId, 'C')).toBeUndefined();
    expect((await ask('count', out.answerId)).trace[1]?.error).toBeNull();
    expect(await counter(out.answerId, 'C')).toBe(1);
  });
});
