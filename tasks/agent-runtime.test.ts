import type { BedrockAgentRuntimeClient, InvokeAgentCommand, ResponseStream } from '@aws-sdk/client-bedrock-agent-runtime';
import type { BedrockRuntimeClient, ConverseStreamCommand, ConverseStreamOutput } from '@aws-sdk/client-bedrock-runtime';
import { describe, expect, it } from 'vitest';
import { BedrockAgentAdapter } from './agent-runtime-bedrock-agent.ts';
import { ANSWER_MAX_TOKENS, ConverseAdapter } from './agent-runtime-converse.ts';
import { ErrorName } from './errors.ts';
import { MODEL_REFUSALS } from './models.ts';

const turn = { sessionId: 's-1', question: 'What is your return policy?', sessionAttributes: { tenantId: 'tenant1', userId: 'u-1' } };

/** An InvokeAgent client that answers each call with the next scripted event stream, and refuses a call past the script. */
function scriptedAgent(responses: ResponseStream[][]) {
  const inputs: InvokeAgentCommand['input'][] = [];
  const client = {
    send: async (command: InvokeAgentCommand) => {
      inputs.push(command.input);
      const events = responses.shift();
      if (!events) throw new Error('the script has no more InvokeAgent responses');
      return {
        completion: (async function* () {
          for (const e of events) yield e;
        })(),
      };
    },
  } as unknown as BedrockAgentRuntimeClient;
  return { client, inputs };
}

const chunk = (bytes: Uint8Array): ResponseStream => ({ chunk: { bytes } }) as ResponseStream;

describe('BedrockAgentAdapter', () => {
  it('asks for a streamed final response and hands each chunk on as it arrives, a character split across chunks included', async () => {
    const bytes = new TextEncoder().encode('Returns: 10 days ✓');
    const tick = bytes.length - 2; // inside the three bytes of ✓
    const { client, inputs } = scriptedAgent([[chunk(bytes.slice(0, 9)), chunk(bytes.slice(9, tick)), chunk(bytes.slice(tick))]]);
    const pieces: string[] = [];
    const reply = await new BedrockAgentAdapter(client, 'AGENT12345', 'ALIAS1').ask(turn, () => expect.fail('no tool call'), (p) => pieces.push(p));
    expect(inputs[0]!.streamingConfigurations).toEqual({ streamFinalResponse: true });
    expect(pieces).toEqual(['Returns: ', '10 days ', '✓']);
    expect(reply).toEqual({ text: 'Returns: 10 days ✓', toolCalls: 0 });
  });

  it('after a return of control, streams the resumed answer; the text is what was streamed', async () => {
    const { client } = scriptedAgent([
      [
        {
          returnControl: {
            invocationId: 'inv-1',
            invocationInputs: [{ functionInvocationInput: { actionGroup: 'store-tools', function: 'getReturnPolicy', parameters: [] } }],
          },
        } as ResponseStream,
      ],
      [chunk(new TextEncoder().encode('Within ')), chunk(new TextEncoder().encode('10 days.'))],
    ]);
    const pieces: string[] = [];
    const calls: string[] = [];
    const reply = await new BedrockAgentAdapter(client, 'AGENT12345', 'ALIAS1').ask(
      turn,
      async (name) => {
        calls.push(name);
        return '{"returnPolicyDays":10}';
      },
      (p) => pieces.push(p),
    );
    expect(calls).toEqual(['getReturnPolicy']);
    expect(pieces).toEqual(['Within ', '10 days.']);
    expect(reply).toEqual({ text: pieces.join(''), toolCalls: 1 });
  });
});

/**
 * A ConverseStream client that answers each call with the next scripted event stream (an Error in
 * the script is raised by the stream at that point, as the SDK raises an exception event), logs
 * each event as it yields it, and refuses a call past the script.
 */
function scriptedConverse(responses: (ConverseStreamOutput | Error)[][], log: string[] = []) {
  const inputs: ConverseStreamCommand['input'][] = [];
  const client = {
    send: async (command: ConverseStreamCommand) => {
      inputs.push(structuredClone(command.input));
      const events = responses.shift();
      if (!events) throw new Error('the script has no more ConverseStream responses');
      return {
        stream: (async function* () {
          for (const e of events) {
            if (e instanceof Error) throw e;
            log.push(`event ${Object.keys(e)[0]}`);
            yield e;
          }
        })(),
      };
    },
  } as unknown as BedrockRuntimeClient;
  return { client, inputs, log };
}

