/**
 * Subscribers get the publishing mutation's selection set, as on AppSync ("the mutation selection
 * set is sent to subscribers"): the local AppSync end to end, IAM-signed mutation in, realtime
 * `data` out, through the real resolvers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { connectRealtime, type RealtimeConnection } from '../../../../client/realtime.ts';
import { ON_ANSWER } from '../../../../client/api.ts';
import { IamGraphqlClient } from '../../../../tasks/graphql-client.ts';
import { PUBLISH_ANSWER } from '../../../../tasks/answer-events.ts';
import { LocalAppSync, type AnswerEventRecord } from './graphql.ts';
import { startTestAppSync } from './test-server.ts';
import { LocalIam } from '../../iam/principals.ts';

const iam = new LocalIam();
const SUB = 'user-a';
let appsync: LocalAppSync;
let url: string;
let connection: RealtimeConnection;
let published: AnswerEventRecord[];

beforeAll(async () => {
  ({ appsync, url, published } = await startTestAppSync(iam, {
    // A token table instead of JWT verification: this suite is about payloads, not tokens.
    verifyUserPoolToken: async (token) => {
      if (token !== 'token-a') throw new Error('bad token');
      return { sub: SUB, 'cognito:username': 'a', iss: 'local' };
    },
  }));
  connection = await connectRealtime({ realtimeUrl: LocalAppSync.realtimeUrl(url), host: new URL(url).host, authorization: 'token-a', WebSocketImpl: WebSocket });
});
afterAll(async () => {
  connection.close();
  await appsync.close();
});

const publisher = () => new IamGraphqlClient({ url, region: 'us-east-1', credentials: iam.credentials('publish-answer') });

/** Subscribes to a fresh answer, publishes one DONE event for it with `mutation`, and resolves with the onAnswer data. */
async function deliveredWith(mutation: string): Promise<Record<string, unknown>> {
  const answerId = `${SUB}.${Math.random().toString(36).slice(2)}`;
  let resolve!: (d: Record<string, unknown>) => void;
  const data = new Promise<Record<string, unknown>>((r) => (resolve = r));
  const subscription = await connection.subscribe(ON_ANSWER, { answerId }, (d) => resolve((d as { onAnswer: Record<string, unknown> }).onAnswer));
  try {
    await publisher().request(mutation, { answerId, userId: SUB, status: 'DONE', seq: 1000, text: 'the answer', error: null, step: 'PublishAnswer' });
    return await data;
  } finally {
    await subscription.unsubscribe();
  }
}

const selecting = (fields: string) => /* GraphQL */ `
  mutation P($answerId: ID!, $userId: ID!, $status: AnswerStatus!, $seq: Int!, $text: String, $error: String, $step: String) {
    publishAnswer(answerId: $answerId, userId: $userId, status: $status, seq: $seq, text: $text, error: $error, step: $step) { ${fields} }
  }`;

describe('local AppSync: a subscription receives the mutation selection set', () => {
  it('a mutation that does not select text delivers text: null (and step: null), the rest intact', async () => {
    const data = await deliveredWith(selecting('answerId userId status seq'));
    expect(data).toEqual({ answerId: expect.stringMatching(/^user-a\./), userId: SUB, status: 'DONE', seq: 1000, text: null, error: null, step: null });
    expect(published.at(-1)).toEqual({ answerId: data.answerId, userId: SUB, status: 'DONE', seq: 1000 });
  });

  it('control: selecting text (and step) delivers them', async () => {
    const data = await deliveredWith(selecting('answerId userId status seq text step'));
    expect(data).toMatchObject({ status: 'DONE', text: 'the answer', step: 'PublishAnswer', error: null });
  });

  it('an aliased field reaches subscribers as null (AppSync keys the payload by the alias); fragments count as selected', async () => {
    const aliased = await deliveredWith(selecting('answerId userId status seq words: text'));
    expect(aliased.text).toBeNull();
    const viaFragment = await deliveredWith(`${selecting('answerId userId ...Body')} fragment Body on AnswerEvent { status seq text }`);
    expect(viaFragment).toMatchObject({ status: 'DONE', text: 'the answer' });
  });

  it("the tasks' PUBLISH_ANSWER delivers every field the client reads", async () => {
    const data = await deliveredWith(PUBLISH_ANSWER);
    expect(data).toMatchObject({ userId: SUB, status: 'DONE', seq: 1000, text: 'the answer', error: null, step: 'PublishAnswer' });
  });

  it('a mutation that does not select the filtered fields (answerId, userId) delivers nothing: the filter sees only the selection', async () => {
    const answerId = `${SUB}.unselected`;
    const got: unknown[] = [];
    const subscription = await connection.subscribe(ON_ANSWER, { answerId }, (d) => got.push(d));
    await publisher().request(selecting('status seq text'), { answerId, userId: SUB, status: 'DONE', seq: 1, text: 'hidden' });
    // Control on the same subscription: the full selection arrives, and after the first (events keep their order).
    await publisher().request(PUBLISH_ANSWER, { answerId, userId: SUB, status: 'DONE', seq: 2, text: 'shown', error: null, step: null });
    await expect.poll(() => got.length).toBe(1);
    expect(got[0]).toMatchObject({ onAnswer: { seq: 2, text: 'shown' } });
    await subscription.unsubscribe();
  });
});
