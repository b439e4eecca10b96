/**
 * The events of an answer, end to end on the local stack with both agent runtimes: ACCEPTED, then
 * PROGRESS in words, the answer as CHUNKs, then DONE (or FAILED) last, with seq strictly
 * increasing; best-effort events that fail to publish never fail the answer; and no event of one
 * user ever reaches another.
 */
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { makeRoom } from './admission-room.ts';
import { PLANS } from '../tasks/plans.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AssistantApi, type AnswerEvent } from '../client/api.ts';
import { signIn } from '../client/auth.ts';
import type { AnswerEventRecord } from '../infra/local/services/appsync/graphql.ts';
import type { LogLevel } from '../infra/local/edge/log.ts';
import { startLocalStack, type LocalStack } from '../infra/local/stack.ts';
import { TERMINAL_SEQ } from '../tasks/answer-events.ts';
import { AGENT_RUNTIMES, type AgentRuntimeKind } from '../tasks/config.ts';
import { ErrorName } from '../tasks/errors.ts';
import { TOOLS_IMPL, type ToolRegistry } from '../tasks/tools.ts';
import { ask, isTerminal, recordEvents } from './workflow-helpers.ts';

const NEW_PASSWORD = 'Correct-Horse-Battery-9!';

/** The statuses of a stream with each run of CHUNKs as one (how many depends on timing). */
function shape(events: readonly { status: string; step?: string | null }[]): string[] {
  const out: string[] = [];
  for (const e of events) {
    const item = e.status === 'PROGRESS' ? `PROGRESS ${e.step}` : e.status;
    if (item !== 'CHUNK' || out.at(-1) !== 'CHUNK') out.push(item);
  }
  return out;
}

function expectStrictlyIncreasing(events: readonly { seq: number }[]): void {
  const seqs = events.map((e) => e.seq);
  for (let i = 1; i < seqs.length; i++) expect(seqs[i]!, `seq ${seqs.join(',')}`).toBeGreaterThan(seqs[i - 1]!);
}

const chunkText = (events: readonly { status: string; text?: string | null }[]) =>
  events.filter((e) => e.status === 'CHUNK').map((e) => e.text ?? '').join('');

/** getOrderStatus reads another tenant's orders table: IAM refuses it, so the run fails half-way. */
const foreignOrderStatus: ToolRegistry = {
  ...TOOLS_IMPL,
  async getOrderStatus(params, ctx) {
    await DynamoDBDocumentClient.from(ctx.dynamodb).send(
      new GetCommand({ TableName: ctx.tables.orders('tenant2'), Key: { userId: ctx.userId, orderId: String(params.orderId) } }),
    );
    return { error: 'ORDER_NOT_FOUND', message: 'unreachable: IAM denies the read' };
  },
};

/** A buggy tool that hands the model the scoped credentials it was given (none of it may reach the asker). */
const leakyReturnPolicy: ToolRegistry = {
  ...TOOLS_IMPL,
  async getReturnPolicy(params, ctx) {
    const policy = (await TOOLS_IMPL.getReturnPolicy(params, ctx)) as { returnPolicyDays: number; storeName: string };
    return { ...policy, storeName: `${policy.storeName} ${JSON.stringify(await ctx.dynamodb.config.credentials())}` };
  },
};

/** A stack of its own whose invoke-agent runs `tools` (overridden tasks run in the stack's thread). */
async function withTools(tools: ToolRegistry, agentRuntime: AgentRuntimeKind, run: (stack: LocalStack, events: AnswerEventRecord[]) => Promise<void>): Promise<void> {
  const stack = await startLocalStack({ port: 0, seedOrdersPerUser: 1, retryIntervalOverrides: 0, agentRuntime, taskOverrides: { 'invoke-agent': { tools } } });
  try {
    await run(stack, recordEvents(stack));
  } finally {
    await stack.stop();
  }
}

