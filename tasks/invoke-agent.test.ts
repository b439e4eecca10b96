import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { describe, expect, it } from 'vitest';
import { awsError, FAKE_CLIENT_CONFIG, recordingPublisher, scripted, type FakeReply, type ScriptedClient, rejection } from '../test/fake-aws.ts';
import type { AgentReply, AgentRuntime, AgentTurn, TextSink, ToolCaller } from './agent-runtime.ts';
import { conversationPrefix } from './conversation-memory.ts';
import { ErrorName, WorkflowError } from './errors.ts';
import { AnswerSanitizer, invokeAgent, MAX_ANSWER_CHARS, type InvokeAgentDeps } from './invoke-agent.ts';
import type { AnswerMeter, MeteredAnswer } from './meter.ts';
import { TableNames } from './tables.ts';

/** Feeds `text` to a sanitizer in pieces cut at `cuts`; returns what each push showed, and the end. */
function stream(text: string, secrets: string[], cuts: number[]): { shown: string[]; whole: string } {
  const sanitizer = new AnswerSanitizer(secrets);
  const shown: string[] = [];
  let from = 0;
  for (const cut of [...cuts, text.length]) {
    shown.push(sanitizer.push(text.slice(from, cut)));
    from = cut;
  }
  shown.push(sanitizer.end());
  return { shown, whole: shown.join('') };
}

const SECRET = 'secret-value/0123456789+abcdefghij';
const TOKEN = 'session-token-value-0123456789';

describe('AnswerSanitizer: the answer cleaned as it streams', () => {
  it('joined, equals the whole text sanitized at once, however the text is cut', () => {
    const text = `Intro \u0007text ${SECRET} middle ${TOKEN}${TOKEN} end ${SECRET.slice(0, 10)} tail ✓ 🙂`;
    const once = stream(text, [SECRET, TOKEN], []).whole;
    expect(once).toBe(`Intro text [redacted] middle [redacted][redacted] end ${SECRET.slice(0, 10)} tail ✓ 🙂`);
    for (let step = 1; step <= 7; step++) {
      const cuts = Array.from({ length: Math.ceil(text.length / step) }, (_, i) => i * step).slice(1);
      expect(stream(text, [SECRET, TOKEN], cuts).whole, `pieces of ${step}`).toBe(once);
    }
  });

  it('never shows part of a secret cut across pieces: the start is held until it is decided', () => {
    const text = `Your key is ${SECRET}.`;
    const cut = text.indexOf(SECRET) + 12;
    const { shown } = stream(text, [SECRET], [cut]);
    expect(shown[0]).toBe('Your key is ');
    expect(shown.join('')).toBe('Your key is [redacted].');
    for (const piece of shown) expect(piece).not.toContain(SECRET.slice(0, 4));
  });

  it('shows held text once it is not a secret after all', () => {
    const text = `Prefix ${SECRET.slice(0, 8)}!`;
    const { shown, whole } = stream(text, [SECRET], [text.length - 1]);
    expect(shown[0]).toBe('Prefix ');
    expect(whole).toBe(text);
  });

  it('limits the answer to MAX_ANSWER_CHARS characters with an ellipsis, streamed or not', () => {
    const long = 'é'.repeat(MAX_ANSWER_CHARS + 10);
    const expected = `${'é'.repeat(MAX_ANSWER_CHARS - 1)}…`;
    expect(stream(long, [], []).whole).toBe(expected);
    expect(stream(long, [], [100, 3999, 4000, 4001]).whole).toBe(expected);
    const exact = 'x'.repeat(MAX_ANSWER_CHARS);
    expect(stream(exact, [], [3999]).whole).toBe(exact);
  });
});