const ev = {
  start: (): ConverseStreamOutput => ({ messageStart: { role: 'assistant' } }),
  text: (text: string, contentBlockIndex = 0): ConverseStreamOutput => ({ contentBlockDelta: { contentBlockIndex, delta: { text } } }),
  toolStart: (toolUseId: string, name: string, contentBlockIndex = 0): ConverseStreamOutput => ({ contentBlockStart: { contentBlockIndex, start: { toolUse: { toolUseId, name } } } }),
  toolInput: (input: string, contentBlockIndex = 0): ConverseStreamOutput => ({ contentBlockDelta: { contentBlockIndex, delta: { toolUse: { input } } } }),
  blockStop: (contentBlockIndex = 0): ConverseStreamOutput => ({ contentBlockStop: { contentBlockIndex } }),
  stop: (stopReason: 'end_turn' | 'tool_use'): ConverseStreamOutput => ({ messageStop: { stopReason } }),
  usage: (inputTokens: number, outputTokens: number): ConverseStreamOutput => ({
    metadata: { usage: { inputTokens, outputTokens, totalTokens: inputTokens + outputTokens }, metrics: { latencyMs: 1 } },
  }),
};

const answer = (...pieces: string[]) => [ev.start(), ...pieces.map((p) => ev.text(p)), ev.blockStop(), ev.stop('end_turn'), ev.usage(10, 2)];

describe('ConverseAdapter (ConverseStream)', () => {
  it('hands each text delta on as it arrives, before the stream has ended', async () => {
    const { client, inputs, log } = scriptedConverse([answer('Within ', '10 ', 'days.')]);
    const reply = await new ConverseAdapter(client, 'model-1').ask(turn, () => expect.fail('no tool call'), (p) => log.push(`text ${p}`));
    expect(log).toEqual([
      'event messageStart',
      'event contentBlockDelta',
      'text Within ',
      'event contentBlockDelta',
      'text 10 ',
      'event contentBlockDelta',
      'text days.',
      'event contentBlockStop',
      'event messageStop',
      'event metadata',
    ]);
    expect(reply).toEqual({
      text: 'Within 10 days.',
      toolCalls: 0,
      usage: { inputTokens: 10, outputTokens: 2 },
      // The memory keeps the streamed text as one block.
      messages: [
        { role: 'user', content: [{ text: turn.question }] },
        { role: 'assistant', content: [{ text: 'Within 10 days.' }] },
      ],
    });
    expect(inputs[0]).toMatchObject({ modelId: 'model-1', messages: [{ role: 'user', content: [{ text: turn.question }] }] });
    expect(inputs[0]!.toolConfig!.tools!.length).toBeGreaterThan(0);
    // Bounded output: without maxTokens, Bedrock holds the model's maximum against the tokens-per-minute quota.
    expect(inputs.map((i) => i.inferenceConfig)).toEqual(inputs.map(() => ({ maxTokens: ANSWER_MAX_TOKENS })));
  });

  it('control: one delta is one piece', async () => {
    const { client } = scriptedConverse([answer('Within 10 days.')]);
    const pieces: string[] = [];
    await new ConverseAdapter(client, 'model-1').ask(turn, () => expect.fail('no tool call'), (p) => pieces.push(p));
    expect(pieces).toEqual(['Within 10 days.']);
  });

  it('assembles a tool call from its input deltas, runs it between rounds, and sends the toolUse and its result back', async () => {
    const { client, inputs } = scriptedConverse([
      [ev.start(), ev.toolStart('t1', 'getOrderStatus'), ev.toolInput('{"orderId":"ord-'), ev.toolInput('2026-1"}'), ev.blockStop(), ev.stop('tool_use'), ev.usage(100, 20)],
      answer('Shipped.'),
    ]);
    const calls: [string, Record<string, unknown>][] = [];
    const pieces: string[] = [];
    const reply = await new ConverseAdapter(client, 'model-1').ask(
      turn,
      async (name, params) => {
        calls.push([name, params]);
        return '{"status":"SHIPPED"}';
      },
      (p) => pieces.push(p),
    );
    expect(calls).toEqual([['getOrderStatus', { orderId: 'ord-2026-1' }]]);
    expect(inputs[1]!.messages!.slice(1)).toEqual([
      { role: 'assistant', content: [{ toolUse: { toolUseId: 't1', name: 'getOrderStatus', input: { orderId: 'ord-2026-1' } } }] },
      { role: 'user', content: [{ toolResult: { toolUseId: 't1', content: [{ json: { status: 'SHIPPED' } }], status: 'success' } }] },
    ]);
    expect(pieces).toEqual(['Shipped.']);
    expect(reply).toEqual({ text: 'Shipped.', toolCalls: 1, usage: { inputTokens: 110, outputTokens: 22 }, messages: expect.any(Array) });
    // Every call of the tool loop carries the asker's tenant for the model invocation logs, nothing of the user.
    expect(inputs.map((i) => i.requestMetadata)).toEqual([{ tenantId: turn.sessionAttributes.tenantId }, { tenantId: turn.sessionAttributes.tenantId }]);
    expect(turn.sessionAttributes.tenantId).toBeTruthy();
  });

  it('a tool input that is not JSON fails the agent without quoting it', async () => {
    const { client } = scriptedConverse([[ev.start(), ev.toolStart('t1', 'getOrderStatus'), ev.toolInput('{"orderId": secret'), ev.blockStop(), ev.stop('tool_use')]]);
    const err = await new ConverseAdapter(client, 'model-1').ask(turn, () => expect.fail('no tool call'), () => {}).catch((e: Error) => e);
    expect(err).toMatchObject({ name: ErrorName.AgentFailed });
    expect((err as Error).message).not.toContain('secret');
  });

  it('a stream that ends without messageStop is the agent failing, not an answer', async () => {
    const { client } = scriptedConverse([[ev.start(), ev.text('Within ')]]);
    const err = await new ConverseAdapter(client, 'model-1').ask(turn, () => expect.fail('no tool call'), () => {}).catch((e: Error) => e);
    expect(err).toMatchObject({ name: ErrorName.AgentFailed, message: expect.stringContaining('without messageStop') });
  });

  it.each([
    ['ThrottlingException', ErrorName.Throttled],
    ['ModelStreamErrorException', ErrorName.ServiceUnavailable],
    ['InternalServerException', ErrorName.ServiceUnavailable],
    ['ServiceUnavailableException', ErrorName.ServiceUnavailable],
    // Control: a validation error mid-stream is permanent.
    ['ValidationException', ErrorName.AgentFailed],
  ])('a mid-stream %s, after a first delta went out, is %s', async (name, expected) => {
    const { client } = scriptedConverse([[ev.start(), ev.text('Within '), Object.assign(new Error('stream broke'), { name })]]);
    const pieces: string[] = [];
    const err = await new ConverseAdapter(client, 'model-1').ask(turn, () => expect.fail('no tool call'), (p) => pieces.push(p)).catch((e: Error) => e);
    expect(pieces).toEqual(['Within ']);
    expect(err).toMatchObject({ name: expected, message: expect.stringContaining(`ConverseStream failed: ${name}`) });
  });
});

