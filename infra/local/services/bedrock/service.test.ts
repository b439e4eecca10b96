import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  BedrockAgentRuntimeClient,
  InvokeAgentCommand,
  type InvokeAgentCommandInput,
  type ResponseStream,
} from '@aws-sdk/client-bedrock-agent-runtime';
import { BedrockRuntimeClient, ConverseCommand, type ContentBlock, type Message } from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { ACTION_GROUP, converseToolConfig } from '../../../../tasks/agent-definition.ts';
import { BedrockService } from './service.ts';
import { Edge } from '../../edge/edge.ts';
import { PolicyEvaluator } from '../../iam/evaluator.ts';
import { CANNOT_HELP } from './local-agent.ts';
import { silentLogger } from '../../edge/log.ts';
import { LOCAL_AGENT_ALIAS_ID, LOCAL_AGENT_ID, LOCAL_MODEL_ID, LocalIam, type LocalCredentials, type LocalPrincipalName } from '../../iam/principals.ts';
import { failure } from '../../../../test/aws-failure.ts';
import { modelResourceArn } from '../../../../tasks/models.ts';

// The invoke-agent role may call one runtime's API only: InvokeAgent with bedrock-agent (`iam`),
// Converse with converse (`converseIam`). One Bedrock service behind two edges, one per account setup.
const iam = new LocalIam({ agentRuntime: 'bedrock-agent' });
const converseIam = new LocalIam({ agentRuntime: 'converse' });
const bedrock = new BedrockService({ location: iam.location, evaluator: new PolicyEvaluator() });
const edge = new Edge({ iam, services: { bedrock }, clock: () => new Date(), logger: silentLogger });
const converseEdge = new Edge({ iam: converseIam, services: { bedrock }, clock: () => new Date(), logger: silentLogger });
let endpoint: string;
let converseEndpoint: string;

beforeAll(async () => {
  endpoint = await edge.listen(0);
  converseEndpoint = await converseEdge.listen(0);
});
afterAll(async () => {
  await edge.close();
  await converseEdge.close();
});
beforeEach(() => bedrock.reset());

/** The SDK's default handler speaks HTTP/2, which the local edge does not: adapters pass an HTTP/1.1 handler. */
function config(who: LocalPrincipalName | LocalCredentials, on: { endpoint: string; iam: LocalIam } = { endpoint, iam }) {
  return {
    endpoint: on.endpoint,
    region: on.iam.location.region,
    credentials: typeof who === 'string' ? on.iam.credentials(who) : who,
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler(),
  };
}
const agentClient = (who: LocalPrincipalName | LocalCredentials = 'invoke-agent') => new BedrockAgentRuntimeClient(config(who));
const modelClient = (who: LocalPrincipalName = 'invoke-agent') => new BedrockRuntimeClient(config(who, { endpoint: converseEndpoint, iam: converseIam }));

interface Invocation {
  sessionId: string | undefined;
  events: ResponseStream[];
  text: string;
  returnControl?: NonNullable<ResponseStream['returnControl']>;
}

async function invoke(input: Partial<InvokeAgentCommandInput> & { sessionId: string }, client = agentClient()): Promise<Invocation> {
  const out = await client.send(new InvokeAgentCommand({ agentId: LOCAL_AGENT_ID, agentAliasId: LOCAL_AGENT_ALIAS_ID, ...input }));
  const events: ResponseStream[] = [];
  let text = '';
  let returnControl: Invocation['returnControl'];
  for await (const event of out.completion!) {
    events.push(event);
    if (event.chunk?.bytes) text += new TextDecoder().decode(event.chunk.bytes);
    if (event.returnControl) returnControl = event.returnControl;
  }
  return { sessionId: out.sessionId, events, text, ...(returnControl ? { returnControl } : {}) };
}

function functionResults(rc: NonNullable<Invocation['returnControl']>, results: Record<string, unknown>) {
  return rc.invocationInputs!.map((i) => {
    const fn = i.functionInvocationInput!.function!;
    return { functionResult: { actionGroup: ACTION_GROUP, function: fn, responseBody: { TEXT: { body: JSON.stringify(results[fn]) } } } };
  });
}

