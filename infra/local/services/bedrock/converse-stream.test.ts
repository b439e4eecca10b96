/**
 * ConverseStream on the wire, read by the real SDK client (ConverseStreamCommand): AWS's event
 * names and shapes in order, the same reply as Converse for the same request (one local model
 * decides both), toolUse input deltas, usage, the refusals before the stream as HTTP errors, and
 * the exception events mid-stream.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  BedrockRuntimeClient,
  ConverseCommand,
  ConverseStreamCommand,
  type ContentBlock,
  type ConverseStreamOutput,
  type Message,
} from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { converseToolConfig } from '../../../../tasks/agent-definition.ts';
import { MODEL_REFUSALS } from '../../../../tasks/models.ts';
import { Edge } from '../../edge/edge.ts';
import { silentLogger } from '../../edge/log.ts';
import { PolicyEvaluator } from '../../iam/evaluator.ts';
import { LOCAL_MODEL_ID, LocalIam, type LocalPrincipalName } from '../../iam/principals.ts';
import { CANNOT_HELP } from './local-agent.ts';
import { BedrockService, type BedrockFault } from './service.ts';
import { failure } from '../../../../test/aws-failure.ts';
import { modelResourceArn } from '../../../../tasks/models.ts';

const iam = new LocalIam({ agentRuntime: 'converse' });
const bedrock = new BedrockService({ location: iam.location, evaluator: new PolicyEvaluator() });
const edge = new Edge({ iam, services: { bedrock }, clock: () => new Date(), logger: silentLogger });
let endpoint: string;

beforeAll(async () => {
  endpoint = await edge.listen(0);
});
afterAll(async () => {
  await edge.close();
});
beforeEach(() => bedrock.reset());

const client = (who: LocalPrincipalName = 'invoke-agent') =>
  new BedrockRuntimeClient({ endpoint, region: iam.location.region, credentials: iam.credentials(who), maxAttempts: 1, requestHandler: new NodeHttpHandler() });

const toolConfig = converseToolConfig();
const ask = (text: string): Message[] => [{ role: 'user', content: [{ text }] }];

type Event = Exclude<ConverseStreamOutput, ConverseStreamOutput.$UnknownMember>;

/** The stream's events in order, and the error it ended with, if any. */
async function stream(messages: Message[], who?: LocalPrincipalName, modelId = LOCAL_MODEL_ID, maxTokens?: number) {
  const out = await client(who).send(new ConverseStreamCommand({ modelId, messages, toolConfig, ...(maxTokens === undefined ? {} : { inferenceConfig: { maxTokens } }) }));
  const events: Event[] = [];
  let error: (Error & { $metadata?: { httpStatusCode?: number } }) | undefined;
  try {
    for await (const event of out.stream!) events.push(event as Event);
  } catch (err) {
    error = err as Error;
  }
  return { events, error };
}

const kinds = (events: Event[]) => events.map((e) => Object.keys(e).find((k) => k !== '$unknown'));
const textOf = (events: Event[]) => events.map((e) => e.contentBlockDelta?.delta?.text ?? '').join('');

