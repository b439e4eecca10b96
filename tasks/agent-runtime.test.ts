import type { BedrockAgentRuntimeClient, InvokeAgentCommand, ResponseStream } from '@aws-sdk/client-bedrock-agent-runtime';
import type { BedrockRuntimeClient, ConverseCommand } from '@aws-sdk/client-bedrock-runtime';
import { describe, expect, it } from 'vitest';
import { BedrockAgentAdapter, ConverseAdapter } from './agent-runtime.ts';

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