/** Ask, answer every returned tool call from `results`, and return the final text. */
async function ask(sessionId: string, question: string, results: Record<string, unknown>) {
  let step = await invoke({ sessionId, inputText: question });
  const calls: { function: string; parameters: Record<string, string> }[] = [];
  for (let round = 0; step.returnControl && round < 5; round++) {
    for (const i of step.returnControl.invocationInputs!) {
      const f = i.functionInvocationInput!;
      calls.push({ function: f.function!, parameters: Object.fromEntries((f.parameters ?? []).map((p) => [p.name!, p.value!])) });
    }
    step = await invoke({
      sessionId,
      sessionState: { invocationId: step.returnControl.invocationId!, returnControlInvocationResults: functionResults(step.returnControl, results) },
    });
  }
  expect(step.returnControl).toBeUndefined();
  return { text: step.text, calls };
}

const ORDERS = {
  orders: [
    { orderId: 'ord-20261001-aaaaaa', orderDate: '2026-10-01', status: 'DELIVERED', total: 12.5, items: ['Mug'] },
    { orderId: 'ord-20261015-eb344a', orderDate: '2026-10-15', status: 'SHIPPED', total: 40, items: ['Kettle', 'Tea'] },
  ],
};

describe('InvokeAgent', () => {
  it('answers a question no tool serves with one chunk, and echoes the session id', async () => {
    const out = await invoke({ sessionId: 'plain-1', inputText: "what's the weather" });
    expect(out.sessionId).toBe('plain-1');
    expect(out.returnControl).toBeUndefined();
    expect(out.events.map((e) => Object.keys(e).filter((k) => k !== '$unknown'))).toEqual([['chunk']]);
    expect(out.text).toBe(CANNOT_HELP);
    expect(bedrock.session('plain-1')!.turns).toEqual([{ question: "what's the weather", rounds: [], answer: CANNOT_HELP }]);
  });

  it('streams the final response in several chunks when asked to (streamFinalResponse)', async () => {
    const out = await invoke({ sessionId: 'plain-2', inputText: "what's the weather", streamingConfigurations: { streamFinalResponse: true } });
    const chunks = out.events.filter((e) => e.chunk).map((e) => new TextDecoder().decode(e.chunk!.bytes));
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks.join('')).toBe(CANNOT_HELP);
  });

  it('returns control for the return policy, and answers from the function result', async () => {
    const first = await invoke({ sessionId: 'roc-1', inputText: "What's your return policy?" });
    expect(first.text).toBe('');
    const rc = first.returnControl!;
    expect(rc.invocationId).toMatch(/^[0-9a-f-]{36}$/);
    expect(rc.invocationInputs).toEqual([
      { functionInvocationInput: { actionGroup: ACTION_GROUP, actionInvocationType: 'RESULT', agentId: LOCAL_AGENT_ID, function: 'getReturnPolicy', parameters: [] } },
    ]);
    expect(bedrock.session('roc-1')!.pending).toEqual({ invocationId: rc.invocationId, question: "What's your return policy?", functions: ['getReturnPolicy'] });

    const second = await invoke({
      sessionId: 'roc-1',
      sessionState: {
        invocationId: rc.invocationId!,
        returnControlInvocationResults: [
          { functionResult: { actionGroup: ACTION_GROUP, function: 'getReturnPolicy', responseBody: { TEXT: { body: '{"returnPolicyDays":10,"storeName":"x"}' } } } },
        ],
      },
    });
    expect(second.returnControl).toBeUndefined();
    expect(second.text).toBe('You can return items within 10 days.');
    const view = bedrock.session('roc-1')!;
    expect(view.pending).toBeUndefined();
    expect(view.turns).toEqual([{ question: "What's your return policy?", rounds: [[{ name: 'getReturnPolicy', input: {} }]], answer: 'You can return items within 10 days.' }]);
  });

  it('lists orders, or says there are none', async () => {
    const none = await ask('orders-1', 'Show me my orders', { listMyOrders: { orders: [] } });
    expect(none.calls).toEqual([{ function: 'listMyOrders', parameters: {} }]);
    expect(none.text).toBe('You have not placed any orders yet.');

    const some = await ask('orders-2', 'What did I buy?', { listMyOrders: ORDERS });
    expect(some.text).toBe(
      [
        'You have 2 orders:',
        '- ord-20261001-aaaaaa: placed 2026-10-01, DELIVERED, total 12.50, items: Mug',
        '- ord-20261015-eb344a: placed 2026-10-15, SHIPPED, total 40.00, items: Kettle, Tea',
      ].join('\n'),
    );
  });

  it('looks up one order by id, and says when it is not among the asker’s orders', async () => {
    const found = await ask('status-1', 'Where is ord-20261015-eb344a?', {
      getOrderStatus: { orderId: 'ord-20261015-eb344a', status: 'SHIPPED', orderDate: '2026-10-15', total: 40 },
    });
    expect(found.calls).toEqual([{ function: 'getOrderStatus', parameters: { orderId: 'ord-20261015-eb344a' } }]);
    expect(found.text).toBe('Order ord-20261015-eb344a (placed 2026-10-15, total 40.00) is SHIPPED.');

    const missing = await ask('status-2', 'status of order ord-20990101-ffffff please', {
      getOrderStatus: { error: 'ORDER_NOT_FOUND', message: 'You have no order ord-20990101-ffffff.' },
    });
    expect(missing.text).toBe('I could not find order ord-20990101-ffffff among your orders.');
  });

  it('takes two rounds for the latest order’s status: list, then look up the newest', async () => {
    const out = await ask('latest-1', "What's the status of my latest order?", {
      listMyOrders: ORDERS,
      getOrderStatus: { orderId: 'ord-20261015-eb344a', status: 'SHIPPED', orderDate: '2026-10-15', total: 40 },
    });
    expect(out.calls).toEqual([
      { function: 'listMyOrders', parameters: {} },
      { function: 'getOrderStatus', parameters: { orderId: 'ord-20261015-eb344a' } },
    ]);
    expect(out.text).toBe('Order ord-20261015-eb344a (placed 2026-10-15, total 40.00) is SHIPPED.');
  });

  it('emits trace events when asked to (the model output with its usage, the rationale), and ends the session on endSession', async () => {
    const out = await invoke({ sessionId: 'trace-1', inputText: 'hello there', enableTrace: true, endSession: true });
    const usage = out.events[0]!.trace?.trace?.orchestrationTrace?.modelInvocationOutput?.metadata?.usage;
    expect(usage).toEqual({ inputTokens: expect.any(Number), outputTokens: Math.ceil(CANNOT_HELP.length / 4) });
    expect(out.events[1]!.trace?.trace?.orchestrationTrace?.rationale?.text).toEqual(expect.any(String));
    // Control: without enableTrace there is no trace, only the answer.
    const plain = await invoke({ sessionId: 'trace-2', inputText: 'hello there' });
    expect(plain.events.every((e) => e.trace === undefined)).toBe(true);
    expect(out.text).toBe(CANNOT_HELP);
    expect(bedrock.session('trace-1')).toBeUndefined();
  });

  it('records calls with their session attributes, and never a credential', async () => {
    await invoke({
      sessionId: 'rec-1',
      inputText: 'hi',
      sessionState: { sessionAttributes: { tenantId: 'tenant1', userId: 'u-1', sessionToken: 'not-to-be-kept' } },
    });
    expect(bedrock.calls('InvokeAgent')).toHaveLength(1);
    expect(bedrock.lastCall()).toEqual({
      operation: 'InvokeAgent',
      principalArn: iam.principalArn('invoke-agent'),
      sessionId: 'rec-1',
      sessionAttributes: { tenantId: 'tenant1', userId: 'u-1', sessionToken: '[redacted]' },
      resumed: false,
      outcome: 'chunk',
    });
  });
});