describe.each(AGENT_RUNTIMES)('answer events with the %s agent runtime', (agentRuntime) => {
  let stack: LocalStack;
  let published: AnswerEventRecord[];
  const logs: string[] = [];
  const apis = new Map<string, AssistantApi>();

  beforeAll(async () => {
    stack = await startLocalStack({
      port: 0,
      seedOrdersPerUser: 2,
      retryIntervalOverrides: 0,
      agentRuntime,
      logger: { log: (level: LogLevel, msg: string, fields?: Record<string, unknown>) => logs.push(JSON.stringify({ level, msg, ...fields })) },
    });
    published = recordEvents(stack);
    const pool = { region: stack.iam.location.region, clientId: stack.cognito.clientId, endpoint: stack.edgeUrl };
    const temporary = stack.cognito.temporaryPasswords();
    for (const username of ['tenant1-user', 'tenant2-user']) {
      const tokens = await signIn(pool, username, temporary[username]!, () => NEW_PASSWORD);
      apis.set(username, new AssistantApi({ graphqlUrl: stack.graphqlUrl, realtimeUrl: stack.realtimeUrl, idToken: tokens.idToken, answerTimeoutMs: 20_000 }));
    }
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('a question through the real client: ACCEPTED, progress in words, the answer in CHUNKs, then DONE; seq strictly increasing', async () => {
    const received: AnswerEvent[] = [];
    const { events, final } = await apis.get('tenant1-user')!.ask("What's your return policy, and which orders did I place?", { onEvent: (e) => received.push(e) });
    expect(final.status).toBe('DONE');
    expect(received).toEqual(events);
    expect(shape(events)).toEqual([
      'ACCEPTED',
      'PROGRESS ValidateContext',
      'PROGRESS getReturnPolicy',
      'PROGRESS listMyOrders',
      'PROGRESS WriteAnswer',
      'CHUNK',
      'DONE',
    ]);
    expect(events.filter((e) => e.status === 'PROGRESS').map((e) => e.text)).toEqual([
      'checking your account',
      "reading the store's return policy",
      'looking up your orders',
      'writing the answer',
    ]);
    expect(final.text).toContain('You can return items within 10 days.');
    expect(chunkText(events)).toBe(final.text);
    expectStrictlyIncreasing(events);
    expect(events[0]!.seq).toBe(1);
    expect(final.seq).toBe(TERMINAL_SEQ);
    // What the workflow published is what the client received, in the same order.
    expect(published.filter((e) => e.answerId === final.answerId).map((e) => e.seq)).toEqual(events.map((e) => e.seq));
  });

  it('the answer streams: several CHUNKs reach the client before DONE, one per piece the model wrote, adding up to the answer', async () => {
    // The local model writes each piece of its answer once the one before has reached the asker as
    // a CHUNK (a gate on events, not on time): a runtime that waited for the whole answer would
    // never publish that CHUNK, and the answer would time out.
    const chunks = () => published.filter((e) => e.status === 'CHUNK').length;
    const before = chunks();
    let written = 0;
    stack.bedrock.setStreamGate(
      (piece) =>
        new Promise<void>((resolve) => {
          const check = () => {
            if (chunks() - before < piece) return;
            stack.appsync.events.off('publish', check);
            written++;
            resolve();
          };
          stack.appsync.events.on('publish', check);
          check();
        }),
    );
    try {
      const { events, final } = await apis.get('tenant1-user')!.ask("What's your return policy?");
      expect(final.status).toBe('DONE');
      const streamed = events.filter((e) => e.status === 'CHUNK');
      expect(streamed.length).toBeGreaterThan(1);
      // Control: each CHUNK is one piece the model wrote, so the count is the model's, not the timing's.
      expect(streamed.length).toBe(written);
      expect(events.indexOf(streamed.at(-1)!)).toBeLessThan(events.indexOf(final));
      expect(chunkText(events)).toBe(final.text);
    } finally {
      stack.bedrock.setStreamGate(undefined);
    }
  });

  it('a question about one order: "checking an order", and the chunks add up to the answer', async () => {
    const asked = await ask(stack, published, 'tenant2-user', 'What is the status of ord-20990101-abcdef?');
    expect(asked.status).toBe('SUCCEEDED');
    expect(shape(asked.stream)).toEqual(['ACCEPTED', 'PROGRESS ValidateContext', 'PROGRESS getOrderStatus', 'PROGRESS WriteAnswer', 'CHUNK', 'DONE']);
    expect(asked.stream.find((e) => e.step === 'getOrderStatus')?.text).toBe('checking an order');
    expect(chunkText(asked.stream)).toBe(asked.events[0]!.text);
    expectStrictlyIncreasing(asked.stream);
  });

  it('a validation failure: FAILED is the only event (nothing is accepted before the request is valid)', async () => {
    const asked = await ask(stack, published, 'tenant2-user', '   ');
    expect(asked.error).toBe(ErrorName.InvalidRequest);
    expect(shape(asked.stream)).toEqual(['FAILED']);
  });

  it('with the hostile agent and a tool that fails half-way: FAILED comes last, and every event goes to the asker only', async () => {
    const me = stack.user('tenant1-user');
    const other = stack.user('tenant2-user');
    const before = published.length;
    stack.bedrock.setMode('hostile', { tenantId: other.tenantId, userId: other.sub });
    let asked;
    try {
      asked = await ask(stack, published, 'tenant1-user', 'Status of order ord-20990101-abcdef for tenant2?');
    } finally {
      stack.bedrock.setMode('normal');
    }
    expect(asked.status).toBe('SUCCEEDED');
    // The hostile dump went out as chunks too: it holds only the asker's data (test/workflow-security.test.ts).
    const dump = asked.stream.map((e) => e.text ?? '').join('\n');
    expect(dump).not.toContain(other.sub);
    expect(chunkText(asked.stream)).toBe(asked.events[0]!.text);

    // Forced failure: a tool the hostile model calls reads another tenant; IAM refuses it.
    await withTools(foreignOrderStatus, agentRuntime, async (failing, events) => {
      const victim = failing.user('tenant2-user');
      failing.bedrock.setMode('hostile', { tenantId: victim.tenantId, userId: victim.sub });
      const failed = await ask(failing, events, 'tenant1-user', 'List every order of tenant2-user.');
      expect(failed.status).toBe('FAILED');
      expect(failed.error).toBe(ErrorName.AgentFailed);
      expect(shape(failed.stream)).toEqual([
        'ACCEPTED',
        'PROGRESS ValidateContext',
        'PROGRESS listMyOrders',
        'PROGRESS getReturnPolicy',
        'PROGRESS getOrderStatus',
        'FAILED',
      ]);
      expectStrictlyIncreasing(failed.stream);
      expect(failed.stream.at(-1)).toMatchObject({ status: 'FAILED', seq: TERMINAL_SEQ });
      const asker = failing.user('tenant1-user').sub;
      for (const e of events) {
        expect(e.userId).toBe(asker);
        expect(e.answerId.startsWith(`${asker}.`)).toBe(true);
      }
    });
    for (const e of published.slice(before)) expect([e.userId, e.answerId.startsWith(`${me.sub}.`)]).toEqual([me.sub, true]);
  });

  it('a tool that leaks the scoped credentials to a hostile model: every CHUNK and DONE is redacted, no minted value reaches the asker', async () => {
    await withTools(leakyReturnPolicy, agentRuntime, async (leaky, events) => {
      const me = leaky.user('tenant1-user');
      leaky.bedrock.setMode('hostile', { tenantId: me.tenantId, userId: me.sub });
      const asked = await ask(leaky, events, 'tenant1-user', "What's your return policy?");
      expect(asked.status).toBe('SUCCEEDED');
      const chunks = asked.stream.filter((e) => e.status === 'CHUNK');
      expect(chunks.length).toBeGreaterThan(0);
      // The control: the dump did carry the credentials (redacted where they were).
      expect(chunkText(asked.stream)).toContain('[redacted]');
      expect(asked.events[0]!.text).toContain('[redacted]');
      const sessions = leaky.iam.issuedSessions();
      expect(sessions.length).toBeGreaterThan(0);
      const shown = asked.stream.map((e) => `${e.text ?? ''}\n${e.error ?? ''}`).join('\n');
      for (const c of sessions) {
        for (const value of [c.accessKeyId, c.secretAccessKey, c.sessionToken ?? '']) if (value) expect(shown).not.toContain(value);
      }
    });
  });

  it('progress that fails to publish never fails the answer: logged without text or credentials, DONE still whole', async () => {
    logs.length = 0;
    stack.appsync.injectFault({ status: 500, errorType: 'InternalFailureException', times: 100, statuses: ['ACCEPTED', 'PROGRESS', 'CHUNK'] });
    let asked;
    try {
      asked = await ask(stack, published, 'tenant2-user', "What's your return policy?");
    } finally {
      stack.appsync.clearFaults();
    }
    expect(asked.status).toBe('SUCCEEDED');
    expect(shape(asked.stream)).toEqual(['DONE']);
    expect(asked.events[0]!.text).toBe('You can return items within 20 days.');
    const failures = logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'answer_events.publish_failed');
    // Each status that failed is logged (once per attempt: on a loaded machine a task attempt may
    // time out and run again, publishing and logging its ACCEPTED a second time).
    expect([...new Set(failures.map((f) => f.status))]).toEqual(['ACCEPTED', 'PROGRESS']);
    for (const f of failures) expect(f).toMatchObject({ level: 'warn', answerId: asked.answerId, httpStatus: 500, errorType: 'InternalFailureException' });
    const text = logs.join('\n');
    expect(text).not.toContain('20 days');
    for (const c of stack.iam.issuedSessions()) {
      expect(text).not.toContain(c.secretAccessKey);
      if (c.sessionToken) expect(text).not.toContain(c.sessionToken);
    }
  });

  it('a CHUNK that fails to publish: the answer is still DONE, last, after the progress that did go out', async () => {
    stack.appsync.injectFault({ status: 500, errorType: 'InternalFailureException', times: 1, statuses: ['CHUNK'] });
    const asked = await ask(stack, published, 'tenant1-user', "What's your return policy?");
    stack.appsync.clearFaults();
    expect(asked.status).toBe('SUCCEEDED');
    expect(shape(asked.stream)).toEqual(['ACCEPTED', 'PROGRESS ValidateContext', 'PROGRESS getReturnPolicy', 'PROGRESS WriteAnswer', 'DONE']);
    expect(asked.events[0]!.text).toBe('You can return items within 10 days.');
  });

  it('two users asking at once: each gets only their own events, each stream complete and in order', async () => {
    const users = ['tenant1-user', 'tenant2-user'] as const;
    const received: Record<string, AnswerEvent[]> = { 'tenant1-user': [], 'tenant2-user': [] };
    // As many at once as both users' plans admit (tenant1 standard: 2), from a fresh window.
    const each = PLANS.standard.concurrentAnswersPerUser;
    for (const u of users) await makeRoom(stack, u);
    const runs = await Promise.all(
      users.flatMap((u) => Array.from({ length: each }, () => apis.get(u)!.ask('Which orders did I place?', { onEvent: (e) => received[u]!.push(e) }))),
    );
    for (const [i, run] of runs.entries()) {
      const username = users[Math.floor(i / each)]!;
      const sub = stack.user(username).sub;
      expect(run.final.status).toBe('DONE');
      expect(shape(run.events)).toEqual(['ACCEPTED', 'PROGRESS ValidateContext', 'PROGRESS listMyOrders', 'PROGRESS WriteAnswer', 'CHUNK', 'DONE']);
      expect(chunkText(run.events)).toBe(run.final.text);
      expectStrictlyIncreasing(run.events);
      for (const e of run.events) expect([e.userId, e.answerId]).toEqual([sub, run.answerId]);
    }
    for (const username of users) {
      const sub = stack.user(username).sub;
      expect(received[username]!.filter(isTerminal)).toHaveLength(each);
      for (const e of received[username]!) expect(e.userId).toBe(sub);
    }
  });
});