describe('ConverseStream', () => {
  it('streams a text answer as messageStart, several text deltas, contentBlockStop, messageStop, metadata', async () => {
    const { events, error } = await stream(ask("what's the weather"));
    expect(error).toBeUndefined();
    const deltas = events.filter((e) => e.contentBlockDelta).length;
    expect(deltas).toBeGreaterThan(1);
    expect(kinds(events)).toEqual(['messageStart', ...Array<string>(deltas).fill('contentBlockDelta'), 'contentBlockStop', 'messageStop', 'metadata']);
    expect(events[0]!.messageStart).toEqual({ role: 'assistant' });
    expect(events.filter((e) => e.contentBlockDelta).every((e) => e.contentBlockDelta!.contentBlockIndex === 0)).toBe(true);
    expect(events.at(-2)!.messageStop).toEqual({ stopReason: 'end_turn' });
    expect(textOf(events)).toBe(CANNOT_HELP);
    const { usage, metrics } = events.at(-1)!.metadata!;
    expect(usage!.totalTokens).toBe(usage!.inputTokens! + usage!.outputTokens!);
    expect(usage!.outputTokens).toBeGreaterThan(0);
    expect(metrics!.latencyMs).toBeGreaterThanOrEqual(1);
    expect(bedrock.calls().map((c) => [c.operation, c.outcome])).toEqual([['ConverseStream', 'end_turn']]);
  });

  it('the deltas joined are the Converse reply to the same request, with the same usage (control: Converse itself)', async () => {
    const question = ask('Which orders did I place?');
    const first = await client().send(new ConverseCommand({ modelId: LOCAL_MODEL_ID, messages: question, toolConfig }));
    const use = first.output!.message!.content![0]!.toolUse!;
    const results: Message = { role: 'user', content: [{ toolResult: { toolUseId: use.toolUseId!, content: [{ json: { orders: [] } }] } }] };
    const conversation = [...question, first.output!.message!, results];
    const converse = await client().send(new ConverseCommand({ modelId: LOCAL_MODEL_ID, messages: conversation, toolConfig }));
    const { events } = await stream(conversation);
    const converseText = converse.output!.message!.content!.map((b) => b.text).join('');
    expect(converseText.length).toBeGreaterThan(0);
    expect(textOf(events)).toBe(converseText);
    expect(events.at(-2)!.messageStop!.stopReason).toBe(converse.stopReason);
    expect(events.at(-1)!.metadata!.usage).toEqual(converse.usage);
    expect(bedrock.calls().map((c) => [c.operation, c.resumed])).toEqual([
      ['Converse', false],
      ['Converse', true],
      ['ConverseStream', true],
    ]);
  });

  it('streams a tool call: contentBlockStart names it, toolUse input deltas join into its JSON input, stopReason tool_use', async () => {
    const { events } = await stream(ask('What is the status of ord-20261015-eb344a?'));
    expect(kinds(events)[1]).toBe('contentBlockStart');
    const start = events[1]!.contentBlockStart!;
    expect(start.contentBlockIndex).toBe(0);
    expect(start.start!.toolUse).toMatchObject({ name: 'getOrderStatus', toolUseId: expect.stringMatching(/^tooluse_/) });
    const pieces = events.flatMap((e) => (e.contentBlockDelta?.delta?.toolUse ? [e.contentBlockDelta.delta.toolUse.input!] : []));
    expect(pieces.length).toBeGreaterThan(1);
    expect(JSON.parse(pieces.join(''))).toEqual({ orderId: 'ord-20261015-eb344a' });
    expect(events.at(-2)!.messageStop).toEqual({ stopReason: 'tool_use' });
    expect(kinds(events).slice(-3)).toEqual(['contentBlockStop', 'messageStop', 'metadata']);
  });

  it('answers from a streamed tool call sent back as toolUse and toolResult', async () => {
    const { events } = await stream(ask("What's your return policy?"));
    const start = events.find((e) => e.contentBlockStart)!.contentBlockStart!.start!.toolUse!;
    const input = JSON.parse(events.map((e) => e.contentBlockDelta?.delta?.toolUse?.input ?? '').join('')) as Record<string, never>;
    const use: ContentBlock = { toolUse: { toolUseId: start.toolUseId!, name: start.name!, input } };
    const result: ContentBlock = { toolResult: { toolUseId: start.toolUseId!, content: [{ json: { returnPolicyDays: 10 } }] } };
    const second = await stream([...ask("What's your return policy?"), { role: 'assistant', content: [use] }, { role: 'user', content: [result] }]);
    expect(textOf(second.events)).toBe('You can return items within 10 days.');
  });
});

describe('ConverseStream refuses before the stream, as Converse does', () => {
  it('needs bedrock:InvokeModelWithResponseStream on the model (control: invoke-agent streams)', async () => {
    const denied = await failure(stream(ask('hi'), 'validate-context'));
    expect(denied).toMatchObject({ name: 'AccessDeniedException', status: 403 });
    expect(denied.message).toContain(`bedrock:InvokeModelWithResponseStream on resource: ${modelResourceArn(iam.resources.modelId, iam.location)}`);
    expect((await stream(ask('hi'))).error).toBeUndefined();
  });

  it('refuses an unknown model id and a malformed one with Converse’s refusals', async () => {
    expect(await failure(stream(ask('hi'), 'invoke-agent', 'not a model id!'))).toMatchObject({ name: 'ValidationException', status: 400, message: MODEL_REFUSALS.invalidIdentifier });
    expect(await failure(stream(ask('hi'), 'invoke-agent', 'anthropic.claude-none'))).toMatchObject({ name: 'AccessDeniedException', status: 403 });
  });

  it('refuses inferenceConfig.maxTokens below 1 (control: 1 is accepted)', async () => {
    const err = await failure(stream(ask('hi'), 'invoke-agent', LOCAL_MODEL_ID, 0));
    expect(err).toMatchObject({ name: 'ValidationException', status: 400 });
    expect(err.message).toBe("1 validation error detected: Value '0' at 'inferenceConfig.maxTokens' failed to satisfy constraint: Member must have value greater than or equal to 1");
    expect((await stream(ask('hi'), 'invoke-agent', LOCAL_MODEL_ID, 1)).error).toBeUndefined();
  });

  it('cuts an answer longer than maxTokens: stopReason max_tokens, outputTokens = maxTokens (control: a large maxTokens ends the turn)', async () => {
    const cut = await stream(ask("what's the weather"), 'invoke-agent', LOCAL_MODEL_ID, 3);
    expect(cut.error).toBeUndefined();
    expect(cut.events.at(-2)!.messageStop).toEqual({ stopReason: 'max_tokens' });
    expect(textOf(cut.events)).toBe(CANNOT_HELP.slice(0, 12));
    expect(cut.events.at(-1)!.metadata!.usage!.outputTokens).toBe(3);
    const whole = await stream(ask("what's the weather"), 'invoke-agent', LOCAL_MODEL_ID, 1024);
    expect(whole.events.at(-2)!.messageStop).toEqual({ stopReason: 'end_turn' });
    expect(textOf(whole.events)).toBe(CANNOT_HELP);
  });

  it('refuses a conversation that does not start with a user message', async () => {
    const err = await failure(stream([{ role: 'assistant', content: [{ text: 'hi' }] }]));
    expect(err).toMatchObject({ name: 'ValidationException', status: 400 });
    expect(err.message).toMatch(/must start with a user message/);
  });

  it.each([
    [{ kind: 'throttle' }, 'ThrottlingException', 429],
    [{ kind: 'model-timeout' }, 'ModelTimeoutException', 408],
    [{ kind: 'unavailable' }, 'ServiceUnavailableException', 503],
  ] as [BedrockFault, string, number][])('an injected request fault %o is an HTTP %s (%i) before any event', async (fault, name, status) => {
    bedrock.injectFault({ ...fault, operation: 'ConverseStream' });
    expect(await failure(stream(ask('hi')))).toMatchObject({ name, status });
    expect((await stream(ask('hi'))).error).toBeUndefined();
  });
});