describe('InvokeAgent refuses what a real session would not accept', () => {
  it('rejects a mismatched invocationId, and still accepts the right one afterwards', async () => {
    const first = await invoke({ sessionId: 'bad-id-1', inputText: 'return policy?' });
    const results = functionResults(first.returnControl!, { getReturnPolicy: { returnPolicyDays: 30, storeName: 'x' } });
    const err = await failure(invoke({ sessionId: 'bad-id-1', sessionState: { invocationId: 'not-the-pending-one', returnControlInvocationResults: results } }));
    expect(err).toMatchObject({ name: 'ValidationException', status: 400 });
    expect(err.message).toMatch(/invocationId/);

    const ok = await invoke({ sessionId: 'bad-id-1', sessionState: { invocationId: first.returnControl!.invocationId!, returnControlInvocationResults: results } });
    expect(ok.text).toBe('You can return items within 30 days.');
  });

  it('rejects results for a session with nothing pending, an unknown function, and a missing result', async () => {
    const orphan = await failure(
      invoke({
        sessionId: 'no-such-session',
        sessionState: {
          invocationId: 'x',
          returnControlInvocationResults: [{ functionResult: { actionGroup: ACTION_GROUP, function: 'getReturnPolicy', responseBody: { TEXT: { body: '{}' } } } }],
        },
      }),
    );
    expect(orphan).toMatchObject({ name: 'ValidationException', status: 400 });
    expect(orphan.message).toMatch(/no pending return of control/);

    const first = await invoke({ sessionId: 'refuse-1', inputText: 'return policy and my orders' });
    expect(first.returnControl!.invocationInputs!.map((i) => i.functionInvocationInput!.function)).toEqual(['getReturnPolicy', 'listMyOrders']);
    let invocationId = first.returnControl!.invocationId!;
    const unknown = await failure(
      invoke({
        sessionId: 'refuse-1',
        sessionState: {
          invocationId,
          returnControlInvocationResults: [{ functionResult: { actionGroup: ACTION_GROUP, function: 'deleteAllOrders', responseBody: { TEXT: { body: '{}' } } } }],
        },
      }),
    );
    expect(unknown).toMatchObject({ name: 'ValidationException' });
    expect(unknown.message).toMatch(/names no function/);

    const partial = await failure(
      invoke({
        sessionId: 'refuse-1',
        sessionState: { invocationId, returnControlInvocationResults: functionResults(first.returnControl!, { getReturnPolicy: {} }).slice(0, 1) },
      }),
    );
    expect(partial.message).toMatch(/Missing results for pending function\(s\): listMyOrders/);

    const notJson = await failure(
      invoke({
        sessionId: 'refuse-1',
        sessionState: {
          invocationId,
          returnControlInvocationResults: [
            { functionResult: { actionGroup: ACTION_GROUP, function: 'getReturnPolicy', responseBody: { TEXT: { body: 'ten days' } } } },
            { functionResult: { actionGroup: ACTION_GROUP, function: 'listMyOrders', responseBody: { TEXT: { body: '{"orders":[]}' } } } },
          ],
        },
      }),
    );
    expect(notJson).toMatchObject({ name: 'ValidationException' });
    expect(notJson.message).toMatch(/not JSON/);

    // A new question replaces the pending invocation: its id is no longer accepted.
    const again = await invoke({ sessionId: 'refuse-1', inputText: 'return policy and my orders' });
    const stale = await failure(
      invoke({ sessionId: 'refuse-1', sessionState: { invocationId, returnControlInvocationResults: functionResults(first.returnControl!, {}) } }),
    );
    expect(stale.message).toMatch(/does not match the pending invocation/);
    invocationId = again.returnControl!.invocationId!;

    const both = await invoke({
      sessionId: 'refuse-1',
      sessionState: { invocationId, returnControlInvocationResults: functionResults(first.returnControl!, { getReturnPolicy: { returnPolicyDays: 10, storeName: 'x' }, listMyOrders: { orders: [] } }) },
    });
    expect(both.text).toBe('You can return items within 10 days.\nYou have not placed any orders yet.');
  });

  it('answers DependencyFailedException when the caller reports the function failed', async () => {
    const first = await invoke({ sessionId: 'dep-1', inputText: 'my orders' });
    const err = await failure(
      invoke({
        sessionId: 'dep-1',
        sessionState: {
          invocationId: first.returnControl!.invocationId!,
          returnControlInvocationResults: [
            { functionResult: { actionGroup: ACTION_GROUP, function: 'listMyOrders', responseState: 'FAILURE', responseBody: { TEXT: { body: '{}' } } } },
          ],
        },
      }),
    );
    expect(err).toMatchObject({ name: 'DependencyFailedException', status: 424 });
  });
});