describe('ConverseAdapter and the conversation memory', () => {
  const history = [
    { role: 'user' as const, content: [{ text: 'Which orders did I place?' }] },
    { role: 'assistant' as const, content: [{ text: 'You have 2 orders:\n- ord-1\n- ord-2' }] },
  ];
  // The answer streams in two deltas: the memory keeps it as one text block.
  const recording = () =>
    scriptedConverse([
      [ev.start(), ev.toolStart('t1', 'getOrderStatus'), ev.toolInput('{"orderId":'), ev.toolInput('"ord-2"}'), ev.blockStop(), ev.stop('tool_use')],
      answer('Order ord-2 ', 'is SHIPPED.'),
    ]);

  it('sends the history before the question, and returns only this run\'s messages: question, tool use, tool result, answer', async () => {
    const { client, inputs: sent } = recording();
    const question = 'And the status of the second one?';
    const reply = await new ConverseAdapter(client, 'model-1').ask({ ...turn, question, history }, async () => '{"orderId":"ord-2","status":"SHIPPED"}', () => {});
    expect(sent[0]!.messages).toEqual([...history, { role: 'user', content: [{ text: question }] }]);
    expect(sent[1]!.messages!.slice(0, 3)).toEqual(sent[0]!.messages);
    expect(reply.messages).toEqual([
      { role: 'user', content: [{ text: question }] },
      { role: 'assistant', content: [{ toolUse: { toolUseId: 't1', name: 'getOrderStatus', input: { orderId: 'ord-2' } } }] },
      { role: 'user', content: [{ toolResult: { toolUseId: 't1', content: [{ json: { orderId: 'ord-2', status: 'SHIPPED' } }], status: 'success' } }] },
      { role: 'assistant', content: [{ text: 'Order ord-2 is SHIPPED.' }] },
    ]);
  });

  it('control: without history the request starts with the question', async () => {
    const { client, inputs: sent } = recording();
    await new ConverseAdapter(client, 'model-1').ask(turn, async () => '{}', () => {});
    expect(sent[0]!.messages).toEqual([{ role: 'user', content: [{ text: turn.question }] }]);
  });

  it('is the runtime whose memory is the conversations table; the Bedrock agent keeps its session', () => {
    expect(new ConverseAdapter({} as BedrockRuntimeClient, 'model-1').memory).toBe('conversation-table');
    expect(new BedrockAgentAdapter({} as BedrockAgentRuntimeClient, 'AGENT12345', 'ALIAS1').memory).toBe('agent-session');
  });
});