const identity = { tenantId: 'tenant1', userId: 'user-1', username: 'alice' };
const request = { answerId: 'user-1.a1', question: '  Where are my orders?  ' };
const CIPHERTEXT = Uint8Array.from([7, 7, 7, 200, 201]);
const state = {
  identity,
  request,
  context: { sessionId: 's-session-of-user-1', storeName: 'Tenant One Store', nextSeq: 3 },
  sealed: { sealedCredentials: Buffer.from(CIPHERTEXT).toString('base64'), expiration: '2030-01-01T00:15:00.000Z' },
};
const scoped = {
  accessKeyId: 'ASIASCOPEDUSER10001',
  secretAccessKey: 'scoped-secret-access-key/0123456789',
  sessionToken: 'scoped-session-token-0123456789abcdef',
  expiration: '2030-01-01T00:15:00.000Z',
};
const SECRETS = [scoped.accessKeyId, scoped.secretAccessKey, scoped.sessionToken];
const unsealed = { Plaintext: Buffer.from(JSON.stringify(scoped), 'utf8') };

type AgentScript = (turn: AgentTurn, callTool: ToolCaller, onText: TextSink) => Promise<AgentReply>;

/**
 * Deps for one run: KMS answers `decrypt`; the agent plays `script` once (a second ask is refused);
 * `scopedDynamo` hands out one scripted client and records the credentials it was given.
 */
function harness(
  decrypt: FakeReply | undefined,
  script: AgentScript = () => expect.fail('the agent must not be asked'),
  memory: AgentRuntime['memory'] = 'agent-session',
  /** Scripts the scoped client as soon as it is made (the memory reads before the agent runs). */
  onScoped?: (fake: ScriptedClient<DynamoDBClient>) => void,
) {
  const kms = scripted(new KMSClient(FAKE_CLIENT_CONFIG));
  if (decrypt) kms.on('DecryptCommand', decrypt);
  const turns: AgentTurn[] = [];
  const agent: AgentRuntime = {
    memory,
    ask: async (turn, callTool, onText) => {
      turns.push(turn);
      if (turns.length > 1) throw new Error('the agent was asked twice');
      return script(turn, callTool, onText);
    },
  };
  const scopedClients: { credentials: unknown; fake: ScriptedClient<DynamoDBClient> }[] = [];
  const scopedDynamo: InvokeAgentDeps['scopedDynamo'] = (credentials) => {
    if (scopedClients.length > 0) throw new Error('a second scoped client was asked for');
    const fake = scripted(new DynamoDBClient(FAKE_CLIENT_CONFIG));
    scopedClients.push({ credentials, fake });
    onScoped?.(fake);
    return fake.client;
  };
  const events = recordingPublisher();
  const logs: Record<string, unknown>[] = [];
  /** Every answer the meter was given (a recording meter: tasks/meter.test.ts tests the real one). */
  const metered: MeteredAnswer[] = [];
  const meter: AnswerMeter = { record: async (a) => (metered.push(a), 'metered') };
  const deps: InvokeAgentDeps = { kms: kms.client, agent, tables: new TableNames(), scopedDynamo, events: events.port, meter, log: (l) => logs.push(l) };
  /** The scoped client, to script before the agent's tool calls reach it. */
  const dynamo = () => {
    const c = scopedClients[0];
    if (!c) throw new Error('no scoped client was made');
    return c.fake;
  };
  return { deps, kms, turns, scopedClients, dynamo, published: events.published, logs, metered };
}

const order = { userId: 'user-1', orderId: 'ord-1', orderDate: '2030-01-01', total: 12, status: 'SHIPPED', items: ['mug'] };