describe('Converse', () => {
  const toolConfig = converseToolConfig();

  it('asks for a tool, then answers from its result', async () => {
    const client = modelClient();
    const question: Message = { role: 'user', content: [{ text: "What's your return policy?" }] };
    const first = await client.send(new ConverseCommand({ modelId: LOCAL_MODEL_ID, system: [{ text: 'be brief' }], messages: [question], toolConfig }));
    expect(first.stopReason).toBe('tool_use');
    const content = first.output!.message!.content!;
    expect(content).toHaveLength(1);
    const use = content[0]!.toolUse!;
    expect(use).toMatchObject({ name: 'getReturnPolicy', input: {} });
    expect(use.toolUseId).toMatch(/^tooluse_/);
    expect(first.usage!.totalTokens).toBe(first.usage!.inputTokens! + first.usage!.outputTokens!);

    const result: ContentBlock = { toolResult: { toolUseId: use.toolUseId!, content: [{ json: { returnPolicyDays: 10, storeName: 'x' } }] } };
    const second = await client.send(
      new ConverseCommand({ modelId: LOCAL_MODEL_ID, messages: [question, first.output!.message!, { role: 'user', content: [result] }], toolConfig }),
    );
    expect(second.stopReason).toBe('end_turn');
    expect(second.output!.message).toEqual({ role: 'assistant', content: [{ text: 'You can return items within 10 days.' }] });
    expect(bedrock.calls('Converse').map((c) => [c.resumed, c.outcome])).toEqual([
      [false, 'tool_use'],
      [true, 'end_turn'],
    ]);
  });

  it('refuses tool results that answer no toolUse, and tool use without toolConfig', async () => {
    const client = modelClient();
    const question: Message = { role: 'user', content: [{ text: 'my orders' }] };
    const first = await client.send(new ConverseCommand({ modelId: LOCAL_MODEL_ID, messages: [question], toolConfig }));
    const wrong: Message = { role: 'user', content: [{ toolResult: { toolUseId: 'tooluse_other', content: [{ json: { orders: [] } }] } }] };
    const err = await failure(client.send(new ConverseCommand({ modelId: LOCAL_MODEL_ID, messages: [question, first.output!.message!, wrong], toolConfig })));
    expect(err).toMatchObject({ name: 'ValidationException', status: 400 });
    expect(err.message).toMatch(/Expected toolResult blocks/);

    const id = first.output!.message!.content![0]!.toolUse!.toolUseId!;
    const right: Message = { role: 'user', content: [{ toolResult: { toolUseId: id, content: [{ json: { orders: [] } }] } }] };
    const noConfig = await failure(client.send(new ConverseCommand({ modelId: LOCAL_MODEL_ID, messages: [question, first.output!.message!, right] })));
    expect(noConfig.message).toMatch(/toolConfig field must be defined/);
  });

  it('authorises the requested model before it looks the model up', async () => {
    const err = await failure(modelClient().send(new ConverseCommand({ modelId: 'anthropic.claude-none', messages: [{ role: 'user', content: [{ text: 'hi' }] }] })));
    expect(err).toMatchObject({ name: 'AccessDeniedException', status: 403 });
    expect(err.message).toContain('foundation-model/anthropic.claude-none');
  });
});

