import type { BedrockAgentRuntimeClient, InvokeAgentCommand, ResponseStream } from '@aws-sdk/client-bedrock-agent-runtime';
import type { BedrockRuntimeClient, ConverseCommand } from '@aws-sdk/client-bedrock-runtime';
import { describe, expect, it } from 'vitest';
import { BedrockAgentAdapter, ConverseAdapter } from './agent-runtime.ts';
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

describe('ConverseAdapter', () => {
  it('hands the final message text on as one piece', async () => {
    const client = {
      send: async (_: ConverseCommand) => ({ stopReason: 'end_turn', output: { message: { role: 'assistant', content: [{ text: 'Within ' }, { text: '10 days.' }] } } }),
    } as unknown as BedrockRuntimeClient;
    const pieces: string[] = [];
    const reply = await new ConverseAdapter(client, 'model-1').ask(turn, () => expect.fail('no tool call'), (p) => pieces.push(p));
    expect(pieces).toEqual(['Within 10 days.']);
    expect(reply.text).toBe('Within 10 days.');
  });
});

describe('ConverseAdapter and the conversation memory', () => {
  const history = [
    { role: 'user' as const, content: [{ text: 'Which orders did I place?' }] },
    { role: 'assistant' as const, content: [{ text: 'You have 2 orders:\n- ord-1\n- ord-2' }] },
  ];
  const responses = () => [
    { stopReason: 'tool_use', output: { message: { role: 'assistant', content: [{ toolUse: { toolUseId: 't1', name: 'getOrderStatus', input: { orderId: 'ord-2' } } }] } } },
    { stopReason: 'end_turn', output: { message: { role: 'assistant', content: [{ text: 'Order ord-2 is SHIPPED.' }] } } },
  ];
  const recording = () => {
    const script = responses();
    const sent: ConverseCommand['input'][] = [];
    const client = {
      send: async (command: ConverseCommand) => {
        sent.push(structuredClone(command.input));
        return script.shift() ?? expect.fail('no more responses');
      },
    } as unknown as BedrockRuntimeClient;
    return { client, sent };
  };

  it('sends the history before the question, and returns only this run\'s messages: question, tool use, tool result, answer', async () => {
    const { client, sent } = recording();
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
    const { client, sent } = recording();
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

  it('Converse: sums each round-trip usage', async () => {
    const responses = [
      { stopReason: 'tool_use', usage: { inputTokens: 100, outputTokens: 20, totalTokens: 120 }, output: { message: { role: 'assistant', content: [{ toolUse: { toolUseId: 't1', name: 'getReturnPolicy', input: {} } }] } } },
      { stopReason: 'end_turn', usage: { inputTokens: 150, outputTokens: 8, totalTokens: 158 }, output: { message: { role: 'assistant', content: [{ text: 'Within 10 days.' }] } } },
    ];
    const client = { send: async () => responses.shift() ?? expect.fail('no more responses') } as unknown as BedrockRuntimeClient;
    const reply = await new ConverseAdapter(client, 'model-1').ask(turn, async () => '{"returnPolicyDays":10}', () => {});
    expect(reply).toEqual({ text: 'Within 10 days.', toolCalls: 1, usage: { inputTokens: 250, outputTokens: 28 }, messages: expect.any(Array) });
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