describe('invokeAgent', () => {
  it("unseals under the asker's context, runs the agent's tool calls with the scoped client, and streams the answer to the asker", async () => {
    const toolResults: string[] = [];
    const h = harness(unsealed, async (_turn, callTool, onText) => {
      h.dynamo().on('QueryCommand', { Items: [order] });
      // The model names another tenant and user: the parameters never reach the tool.
      toolResults.push(await callTool('listMyOrders', { tenantId: 'tenant2', userId: 'victim' }));
      onText('You have ');
      onText('one order.');
      return { text: 'You have one order.', toolCalls: 1 };
    });
    const answer = await invokeAgent(state, h.deps);

    expect(h.kms.calls).toEqual([
      { command: 'DecryptCommand', input: { CiphertextBlob: CIPHERTEXT, EncryptionContext: { tenantId: 'tenant1', userId: 'user-1', answerId: 'user-1.a1' } } },
    ]);
    expect(h.scopedClients.map((c) => c.credentials)).toEqual([scoped]);
    expect(h.dynamo().calls).toEqual([
      {
        command: 'QueryCommand',
        input: { TableName: 'tenant1-orders', KeyConditionExpression: 'userId = :u', ExpressionAttributeValues: { ':u': 'user-1' }, ScanIndexForward: false, Limit: 50 },
      },
    ]);
    expect(toolResults.map((r) => JSON.parse(r))).toEqual([{ orders: [{ orderId: 'ord-1', orderDate: '2030-01-01', status: 'SHIPPED', total: 12, items: ['mug'] }] }]);
    expect(h.turns).toEqual([{ sessionId: 's-session-of-user-1', question: 'Where are my orders?', sessionAttributes: { tenantId: 'tenant1', userId: 'user-1' } }]);

    const published = h.published;
    expect(answer).toEqual({ text: 'You have one order.', toolCalls: 1, nextSeq: published.length + 3 });
    expect(published.map((e) => e.seq)).toEqual(published.map((_, i) => i + 3));
    expect(published.slice(0, 2).map((e) => [e.status, e.step])).toEqual([
      ['PROGRESS', 'listMyOrders'],
      ['PROGRESS', 'WriteAnswer'],
    ]);
    expect(published.slice(2).every((e) => e.status === 'CHUNK')).toBe(true);
    expect(published.slice(2).map((e) => e.text).join('')).toBe(answer.text);
    for (const e of published) expect(e).toMatchObject({ answerId: 'user-1.a1', userId: 'user-1', error: null });
    expect(h.logs).toEqual([{ level: 'info', msg: 'meter.recorded', tenantId: 'tenant1', answerId: 'user-1.a1', tokens: 0 }]);
    h.kms.assertDone();
    h.dynamo().assertDone();
  });

  it('never gives the agent a credential, and redacts one from its answer and chunks', async () => {
    const h = harness(unsealed, async (_turn, _callTool, onText) => {
      onText(`Key: ${scoped.secretAccessKey.slice(0, 10)}`);
      onText(`${scoped.secretAccessKey.slice(10)} and ${scoped.sessionToken}.`);
      return { text: 'ignored', toolCalls: 0 };
    });
    const answer = await invokeAgent(state, h.deps);
    expect(answer.text).toBe('Key: [redacted] and [redacted].');
    const seen = JSON.stringify({ turns: h.turns, published: h.published, answer });
    for (const secret of SECRETS) expect(seen).not.toContain(secret);
  });

  it('returns the run\'s token usage, named by the configured model and totalled (control: no usage reported, none returned)', async () => {
    const h = harness(unsealed, async (_turn, _callTool, onText) => {
      onText('Hello.');
      return { text: 'Hello.', toolCalls: 0, usage: { inputTokens: 320, outputTokens: 40 } };
    });
    const answer = await invokeAgent(state, { ...h.deps, modelId: 'us.anthropic.claude-haiku-4-5-20251001-v1:0' });
    // No cost: the models table has no price for the model (none is in the docs index).
    expect(answer.usage).toEqual({ modelId: 'us.anthropic.claude-haiku-4-5-20251001-v1:0', inputTokens: 320, outputTokens: 40, totalTokens: 360 });
    const none = harness(unsealed, async (_turn, _callTool, onText) => {
      onText('Hello.');
      return { text: 'Hello.', toolCalls: 0 };
    });
    expect((await invokeAgent(state, none.deps)).usage).toBeUndefined();
  });

  it("meters the answer's usage for the state's tenant and answer, at the answer's time (control: no usage, counted with none)", async () => {
    const at = new Date('2030-01-31T23:59:59.500Z');
    const h = harness(unsealed, async (_turn, _callTool, onText) => {
      onText('Hello.');
      return { text: 'Hello.', toolCalls: 0, usage: { inputTokens: 320, outputTokens: 40 } };
    });
    await invokeAgent(state, { ...h.deps, modelId: 'model-a', now: () => at });
    expect(h.metered).toEqual([{ tenantId: 'tenant1', answerId: 'user-1.a1', modelId: 'model-a', usage: { inputTokens: 320, outputTokens: 40 }, at }]);
    expect(h.logs).toEqual([{ level: 'info', msg: 'meter.recorded', tenantId: 'tenant1', answerId: 'user-1.a1', tokens: 360 }]);
    const none = harness(unsealed, async () => ({ text: 'Hi.', toolCalls: 0 }));
    await invokeAgent(state, none.deps);
    expect(none.metered).toMatchObject([{ tenantId: 'tenant1', answerId: 'user-1.a1', usage: undefined }]);
  });

  it('answers when the meter fails, and logs meter.failed with the error name only (control: the same run with a working meter logs meter.recorded)', async () => {
    const secretMessage = `denied for ${scoped.sessionToken}`;
    const h = harness(unsealed, async (_turn, _callTool, onText) => {
      onText('Hello.');
      return { text: 'Hello.', toolCalls: 0, usage: { inputTokens: 3, outputTokens: 4 } };
    });
    const failing: AnswerMeter = { record: () => Promise.reject(awsError('AccessDeniedException', 400, secretMessage)) };
    const answer = await invokeAgent(state, { ...h.deps, meter: failing });
    expect(answer).toMatchObject({ text: 'Hello.', usage: { inputTokens: 3, outputTokens: 4 } });
    expect(h.logs).toEqual([{ level: 'error', msg: 'meter.failed', tenantId: 'tenant1', answerId: 'user-1.a1', tokens: 7, error: 'AccessDeniedException' }]);
    expect(JSON.stringify(h.logs)).not.toContain(scoped.sessionToken);
    const control = harness(unsealed, async (_turn, _callTool, onText) => {
      onText('Hello.');
      return { text: 'Hello.', toolCalls: 0, usage: { inputTokens: 3, outputTokens: 4 } };
    });
    await invokeAgent(state, control.deps);
    expect(control.logs).toMatchObject([{ msg: 'meter.recorded', tokens: 7 }]);
  });

  it("does not announce a tool the model made up; the agent hears UNKNOWN_TOOL and nothing is read", async () => {
    let result = '';
    const h = harness(unsealed, async (_turn, callTool, onText) => {
      result = await callTool('scanAllTenants', { tenantId: 'tenant2' });
      onText('I cannot.');
      return { text: 'I cannot.', toolCalls: 1 };
    });
    await invokeAgent(state, h.deps);
    expect(JSON.parse(result)).toEqual({ error: 'UNKNOWN_TOOL', message: 'There is no tool named scanAllTenants.' });
    expect(h.published.map((e) => e.step)).not.toContain('scanAllTenants');
    expect(h.dynamo().calls).toEqual([]);
  });

  it.each([
    ['denied', awsError('AccessDeniedException', 400), ErrorName.AgentFailed],
    ['throttled', awsError('ProvisionedThroughputExceededException', 400), ErrorName.Throttled],
  ])('ends the run when a tool read is %s: the agent does not get to try around IAM', async (_, reply, name) => {
    const h = harness(unsealed, async (_turn, callTool) => {
      h.dynamo().on('GetItemCommand', reply);
      await callTool('getOrderStatus', { orderId: 'ord-1' });
      return expect.fail('the tool call must throw');
    });
    const err = await rejection(invokeAgent(state, h.deps));
    expect(err.name).toBe(name);
    expect(err.message).toMatch(/^Tool getOrderStatus failed/);
    // Its PROGRESS is out before the task fails (PublishFailure's FAILED comes after it).
    expect(h.published.map((e) => [e.seq, e.status, e.step])).toEqual([[3, 'PROGRESS', 'getOrderStatus']]);
    h.dynamo().assertDone();
  });

  it("passes the agent's own failure on unchanged, after this task's events", async () => {
    const h = harness(unsealed, async (_turn, callTool, onText) => {
      h.dynamo().on('GetItemCommand', { Item: { tenantId: 'tenant1', name: 'Tenant One Store', status: 'ACTIVE', returnPolicyDays: 10 } });
      await callTool('getReturnPolicy', {});
      onText('Part');
      throw new WorkflowError(ErrorName.Throttled, 'Converse failed: ThrottlingException');
    });
    const err = await rejection(invokeAgent(state, h.deps));
    expect(err.name).toBe(ErrorName.Throttled);
    expect(h.published.map((e) => [e.status, e.step, e.text])).toEqual([
      ['PROGRESS', 'getReturnPolicy', "reading the store's return policy"],
      ['PROGRESS', 'WriteAnswer', 'writing the answer'],
      ['CHUNK', 'InvokeAgent', 'Part'],
    ]);
  });

  it.each([
    ['the seal was made for another asker or answer', awsError('InvalidCiphertextException', 400), ErrorName.CredentialsFailed],
    ['KMS denies Decrypt', awsError('AccessDeniedException', 400), ErrorName.CredentialsFailed],
    ['KMS returns no plaintext', {}, ErrorName.CredentialsFailed],
    ['KMS throttles', awsError('ThrottlingException', 400), ErrorName.Throttled],
    // Transient, so the state's Retry runs it again (control: the rows above are not retried).
    ['the connection to KMS was reset', Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), ErrorName.ServiceUnavailable],
    ['the KMS request timed out', Object.assign(new Error('Connection timed out after 1000 ms'), { name: 'TimeoutError' }), ErrorName.ServiceUnavailable],
  ])('fails before any agent or tool when %s', async (_, decrypt, name) => {
    const h = harness(decrypt);
    expect((await rejection(invokeAgent(state, h.deps))).name).toBe(name);
    expect(h.turns).toEqual([]);
    expect(h.scopedClients).toEqual([]);
    expect(h.published).toEqual([]);
    h.kms.assertDone();
  });

  it.each([
    ['not JSON', `{"accessKeyId":"${scoped.accessKeyId}","secretAccessKey":"${scoped.secretAccessKey}`],
    ['JSON of another shape', JSON.stringify({ accessKeyId: scoped.accessKeyId, secret: scoped.secretAccessKey, sessionToken: scoped.sessionToken })],
  ])('fails CredentialsFailed, quoting nothing of the plaintext, when the unsealed text is %s', async (_, text) => {
    const h = harness({ Plaintext: Buffer.from(text, 'utf8') });
    const err = await rejection(invokeAgent(state, h.deps));
    expect(err.name).toBe(ErrorName.CredentialsFailed);
    for (const secret of SECRETS) expect(`${err.message} ${String(err.cause ?? '')}`).not.toContain(secret);
    expect(h.turns).toEqual([]);
    expect(h.scopedClients).toEqual([]);
  });

  it.each([
    ['no sealed credentials', { identity, request, context: state.context }],
    ['no context', { identity, request, sealed: state.sealed }],
    ['no identity', { request, context: state.context, sealed: state.sealed }],
  ])('refuses a state with %s with InvalidRequest, before unsealing', async (_, incomplete) => {
    const h = harness(undefined);
    expect((await rejection(invokeAgent(incomplete, h.deps))).name).toBe(ErrorName.InvalidRequest);
    expect(h.kms.calls).toEqual([]);
    expect(h.turns).toEqual([]);
  });

  describe('with the converse runtime: the conversation memory', () => {
    const before = [
      { role: 'user' as const, content: [{ text: 'Which orders did I place?' }] },
      { role: 'assistant' as const, content: [{ text: 'You have 2 orders:\n- ord-1\n- ord-2' }] },
    ];
    const storedTurn = { askerKey: 'tenant1#user-1', turnKey: 'k#00000001', seq: 1, answerId: 'user-1.a0', messages: JSON.stringify(before) };

    it("reads the conversation with the scoped client before the model, and writes the turn the asker saw after it", async () => {
      const run = [
        { role: 'user' as const, content: [{ text: 'Where are my orders?' }] },
        { role: 'assistant' as const, content: [{ text: `raw ${scoped.sessionToken}` }] },
      ];
      const h = harness(
        unsealed,
        async (_turn, _callTool, onText) => {
          onText(`Your key is ${scoped.secretAccessKey}.`);
          return { text: 'ignored', toolCalls: 0, messages: run };
        },
        'conversation-table',
        (fake) => fake.on('QueryCommand', { Items: [storedTurn] }).on('PutItemCommand', {}),
      );
      const answer = await invokeAgent({ ...state, request: { ...request, conversationId: 'conv-1' } }, h.deps);
      expect(h.turns[0]!.history).toEqual(before);
      const [query, put] = h.dynamo().calls;
      expect((query!.input as { ExpressionAttributeValues: Record<string, string> }).ExpressionAttributeValues[':pk']).toBe('tenant1#user-1');
      const item = (put!.input as { Item: { askerKey: string; seq: number; messages: string } }).Item;
      expect([item.askerKey, item.seq]).toEqual(['tenant1#user-1', 2]);
      expect(JSON.parse(item.messages)).toEqual([run[0], { role: 'assistant', content: [{ text: answer.text }] }]);
      expect(answer.text).toBe('Your key is [redacted].');
      for (const secret of SECRETS) expect(JSON.stringify(h.dynamo().calls)).not.toContain(secret);
      h.dynamo().assertDone();
    });

    it('a conversation without an id is the answer\'s own: a new conversation recalls nothing of another', async () => {
      const h = harness(
        unsealed,
        async (_turn, _callTool, onText) => {
          onText('Hi.');
          return { text: 'Hi.', toolCalls: 0, messages: [{ role: 'user', content: [{ text: 'Hi' }] }, { role: 'assistant', content: [{ text: 'Hi.' }] }] };
        },
        'conversation-table',
        (fake) => fake.on('QueryCommand', { Items: [] }).on('PutItemCommand', {}),
      );
      await invokeAgent(state, h.deps);
      const prefixOf = (calls: { input: Record<string, unknown> }[]) => (calls[0]!.input as { ExpressionAttributeValues: Record<string, string> }).ExpressionAttributeValues[':conversation'];
      expect(prefixOf(h.dynamo().calls)).toBe(conversationPrefix(request.answerId));
      expect(h.turns[0]!.history).toEqual([]);
    });

    it('fails before the model when the memory read is denied; the agent-session runtime never touches the table (control)', async () => {
      const h = harness(unsealed, undefined, 'conversation-table', (fake) => fake.on('QueryCommand', awsError('AccessDeniedException', 400)));
      const err = await rejection(invokeAgent(state, h.deps));
      expect(err.name).toBe(ErrorName.AgentFailed);
      expect(err.message).toMatch(/^Reading the conversation failed: AccessDeniedException/);
      expect(h.turns).toEqual([]);
      const control = harness(unsealed, async (turn, _callTool, onText) => {
        onText('Hi.');
        expect(turn.history).toBeUndefined();
        return { text: 'Hi.', toolCalls: 0 };
      });
      await invokeAgent(state, control.deps);
      expect(control.dynamo().calls).toEqual([]);
    });
  });
});