describe('request validation, worded as AWS words it', () => {
  it('InvokeAgent: quotes the path members it refuses, never inputText; a wrongly typed member does not deserialize', async () => {
    const badSession = await failure(invoke({ sessionId: 'x', inputText: 'hi' }));
    expect(badSession).toMatchObject({ name: 'ValidationException', status: 400 });
    expect(badSession.message).toBe(
      "1 validation error detected: Value 'x' at 'sessionId' failed to satisfy constraint: Member must satisfy regular expression pattern: [0-9a-zA-Z._:-]+ and have length between 2 and 100",
    );
    const missing = await failure(invoke({ sessionId: 'valid-1' }));
    expect(missing.message).toBe("1 validation error detected: Value null at 'inputText' failed to satisfy constraint: Member must not be null");
    const long = await failure(invoke({ sessionId: 'valid-1', inputText: 'a'.repeat(25_001) }));
    expect(long.message).toBe("1 validation error detected: Value at 'inputText' failed to satisfy constraint: Member must have length less than or equal to 25000");
    const notStrings = await failure(
      invoke({ sessionId: 'valid-1', inputText: 'hi', sessionState: { sessionAttributes: { n: 5 as unknown as string } } }),
    );
    expect(notStrings).toMatchObject({ name: 'SerializationException', status: 400 });
    expect(bedrock.session('valid-1')).toBeUndefined();
  });

  it('Converse: names the member of the message it refuses', async () => {
    const converse = (input: Record<string, unknown>) =>
      failure(modelClient().send(new ConverseCommand({ modelId: LOCAL_MODEL_ID, ...input } as ConstructorParameters<typeof ConverseCommand>[0])));
    const role = await converse({ messages: [{ role: 'system', content: [{ text: 'hi' }] }] });
    expect(role).toMatchObject({ name: 'ValidationException', status: 400 });
    expect(role.message).toBe("1 validation error detected: Value 'system' at 'messages.0.member.role' failed to satisfy constraint: Member must satisfy enum value set: [user, assistant]");
    const empty = await converse({ messages: [{ role: 'user', content: [] }] });
    expect(empty.message).toBe("1 validation error detected: Value at 'messages.0.member.content' failed to satisfy constraint: Member must have length greater than or equal to 1");
    const noTools = await converse({ messages: [{ role: 'user', content: [{ text: 'hi' }] }], toolConfig: {} });
    expect(noTools.message).toBe("1 validation error detected: Value null at 'toolConfig.tools' failed to satisfy constraint: Member must not be null");
  });
});

