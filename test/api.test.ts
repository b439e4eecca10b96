/**
 * End to end through the real client, as a person uses it: sign in to the user pool (completing the
 * first sign-in's new-password challenge), subscribe over the realtime WebSocket, send `ask`, and
 * receive the answer on the subscription.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError, AssistantApi, ON_ANSWER, type AnswerEvent } from '../client/api.ts';
import { signIn, type Tokens } from '../client/auth.ts';
import { localEnvOf } from '../infra/local/local-env.ts';
import { ordersCommand } from '../infra/local/cli/orders.ts';
import { startLocalStack, type LocalStack } from '../infra/local/stack.ts';
import { PLANS } from '../tasks/plans.ts';

let stack: LocalStack;
const tokens = new Map<string, Tokens>();
const NEW_PASSWORD = 'Correct-Horse-Battery-9!';

function api(username: string): AssistantApi {
  return new AssistantApi({ graphqlUrl: stack.graphqlUrl, realtimeUrl: stack.realtimeUrl, idToken: tokens.get(username)!.idToken, answerTimeoutMs: 20_000 });
}

beforeAll(async () => {
  stack = await startLocalStack({ port: 0, seedOrdersPerUser: 0, retryIntervalOverrides: 0 });
  const pool = { region: stack.iam.location.region, clientId: stack.cognito.clientId, endpoint: stack.edgeUrl };
  const temporary = stack.cognito.temporaryPasswords();
  for (const u of stack.users) tokens.set(u.username, await signIn(pool, u.username, temporary[u.username]!, () => NEW_PASSWORD));
});
afterAll(() => stack?.stop());

describe('asking through the real client', () => {
  it.each([
    ['tenant1-user', 10],
    ['tenant1-user2', 10],
    ['tenant2-user', 20],
    ['tenant3-user', 30],
  ])('%s gets their tenant\'s return policy (%i days) on the subscription', async (username, days) => {
    const { final, events } = await api(username).ask("What's your return policy?");
    expect(final).toMatchObject({ status: 'DONE', userId: stack.user(username).sub, text: `You can return items within ${days} days.` });
    // Progress and chunks first (test/answer-events.test.ts), then exactly one terminal event, last.
    expect(events.filter((e) => e.status === 'DONE' || e.status === 'FAILED')).toEqual([final]);
    expect(events.at(-1)).toEqual(final);
  });

  it('answers no orders, then the orders added with npm run orders; tenant1-user2 never sees them', async () => {
    expect((await api('tenant1-user').ask('Which orders did I place?')).final.text).toBe('You have not placed any orders yet.');
    const added = await ordersCommand(localEnvOf(stack, false), 'tenant1-user', 'add', 2);
    const mine = (await api('tenant1-user').ask('Which orders did I place?')).final.text!;
    for (const o of added.orders) expect(mine).toContain(o.orderId);
    const theirs = (await api('tenant1-user2').ask('Which orders did I place?')).final.text!;
    expect(theirs).toBe('You have not placed any orders yet.');
    for (const o of added.orders) {
      const probe = await api('tenant1-user2').ask(`What is the status of ${o.orderId}?`);
      expect(probe.final.text).not.toContain(o.status === 'PLACED' ? 'PLACED' : o.orderDate);
      expect(probe.final.text).toContain('could not find');
    }
  });

  it('continues a conversation: a follow-up in the same conversation is answered', async () => {
    const client = api('tenant2-user');
    const conversationId = 'conv-1';
    const first = await client.ask("What's your return policy?", { conversationId });
    const second = await client.ask('And which orders did I place?', { conversationId });
    expect(first.final.status).toBe('DONE');
    expect(second.final).toMatchObject({ status: 'DONE', text: 'You have not placed any orders yet.' });
  });

  it('two users asking at once never receive each other\'s events', async () => {
    const received: Record<string, AnswerEvent[]> = { 'tenant1-user': [], 'tenant2-user': [] };
    // As many at once as each user's plan admits (tenant1 standard: 2, tenant2 premium: 4).
    const inFlight = { 'tenant1-user': PLANS.standard.concurrentAnswersPerUser, 'tenant2-user': PLANS.premium.concurrentAnswersPerUser };
    const runs = await Promise.all(
      (['tenant1-user', 'tenant2-user'] as const).flatMap((u) =>
        Array.from({ length: inFlight[u] }, () => api(u).ask("What's your return policy?", { onEvent: (e) => received[u]!.push(e) })),
      ),
    );
    expect(runs).toHaveLength(inFlight['tenant1-user'] + inFlight['tenant2-user']);
    for (const [username, events] of Object.entries(received)) {
      const asked = inFlight[username as keyof typeof inFlight];
      expect(events.filter((e) => e.status === 'DONE')).toHaveLength(asked);
      expect(events.filter((e) => e.status === 'ACCEPTED')).toHaveLength(asked);
      for (const e of events) {
        expect(e.userId).toBe(stack.user(username).sub);
        expect(e.answerId.startsWith(`${stack.user(username).sub}.`)).toBe(true);
      }
    }
  });
});

describe('what a signed-in user cannot do', () => {
  it('subscribe to another user\'s answerId: Unauthorized, and no event ever arrives', async () => {
    const attacker = api('tenant1-user2');
    const connection = await attacker.connect();
    try {
      const victimAnswer = `${stack.user('tenant1-user').sub}.victim`;
      const got: unknown[] = [];
      await expect(connection.subscribe(ON_ANSWER, { answerId: victimAnswer }, (d) => got.push(d))).rejects.toMatchObject({ errorType: 'Unauthorized' });
      // Control: the same connection may subscribe to its own answers.
      const own = await connection.subscribe(ON_ANSWER, { answerId: `${stack.user('tenant1-user2').sub}.mine` }, () => undefined);
      await own.unsubscribe();
      expect(got).toEqual([]);
    } finally {
      connection.close();
    }
  });

  it('subscribe with a malformed or invalid document: BadRequestException / ValidationError, every time (documents are cached)', async () => {
    const connection = await api('tenant1-user2').connect();
    const answerId = `${stack.user('tenant1-user2').sub}.docs`;
    try {
      for (let attempt = 0; attempt < 2; attempt++) {
        await expect(connection.subscribe('subscription { onAnswer(answerId: ', { answerId }, () => undefined)).rejects.toMatchObject({ errorType: 'BadRequestException' });
        const unknownField = 'subscription S($answerId: ID!) { onAnswer(answerId: $answerId) { answerId secret } }';
        await expect(connection.subscribe(unknownField, { answerId }, () => undefined)).rejects.toMatchObject({ errorType: 'ValidationError' });
        // Control: the valid document, also served twice from the cache.
        const ok = await connection.subscribe(ON_ANSWER, { answerId }, () => undefined);
        await ok.unsubscribe();
      }
    } finally {
      connection.close();
    }
  });

  it('call publishAnswer: Unauthorized (only the workflow\'s IAM role may publish)', async () => {
    const me = stack.user('tenant1-user');
    await expect(
      api('tenant1-user').graphql(
        'mutation P($a: ID!, $u: ID!) { publishAnswer(answerId: $a, userId: $u, status: DONE, seq: 1, text: "forged") { answerId } }',
        { a: `${me.sub}.x`, u: me.sub },
      ),
    ).rejects.toMatchObject({ errorType: 'Unauthorized' });
  });

  it('pass a tenantId (or any extra argument) to ask: rejected by the schema', async () => {
    const me = stack.user('tenant1-user');
    const err = (await api('tenant1-user')
      .graphql('mutation A($a: ID!) { ask(answerId: $a, question: "hi", tenantId: "tenant2") { answerId } }', { a: `${me.sub}.x` })
      .catch((e: unknown) => e)) as ApiError;
    expect(err).toBeInstanceOf(ApiError);
    expect(err.errorType).toBe('ValidationError');
    expect(err.message).toContain('tenantId');
  });

  it('ask with another user\'s answerId: Unauthorized', async () => {
    const victim = stack.user('tenant1-user');
    await expect(
      api('tenant1-user2').graphql('mutation A($a: ID!) { ask(answerId: $a, question: "hi") { answerId } }', { a: `${victim.sub}.stolen` }),
    ).rejects.toMatchObject({ errorType: 'Unauthorized' });
  });
});
