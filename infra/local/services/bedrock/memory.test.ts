/**
 * The local model remembers what the conversation says, and only that: through Converse, the
 * earlier turns are the request's messages (Converse is stateless); through InvokeAgent, they are
 * the agent session's turns (Bedrock agents keep a session's conversation by sessionId). A
 * follow-up that only makes sense with memory ("the second one") is answered from them; without
 * them the local model asks which order is meant.
 */
import { BedrockAgentRuntimeClient, InvokeAgentCommand, type ResponseStream } from '@aws-sdk/client-bedrock-agent-runtime';
import { BedrockRuntimeClient, ConverseCommand, type Message } from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ACTION_GROUP, converseToolConfig } from '../../../../tasks/agent-definition.ts';
import { Edge } from '../../edge/edge.ts';
import { silentLogger } from '../../edge/log.ts';
import { PolicyEvaluator } from '../../iam/evaluator.ts';
import { LOCAL_AGENT_ALIAS_ID, LOCAL_AGENT_ID, LOCAL_MODEL_ID, LocalIam } from '../../iam/principals.ts';
import { LocalAgent, ordinalOf, WHICH_ORDER } from './local-agent.ts';
import { BedrockService } from './service.ts';

const iam = new LocalIam({ agentRuntime: 'bedrock-agent' });
const converseIam = new LocalIam({ agentRuntime: 'converse' });
const bedrock = new BedrockService({ location: iam.location, evaluator: new PolicyEvaluator() });
const edge = new Edge({ iam, services: { bedrock }, clock: () => new Date(), logger: silentLogger });
const converseEdge = new Edge({ iam: converseIam, services: { bedrock }, clock: () => new Date(), logger: silentLogger });
let agentClient: BedrockAgentRuntimeClient;
let modelClient: BedrockRuntimeClient;

beforeAll(async () => {
  const common = { region: iam.location.region, maxAttempts: 1, requestHandler: new NodeHttpHandler() };
  agentClient = new BedrockAgentRuntimeClient({ ...common, endpoint: await edge.listen(0), credentials: iam.credentials('invoke-agent') });
  modelClient = new BedrockRuntimeClient({ ...common, endpoint: await converseEdge.listen(0), credentials: converseIam.credentials('invoke-agent') });
});
afterAll(async () => {
  agentClient.destroy();
  modelClient.destroy();
  await edge.close();
  await converseEdge.close();
});
beforeEach(() => bedrock.reset());

const ORDERS = {
  orders: [
    { orderId: 'ord-20261015-eb344a', orderDate: '2026-10-15', status: 'SHIPPED', total: 40, items: ['Kettle'] },
    { orderId: 'ord-20261001-aaaaaa', orderDate: '2026-10-01', status: 'DELIVERED', total: 12.5, items: ['Mug'] },
  ],
};
const SECOND = ORDERS.orders[1]!;
const STATUS = { orderId: SECOND.orderId, status: SECOND.status, orderDate: SECOND.orderDate, total: SECOND.total };
const results: Record<string, unknown> = { listMyOrders: ORDERS, getOrderStatus: STATUS };
const FOLLOW_UP = "And what's the status of the second one?";

describe('the local agent reads the conversation', () => {
  const agent = new LocalAgent();

  it('names places in a list: "second one", "3rd order"; not a bare "first"', () => {
    expect([ordinalOf(FOLLOW_UP), ordinalOf('the 3rd order'), ordinalOf('First, my return policy')]).toEqual([2, 3, undefined]);
  });

  it('looks up the second order of its last listing answer; without one it asks which order is meant (control)', () => {
    const listed = { question: 'Which orders did I place?', answer: `You have 2 orders:\n- ${ORDERS.orders[0]!.orderId}: …\n- ${SECOND.orderId}: …` };
    expect(agent.step(FOLLOW_UP, [], [listed])).toEqual({ kind: 'tools', calls: [{ name: 'getOrderStatus', input: { orderId: SECOND.orderId } }] });
    expect(agent.step(FOLLOW_UP, [], [])).toEqual({ kind: 'answer', text: WHICH_ORDER });
    expect(agent.step(FOLLOW_UP, [], [{ question: 'Return policy?', answer: 'You can return items within 10 days.' }])).toEqual({ kind: 'answer', text: WHICH_ORDER });
    // A place the list does not have is not made up.
    expect(agent.step('And the fifth one?', [], [listed])).toEqual({ kind: 'answer', text: WHICH_ORDER });
  });
});

