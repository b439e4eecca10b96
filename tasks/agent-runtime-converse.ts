/**
 * The `converse` runtime: the Bedrock Converse API (ConverseStream) with the tool loop here. The only
 * module that imports @aws-sdk/client-bedrock-runtime (tasks/lambda/invoke-agent-converse.ts).
 */
import { BedrockRuntimeClient, ConverseStreamCommand, type ContentBlock, type Message, type Tool } from '@aws-sdk/client-bedrock-runtime';
import type { DocumentType } from '@smithy/types';
import { AGENT_INSTRUCTION, converseToolConfig } from './agent-definition.ts';
import {
  converseRequestMetadata,
  http1,
  MAX_TOOL_ROUNDS,
  tooManyRounds,
  UsageTally,
  type AgentReply,
  type AgentRuntime,
  type AgentRuntimeFactory,
  type AgentTurn,
  type TextSink,
  type ToolCaller,
} from './agent-runtime.ts';
import { sdkConfig } from './config.ts';
import { classifyModelError, ErrorName, WorkflowError } from './errors.ts';
import { readConverseStream, type StreamedMessage } from './converse-stream.ts';

/**
 * The most output tokens one model call may generate (`inferenceConfig.maxTokens`). Without it
 * Bedrock takes the model's maximum (64K for Claude Haiku 4.5) and sets that much aside against the
 * account's tokens-per-minute quota for as long as the call runs: at 5,000,000 tokens a minute, at
 * most 77 calls in flight, whatever their real length (README "Scaling on AWS"). A store
 * assistant's answers and tool calls are a few hundred tokens; an answer cut here ends with
 * stopReason max_tokens and is delivered as far as it got.
 */
export const ANSWER_MAX_TOKENS = 1024;

export class ConverseAdapter implements AgentRuntime {
  readonly memory = 'conversation-table';

  constructor(
    private readonly client: BedrockRuntimeClient,
    private readonly modelId: string,
  ) {}

  /**
   * ConverseStream: each text delta goes to `onText` as it arrives; toolUse blocks are assembled
   * from their deltas and run between rounds. The reply's text is every text delta of the run, so it
   * is exactly what `onText` saw; usage is each round's metadata, summed.
   */
  async ask(turn: AgentTurn, callTool: ToolCaller, onText: TextSink): Promise<AgentReply> {
    const history = turn.history ?? [];
    const messages: Message[] = [...history, { role: 'user', content: [{ text: turn.question }] }];
    const toolConfig = converseToolConfig() as { tools: Tool[] };
    let toolCalls = 0;
    let text = '';
    const usage = new UsageTally();
    for (let round = 0; round <= MAX_TOOL_ROUNDS; round++) {
      let out: StreamedMessage;
      try {
        const response = await this.client.send(
          new ConverseStreamCommand({
            modelId: this.modelId,
            system: [{ text: AGENT_INSTRUCTION }],
            messages,
            toolConfig,
            inferenceConfig: { maxTokens: ANSWER_MAX_TOKENS },
            ...converseRequestMetadata(turn),
          }),
        );
        if (!response.stream) throw new WorkflowError(ErrorName.AgentFailed, 'ConverseStream returned no event stream');
        out = await readConverseStream(response.stream, onText);
      } catch (err) {
        throw classifyModelError(err, 'ConverseStream');
      }
      usage.add(out.usage);
      text += out.text;
      if (out.stopReason === undefined) throw new WorkflowError(ErrorName.AgentFailed, 'ConverseStream ended without messageStop');
      messages.push(out.message);
      const content = out.message.content ?? [];
      if (out.stopReason !== 'tool_use') return { text, toolCalls, ...usage.total, messages: messages.slice(history.length) };
      const results: ContentBlock[] = [];
      for (const block of content) {
        if (!block.toolUse) continue;
        const { toolUseId, name, input } = block.toolUse;
        const params = input && typeof input === 'object' && !Array.isArray(input) ? (input as Record<string, unknown>) : {};
        toolCalls++;
        const body = await callTool(name ?? '', params);
        results.push({ toolResult: { toolUseId, content: [{ json: JSON.parse(body) as DocumentType }], status: 'success' } });
      }
      if (results.length === 0) throw new WorkflowError(ErrorName.AgentFailed, 'ConverseStream stopped for tool use without a toolUse block');
      messages.push({ role: 'user', content: results });
    }
    throw tooManyRounds();
  }
}

export const converseRuntime: AgentRuntimeFactory = {
  kind: 'converse',
  create: (config, clients) => {
    if (!config.modelId) throw new Error('AGENT_RUNTIME=converse needs MODEL_ID');
    return new ConverseAdapter(new BedrockRuntimeClient({ ...sdkConfig(clients), ...http1() }), config.modelId);
  },
};