describe('hostile mode', () => {
  it('injects tenant and user parameters into every tool call, and dumps the raw results', async () => {
    bedrock.setMode('hostile', { tenantId: 'tenant2', userId: 'victim-sub' });
    const first = await invoke({ sessionId: 'hostile-1', inputText: 'What is the return policy?' });
    const inputs = first.returnControl!.invocationInputs!.map((i) => ({
      function: i.functionInvocationInput!.function,
      parameters: Object.fromEntries(i.functionInvocationInput!.parameters!.map((p) => [p.name, p.value])),
    }));
    expect(inputs).toEqual([
      { function: 'listMyOrders', parameters: { tenantId: 'tenant2', userId: 'victim-sub' } },
      { function: 'getReturnPolicy', parameters: { tenantId: 'tenant2' } },
      { function: 'getOrderStatus', parameters: { orderId: '*', tenantId: 'tenant2', userId: 'victim-sub' } },
    ]);
    const results = {
      listMyOrders: { orders: [] },
      getReturnPolicy: { returnPolicyDays: 10, storeName: 'Own Store' },
      getOrderStatus: { error: 'INVALID_PARAMETERS', message: 'orderId must be an order id' },
    };
    const second = await invoke({
      sessionId: 'hostile-1',
      sessionState: { invocationId: first.returnControl!.invocationId!, returnControlInvocationResults: functionResults(first.returnControl!, results) },
    });
    expect(second.text).toBe(`Raw data: ${JSON.stringify(results.listMyOrders)}\n${JSON.stringify(results.getReturnPolicy)}\n${JSON.stringify(results.getOrderStatus)}`);
  });

  it('does the same through Converse', async () => {
    bedrock.setMode('hostile');
    const out = await modelClient().send(
      new ConverseCommand({ modelId: LOCAL_MODEL_ID, messages: [{ role: 'user', content: [{ text: 'status of ord-20261015-eb344a' }] }], toolConfig: converseToolConfig() }),
    );
    expect(out.output!.message!.content!.map((c) => [c.toolUse!.name, c.toolUse!.input])).toEqual([
      ['listMyOrders', { tenantId: 'tenant2', userId: '*' }],
      ['getReturnPolicy', { tenantId: 'tenant2' }],
      ['getOrderStatus', { orderId: 'ord-20261015-eb344a', tenantId: 'tenant2', userId: '*' }],
    ]);
  });
});