describe('Converse: the conversation is the request\'s messages', () => {
  const toolConfig = converseToolConfig();

  /** Runs one question's tool loop on top of `history`; returns the messages of the turn. */
  async function turn(history: Message[], question: string): Promise<Message[]> {
    const messages: Message[] = [...history, { role: 'user', content: [{ text: question }] }];
    for (let round = 0; round < 4; round++) {
      const out = await modelClient.send(new ConverseCommand({ modelId: LOCAL_MODEL_ID, messages, toolConfig }));
      messages.push(out.output!.message!);
      if (out.stopReason !== 'tool_use') return messages.slice(history.length);
      messages.push({
        role: 'user',
        content: out.output!.message!.content!.map((b) => ({ toolResult: { toolUseId: b.toolUse!.toolUseId!, content: [{ json: results[b.toolUse!.name!] as never }] } })),
      });
    }
    throw new Error('no answer');
  }
  const answerOf = (messages: Message[]) => messages.at(-1)!.content![0]!.text;

  it('answers the follow-up from the earlier turn in the messages; a new conversation gets the clarifying answer (control)', async () => {
    const first = await turn([], 'Which orders did I place?');
    expect(answerOf(first)).toContain(SECOND.orderId);
    const followUp = await turn(first, FOLLOW_UP);
    expect(followUp[1]!.content![0]!.toolUse).toMatchObject({ name: 'getOrderStatus', input: { orderId: SECOND.orderId } });
    expect(answerOf(followUp)).toBe(`Order ${SECOND.orderId} (placed ${SECOND.orderDate}, total 12.50) is DELIVERED.`);
    expect(answerOf(await turn([], FOLLOW_UP))).toBe(WHICH_ORDER);
  });

  it('refuses earlier turns with a toolUse that no toolResult answers, as Bedrock does', async () => {
    const first = await turn([], 'Which orders did I place?');
    const broken = [first[0]!, first[1]!, { role: 'user' as const, content: [{ text: 'never mind' }] }, first[3]!];
    const err = await modelClient.send(new ConverseCommand({ modelId: LOCAL_MODEL_ID, messages: [...broken, { role: 'user', content: [{ text: FOLLOW_UP }] }], toolConfig })).then(
      () => expect.fail('expected ValidationException'),
      (e: Error) => e,
    );
    expect(err.name).toBe('ValidationException');
    expect(err.message).toMatch(/^Expected toolResult blocks at messages\.2\.content/);
  });
});

describe('InvokeAgent: the conversation is the agent session\'s turns', () => {
  async function ask(sessionId: string, inputText: string): Promise<{ text: string; calls: string[] }> {
    let input: ConstructorParameters<typeof InvokeAgentCommand>[0] = { agentId: LOCAL_AGENT_ID, agentAliasId: LOCAL_AGENT_ALIAS_ID, sessionId, inputText };
    const calls: string[] = [];
    for (let round = 0; round < 4; round++) {
      const out = await agentClient.send(new InvokeAgentCommand(input));
      let text = '';
      let control: ResponseStream['returnControl'];
      for await (const e of out.completion!) {
        if (e.chunk?.bytes) text += new TextDecoder().decode(e.chunk.bytes);
        if (e.returnControl) control = e.returnControl;
      }
      if (!control) return { text, calls };
      const answers = control.invocationInputs!.map((i) => {
        const f = i.functionInvocationInput!;
        calls.push(`${f.function}(${(f.parameters ?? []).map((p) => p.value).join(',')})`);
        return { functionResult: { actionGroup: ACTION_GROUP, function: f.function!, responseBody: { TEXT: { body: JSON.stringify(results[f.function!]) } } } };
      });
      input = { agentId: LOCAL_AGENT_ID, agentAliasId: LOCAL_AGENT_ALIAS_ID, sessionId, sessionState: { invocationId: control.invocationId!, returnControlInvocationResults: answers } };
    }
    throw new Error('no answer');
  }

  it('answers the follow-up in the same session; another session gets the clarifying answer (control)', async () => {
    expect((await ask('s-memory-1', 'Which orders did I place?')).text).toContain(SECOND.orderId);
    const followUp = await ask('s-memory-1', FOLLOW_UP);
    expect(followUp.calls).toEqual([`getOrderStatus(${SECOND.orderId})`]);
    expect(followUp.text).toContain(`Order ${SECOND.orderId}`);
    expect(bedrock.session('s-memory-1')!.turns.map((t) => t.question)).toEqual(['Which orders did I place?', FOLLOW_UP]);
    expect(await ask('s-memory-2', FOLLOW_UP)).toEqual({ text: WHICH_ORDER, calls: [] });
  });

  it('forgets a session idle for the agent\'s idleSessionTTLInSeconds (600 s); within it, remembers (control)', async () => {
    let now = Date.now();
    bedrock.setClock(() => new Date(now));
    try {
      expect((await ask('s-idle-1', 'Which orders did I place?')).text).toContain(SECOND.orderId);
      now += 599_000;
      expect((await ask('s-idle-1', FOLLOW_UP)).calls).toEqual([`getOrderStatus(${SECOND.orderId})`]);
      now += 600_000;
      expect(await ask('s-idle-1', FOLLOW_UP)).toEqual({ text: WHICH_ORDER, calls: [] });
      expect(bedrock.session('s-idle-1')!.turns.map((t) => t.question)).toEqual([FOLLOW_UP]);
    } finally {
      bedrock.setClock(undefined);
    }
  });
});
