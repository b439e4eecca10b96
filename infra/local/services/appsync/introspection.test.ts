/**
 * Introspection is disabled, as on the deployed API (introspectionConfig DISABLED): `__schema` and
 * `__type` are refused in validation however the document reaches them (alias, fragment), nothing
 * runs; `__typename` and ordinary fields still work; the development switch turns it back on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GraphqlRequestError, IamGraphqlClient } from '../../../../tasks/graphql-client.ts';
import { PUBLISH_ANSWER } from '../../../../tasks/answer-events.ts';
import type { LocalAppSync, AnswerEventRecord } from './graphql.ts';
import { startTestAppSync } from './test-server.ts';
import { LocalIam } from '../../iam/principals.ts';
import { startLocalStack, type LocalStack } from '../../stack.ts';

const iam = new LocalIam();
const servers: LocalAppSync[] = [];
const published: AnswerEventRecord[] = [];
let disabled: IamGraphqlClient;
let enabled: IamGraphqlClient;

async function appsync(introspection?: boolean): Promise<IamGraphqlClient> {
  const server = await startTestAppSync(iam, introspection === undefined ? {} : { introspection });
  servers.push(server.appsync);
  server.appsync.events.on('publish', (e: AnswerEventRecord) => published.push(e));
  return new IamGraphqlClient({ url: server.url, region: 'us-east-1', credentials: iam.credentials('publish-answer') });
}

beforeAll(async () => {
  disabled = await appsync();
  enabled = await appsync(true);
});
afterAll(() => Promise.all(servers.map((s) => s.close())));

const refusal = (client: IamGraphqlClient, query: string) => client.request(query, {}).then(() => undefined, (e: unknown) => e as GraphqlRequestError);

describe('local AppSync: introspection disabled by default', () => {
  it('refuses __schema with a validation error, as AppSync does when introspection is disabled', async () => {
    const err = await refusal(disabled, '{ __schema { types { name } } }');
    expect(err).toBeInstanceOf(GraphqlRequestError);
    expect(err!.status).toBe(200);
    expect(err!.errors).toEqual([
      {
        errorType: 'ValidationError',
        message: "Validation error of type FieldUndefined: Field '__schema' in type 'Query' is undefined @ '__schema'",
        locations: [{ line: 1, column: 3 }],
      },
    ]);
  });

  it('refuses __type under an alias and inside a fragment, and __schema beside an ordinary field', async () => {
    const viaFragment = await refusal(disabled, 'query Q { ...F } fragment F on Query { t: __type(name: "AnswerEvent") { fields { name } } }');
    expect(viaFragment!.errors.map((e) => e.message)).toEqual(["Validation error of type FieldUndefined: Field '__type' in type 'Query' is undefined @ '__type'"]);
    const mixed = await refusal(disabled, '{ me __schema { queryType { name } } }');
    expect(mixed!.errors.map((e) => e.errorType)).toEqual(['ValidationError']);
  });

  it('control: __typename is not introspection, and the publish mutation that asks for it still works', async () => {
    expect(await disabled.request('{ __typename }', {})).toEqual({ __typename: 'Query' });
    const data = await disabled.request<{ publishAnswer: { answerId: string; __typename: string } }>(
      PUBLISH_ANSWER.replace('seq\n', 'seq\n      __typename\n'),
      { answerId: 'u-1.i2', userId: 'u-1', status: 'DONE', seq: 1, text: 'ok' },
    );
    expect(data.publishAnswer).toMatchObject({ answerId: 'u-1.i2', __typename: 'AnswerEvent' });
    expect(published.at(-1)).toMatchObject({ answerId: 'u-1.i2', status: 'DONE' });
  });

  it('control: with introspection enabled (the development switch), the same queries are answered', async () => {
    const schema = await enabled.request<{ __schema: { queryType: { name: string } } }>('{ __schema { queryType { name } } }', {});
    expect(schema.__schema.queryType.name).toBe('Query');
    const type = await enabled.request<{ t: { name: string } }>('query Q { ...F } fragment F on Query { t: __type(name: "AnswerEvent") { name } }', {});
    expect(type.t.name).toBe('AnswerEvent');
  });
});

describe('the local stack: introspection option', () => {
  let stack: LocalStack;
  beforeAll(async () => {
    stack = await startLocalStack({ port: 0, seedOrdersPerUser: 0, introspection: true });
  });
  afterAll(() => stack?.stop());

  it('passes the switch (`npm start -- --introspection`) to its AppSync', async () => {
    const client = new IamGraphqlClient({ url: stack.graphqlUrl, region: stack.iam.location.region, credentials: stack.iam.credentials('publish-answer') });
    const data = await client.request<{ __schema: { mutationType: { name: string } } }>('{ __schema { mutationType { name } } }', {});
    expect(data.__schema.mutationType.name).toBe('Mutation');
  });
});