describe('fault injection', () => {
  it('throttles the next N calls with ThrottlingException (429), then recovers', async () => {
    bedrock.injectFault({ kind: 'throttle', times: 2 });
    for (let i = 0; i < 2; i++) {
      expect(await failure(invoke({ sessionId: 'throttle-1', inputText: 'hi' }))).toMatchObject({ name: 'ThrottlingException', status: 429 });
    }
    expect((await invoke({ sessionId: 'throttle-1', inputText: 'hi' })).text).toBe(CANNOT_HELP);
    expect(bedrock.calls().map((c) => c.outcome)).toEqual(['ThrottlingException', 'ThrottlingException', 'chunk']);
  });

  it('fails permanently with ValidationException, per operation, until cleared', async () => {
    bedrock.injectFault({ kind: 'fail', times: 5, operation: 'Converse' });
    const converse = () => modelClient().send(new ConverseCommand({ modelId: LOCAL_MODEL_ID, messages: [{ role: 'user', content: [{ text: 'hi' }] }] }));
    expect(await failure(converse())).toMatchObject({ name: 'ValidationException', status: 400 });
    expect((await invoke({ sessionId: 'fail-1', inputText: 'hi' })).text).toBe(CANNOT_HELP);
    bedrock.clearFaults();
    expect((await converse()).output!.message!.content).toEqual([{ text: CANNOT_HELP }]);
  });

  it('raises an injected error inside the event stream', async () => {
    bedrock.injectFault({ kind: 'throttle', at: 'stream' });
    const err = await failure(invoke({ sessionId: 'stream-1', inputText: 'hi' }));
    expect(err.name).toBe('ThrottlingException');
  });

  it('answers InternalServerException (500)', async () => {
    bedrock.injectFault({ kind: 'internal' });
    expect(await failure(invoke({ sessionId: 'internal-1', inputText: 'hi' }))).toMatchObject({ name: 'InternalServerException', status: 500 });
  });
});

describe('authorization and errors on the wire', () => {
  it('denies a principal without bedrock:InvokeAgent or bedrock:InvokeModel (control: invoke-agent succeeds)', async () => {
    const denied = await failure(invoke({ sessionId: 'auth-1', inputText: 'hi' }, agentClient('validate-context')));
    expect(denied).toMatchObject({ name: 'AccessDeniedException', status: 403 });
    expect(denied.message).toContain(`bedrock:InvokeAgent on resource: ${iam.resources.agentAliasArn}`);
    const deniedModel = await failure(
      modelClient('validate-context').send(new ConverseCommand({ modelId: LOCAL_MODEL_ID, messages: [{ role: 'user', content: [{ text: 'hi' }] }] })),
    );
    expect(deniedModel).toMatchObject({ name: 'AccessDeniedException', status: 403 });
    expect(deniedModel.message).toContain(`bedrock:InvokeModel on resource: ${modelResourceArn(iam.resources.modelId, iam.location)}`);
    expect(bedrock.session('auth-1')).toBeUndefined();

    expect((await invoke({ sessionId: 'auth-1', inputText: 'hi' })).text).toBe(CANNOT_HELP);
  });

  it('rejects a bad signature with InvalidSignatureException (403)', async () => {
    const creds = iam.credentials('invoke-agent');
    const err = await failure(invoke({ sessionId: 'sig-1', inputText: 'hi' }, agentClient({ ...creds, secretAccessKey: `${creds.secretAccessKey}x` })));
    expect(err).toMatchObject({ name: 'InvalidSignatureException', status: 403 });
  });

  it('answers ResourceNotFoundException (404) for an agent it does not serve', async () => {
    // The caller is allowed on the local agent, which this service does not serve (models: model-access.test.ts).
    const other = new BedrockService({ location: iam.location, evaluator: new PolicyEvaluator(), agentId: 'OTHERAGENT' });
    const otherEdge = new Edge({ iam, services: { bedrock: other }, clock: () => new Date(), logger: silentLogger });
    const url = await otherEdge.listen(0);
    try {
      const err = await failure(invoke({ sessionId: 'nf-1', inputText: 'hi' }, new BedrockAgentRuntimeClient({ ...config('invoke-agent'), endpoint: url })));
      expect(err).toMatchObject({ name: 'ResourceNotFoundException', status: 404 });
    } finally {
      await otherEdge.close();
    }
  });
});