describe('ConverseStream errors mid-stream, as exception events', () => {
  it.each([
    ['model-stream-error', 'ModelStreamErrorException'],
    ['throttle', 'ThrottlingException'],
    ['internal', 'InternalServerException'],
    ['unavailable', 'ServiceUnavailableException'],
    ['fail', 'ValidationException'],
  ] as [BedrockFault['kind'], string][])('%s: the first events arrive, then the stream raises %s', async (kind, name) => {
    bedrock.injectFault({ kind, at: 'stream' } as BedrockFault);
    const { events, error } = await stream(ask("what's the weather"));
    expect(kinds(events)).toEqual(['messageStart', 'contentBlockDelta']);
    expect(error?.name).toBe(name);
    expect(bedrock.lastCall('ConverseStream')!.outcome).toBe(name);
    // Control: the next stream is whole.
    const next = await stream(ask("what's the weather"));
    expect(next.error).toBeUndefined();
    expect(textOf(next.events)).toBe(CANNOT_HELP);
  });

  it('a stream fault never fires on Converse (no event stream) nor on InvokeAgent for Converse-only kinds', async () => {
    bedrock.injectFault({ kind: 'throttle', at: 'stream', operation: 'ConverseStream' });
    const converse = await client().send(new ConverseCommand({ modelId: LOCAL_MODEL_ID, messages: ask('hi') }));
    expect(converse.stopReason).toBe('end_turn');
    expect((await stream(ask('hi'))).error?.name).toBe('ThrottlingException');
    expect(() => bedrock.injectFault({ kind: 'model-stream-error' })).toThrow(/at: stream/);
    expect(() => bedrock.injectFault({ kind: 'model-stream-error', at: 'stream', operation: 'InvokeAgent' })).toThrow(/no model-stream-error/);
    expect(() => bedrock.injectFault({ kind: 'throttle', at: 'stream', operation: 'Converse' })).toThrow(/no event stream/);
    expect(() => bedrock.injectFault({ kind: 'model-timeout', at: 'stream' })).toThrow(/not an event/);
  });
});

describe('a paced stream (setStreamGate)', () => {
  it('writes each text delta after its gate opens: the client reads the first before the second is written', async () => {
    const log: string[] = [];
    let firstRead!: () => void;
    const read = new Promise<void>((resolve) => (firstRead = resolve));
    bedrock.setStreamGate(async (piece) => {
      if (piece === 1) await read;
      log.push(`write ${piece}`);
    });
    const out = await client().send(new ConverseStreamCommand({ modelId: LOCAL_MODEL_ID, messages: ask("what's the weather"), toolConfig }));
    let text = '';
    for await (const event of out.stream!) {
      if (event.contentBlockDelta?.delta?.text === undefined) continue;
      log.push(`read ${log.filter((l) => l.startsWith('read')).length}`);
      text += event.contentBlockDelta.delta.text;
      firstRead();
    }
    expect(log.slice(0, 3)).toEqual(['write 0', 'read 0', 'write 1']);
    expect(log.filter((l) => l.startsWith('write')).length).toBe(log.filter((l) => l.startsWith('read')).length);
    expect(text).toBe(CANNOT_HELP);
    // Control: reset drops the gate; the stream is written at once and reads the same.
    bedrock.reset();
    expect(textOf((await stream(ask("what's the weather"))).events)).toBe(CANNOT_HELP);
  });
});