describe('token usage, as Bedrock reports it', () => {
  const trace = (inputTokens: number, outputTokens: number): ResponseStream =>
    ({ trace: { trace: { orchestrationTrace: { modelInvocationOutput: { metadata: { usage: { inputTokens, outputTokens } } } } } } }) as ResponseStream;

  it('InvokeAgent: turns the trace on and sums its modelInvocationOutput usage over every call of the run', async () => {
    const { client, inputs } = scriptedAgent([
      [
        trace(120, 30),
        {
          returnControl: {
            invocationId: 'inv-1',
            invocationInputs: [{ functionInvocationInput: { actionGroup: 'store-tools', function: 'getReturnPolicy', parameters: [] } }],
          },
        } as ResponseStream,
      ],
      [trace(200, 10), chunk(new TextEncoder().encode('Within 10 days.'))],
    ]);
    const reply = await new BedrockAgentAdapter(client, 'AGENT12345', 'ALIAS1').ask(turn, async () => '{"returnPolicyDays":10}', () => {});
    expect(inputs.map((i) => i.enableTrace)).toEqual([true, true]);
    expect(reply).toEqual({ text: 'Within 10 days.', toolCalls: 1, usage: { inputTokens: 320, outputTokens: 40 } });
  });

  it('InvokeAgent: no usage reported, none made up (control for the sum above)', async () => {
    const { client } = scriptedAgent([[chunk(new TextEncoder().encode('Hi.'))]]);
    const reply = await new BedrockAgentAdapter(client, 'AGENT12345', 'ALIAS1').ask(turn, () => expect.fail('no tool call'), () => {});
    expect(reply).toEqual({ text: 'Hi.', toolCalls: 0 });
  });

  it('ConverseStream: no metadata, no usage made up (control for the sums above)', async () => {
    const { client } = scriptedConverse([[ev.start(), ev.text('Hi.'), ev.blockStop(), ev.stop('end_turn')]]);
    const reply = await new ConverseAdapter(client, 'model-1').ask(turn, () => expect.fail('no tool call'), () => {});
    expect(reply).toEqual({ text: 'Hi.', toolCalls: 0, messages: expect.any(Array) });
  });
});

describe("Bedrock's refusals of the model become workflow errors", () => {
  const failing = (name: string, message: string) => {
    const client = {
      send: async () => {
        throw Object.assign(new Error(message), { name, $metadata: { httpStatusCode: name === 'ThrottlingException' ? 429 : 400 } });
      },
    } as unknown as BedrockRuntimeClient;
    return new ConverseAdapter(client, 'model-1').ask(turn, () => expect.fail('no tool call'), () => {}).then(
      () => expect.fail('expected a failure'),
      (err: Error) => err.name,
    );
  };

  it.each([
    ['ResourceNotFoundException', MODEL_REFUSALS.endOfLife, ErrorName.ModelUnavailable],
    ['ValidationException', MODEL_REFUSALS.onDemandUnsupported('amazon.nova-2-lite-v1:0'), ErrorName.ModelUnavailable],
    ['ValidationException', "Invocation of model ID amazon.nova-2-lite-v1:0 with on-demand throughput isn't supported. Retry your request with the ID or ARN of an inference profile that contains this model.", ErrorName.ModelUnavailable],
    ['ValidationException', MODEL_REFUSALS.invalidIdentifier, ErrorName.ModelUnavailable],
    ['ModelTimeoutException', 'The request took too long to process. Processing time exceeded the model timeout length.', ErrorName.ModelTimedOut],
    ['ThrottlingException', 'Too many requests', ErrorName.Throttled],
    // Controls: the same exceptions about something else are the agent's failure, not the model's.
    ['ResourceNotFoundException', 'Failed to retrieve resource because it doesn\u2019t exist.', ErrorName.AgentFailed],
    ['ValidationException', 'A conversation must start with a user message.', ErrorName.AgentFailed],
  ])('%s "%s" is %s', async (name, message, expected) => {
    expect(await failing(name, message)).toBe(expected);
  });
});
