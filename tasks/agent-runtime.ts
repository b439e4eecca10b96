/**
 * The agent runtime port and its two adapters. Either way the model only proposes tool calls: the
 * invoke-agent task runs every tool itself, with the asker's scoped credentials, and hands back
 * only the result text. The model never receives credentials and never chooses the tenant.
 *
 * - `bedrock-agent`: Bedrock Agents (Classic) InvokeAgent; the action group returns control for
 *   each tool call and the adapter resumes the agent with returnControlInvocationResults.
 * - `converse`: the Bedrock Converse API (ConverseStream, so the answer streams) with a toolConfig
 *   from the same tool definitions; the adapter runs the tool loop (for accounts that cannot create
 *   Agents Classic resources).
 */
import {
  BedrockAgentRuntimeClient,
  InvokeAgentCommand,
  type InvocationResultMember,
  type SessionState,
} from '@aws-sdk/client-bedrock-agent-runtime';
import {
  BedrockRuntimeClient,
  ConverseStreamCommand,
  type ContentBlock,
  type Message,
  type Tool,
} from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { DocumentType } from '@smithy/types';
import { ACTION_GROUP, AGENT_INSTRUCTION, converseToolConfig } from './agent-definition.ts';
import { sdkConfig, type AgentRuntimeKind, type ClientOptions, type TaskConfig } from './config.ts';
import { classifyModelError, ErrorName, WorkflowError } from './errors.ts';
import type { TokenCounts } from './models.ts';
import { readConverseStream, type StreamedMessage } from './converse-stream.ts';

export interface AgentTurn {
  /** Derived server-side by ValidateContext. */
  sessionId: string;
  question: string;
  /** Identity for the agent's own bookkeeping (tenantId, userId): never credentials. */
  sessionAttributes: Record<string, string>;
  /**
   * The conversation so far, for a runtime whose memory is the conversations table (`converse`):
   * whole turns, oldest first, starting with a user message (tasks/conversation-memory.ts).
   */
  history?: Message[];
}

/** Runs one tool with the asker's scoped credentials; returns the result as JSON text. */
export type ToolCaller = (name: string, params: Record<string, unknown>) => Promise<string>;

/** Receives the answer's text as the model produces it; the pieces joined are the reply's text. */
export type TextSink = (piece: string) => void;

export interface AgentReply {
  text: string;
  toolCalls: number;
  /**
   * The model's tokens over every call of the run, as Bedrock reported them (ConverseStream's metadata `usage`,
   * InvokeAgent's trace `modelInvocationOutput.metadata.usage`); absent when it reported none.
   */
  usage?: TokenCounts;
  /** `converse`: this run's messages, the question first and the final answer last, for the conversation memory. */
  messages?: Message[];
}

/** Sums the usage Bedrock reports call by call; `total` is undefined until a report arrives. */
class UsageTally {
  private counts: TokenCounts | undefined;

  add(usage: { inputTokens?: number | undefined; outputTokens?: number | undefined } | undefined): void {
    if (!usage) return;
    this.counts = {
      inputTokens: (this.counts?.inputTokens ?? 0) + (usage.inputTokens ?? 0),
      outputTokens: (this.counts?.outputTokens ?? 0) + (usage.outputTokens ?? 0),
    };
  }

  get total(): { usage?: TokenCounts } {
    return this.counts ? { usage: this.counts } : {};
  }
}

export interface AgentRuntime {
  /**
   * Where the conversation's earlier turns live: in the agent's session (Bedrock agents keep a
   * session's turns by sessionId), or in our conversations table, which invoke-agent reads into
   * `history` and writes from `messages` (Converse is stateless).
   */
  readonly memory: 'agent-session' | 'conversation-table';
  /** `onText` sees every piece of the reply's text, in order, as soon as the runtime has it. */
  ask(turn: AgentTurn, callTool: ToolCaller, onText: TextSink): Promise<AgentReply>;
}

/**
 * What every Converse call carries as `requestMetadata`: the asker's tenant id, so that model
 * invocation logs attribute each call's tokens to a tenant (README, "Metering"). From the validated
 * state (sessionAttributes), never from the model; a tenant id (a slug) meets Bedrock's pattern.
 * Not the user id: invocation logs need not hold who asked.
 */
export function converseRequestMetadata(turn: AgentTurn): { requestMetadata?: Record<string, string> } {
  const tenantId = turn.sessionAttributes.tenantId;
  return tenantId ? { requestMetadata: { tenantId } } : {};
}

/** A model that keeps asking for tools is stopped: it is a defect or an attack, not an answer. */
export const MAX_TOOL_ROUNDS = 8;

function tooManyRounds(): WorkflowError {
  return new WorkflowError(ErrorName.AgentFailed, `The agent asked for tools more than ${MAX_TOOL_ROUNDS} times without answering.`);
}

export class BedrockAgentAdapter implements AgentRuntime {
  readonly memory = 'agent-session';

  constructor(
    private readonly client: BedrockAgentRuntimeClient,
    private readonly agentId: string,
    private readonly agentAliasId: string,
  ) {}

  /**
   * The final response is streamed (`streamFinalResponse`): each chunk goes to `onText` as it
   * arrives. The reply's text is every chunk of the run, so it is exactly what `onText` saw. The
   * trace is on (`enableTrace`) for the model's token usage; nothing else of it is kept.
   */
  async ask(turn: AgentTurn, callTool: ToolCaller, onText: TextSink): Promise<AgentReply> {
    let sessionState: SessionState = { sessionAttributes: turn.sessionAttributes };
    let inputText: string | undefined = turn.question;
    let toolCalls = 0;
    let text = '';
    const usage = new UsageTally();
    // One decoder for the run: a character may be split across two chunks' bytes.
    const decoder = new TextDecoder();
    for (let round = 0; round <= MAX_TOOL_ROUNDS; round++) {
      let control: { invocationId?: string; inputs: InvocationResultMember[] } | undefined;
      try {
        const response = await this.client.send(
          new InvokeAgentCommand({
            agentId: this.agentId,
            agentAliasId: this.agentAliasId,
            sessionId: turn.sessionId,
            ...(inputText !== undefined ? { inputText } : {}),
            sessionState,
            streamingConfigurations: { streamFinalResponse: true },
            enableTrace: true,
          }),
        );
        if (!response.completion) throw new WorkflowError(ErrorName.AgentFailed, 'InvokeAgent returned no event stream');
        for await (const event of response.completion) {
          usage.add(event.trace?.trace?.orchestrationTrace?.modelInvocationOutput?.metadata?.usage);
          if (event.chunk?.bytes) {
            const piece = decoder.decode(event.chunk.bytes, { stream: true });
            text += piece;
            if (piece) onText(piece);
          }
          if (event.returnControl) {
            const results: InvocationResultMember[] = [];
            for (const input of event.returnControl.invocationInputs ?? []) {
              const fn = input.functionInvocationInput;
              if (!fn?.function) throw new WorkflowError(ErrorName.AgentFailed, 'The agent returned control without a function call');
              const params = Object.fromEntries((fn.parameters ?? []).map((p) => [p.name ?? '', p.value ?? '']));
              toolCalls++;
              const body = await callTool(fn.function, params);
              results.push({
                functionResult: { actionGroup: fn.actionGroup ?? ACTION_GROUP, function: fn.function, responseBody: { TEXT: { body } } },
              });
            }
            control = { invocationId: event.returnControl.invocationId, inputs: results };
          }
        }
      } catch (err) {
        throw classifyModelError(err, 'InvokeAgent');
      }
      if (!control) {
        const rest = decoder.decode();
        text += rest;
        if (rest) onText(rest);
        return { text, toolCalls, ...usage.total };
      }
      sessionState = {
        sessionAttributes: turn.sessionAttributes,
        invocationId: control.invocationId,
        returnControlInvocationResults: control.inputs,
      };
      inputText = undefined;
    }
    throw tooManyRounds();
  }
}

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
          new ConverseStreamCommand({ modelId: this.modelId, system: [{ text: AGENT_INSTRUCTION }], messages, toolConfig, ...converseRequestMetadata(turn) }),
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

/**
 * Bedrock clients default to HTTP/2; InvokeAgent and ConverseStream work over HTTP/1.1 as well, which is
 * what every other client here uses (and what the local edge speaks).
 */
const http1 = () => ({ requestHandler: new NodeHttpHandler() });

/** Each runtime's adapter, keyed by kind: a new runtime cannot compile into another's adapter. */
const ADAPTERS: Record<AgentRuntimeKind, (config: TaskConfig, clients: ClientOptions) => AgentRuntime> = {
  'bedrock-agent': (config, clients) => {
    if (!config.agentId || !config.agentAliasId) throw new Error('AGENT_RUNTIME=bedrock-agent needs AGENT_ID and AGENT_ALIAS_ID');
    return new BedrockAgentAdapter(new BedrockAgentRuntimeClient({ ...sdkConfig(clients), ...http1() }), config.agentId, config.agentAliasId);
  },
  converse: (config, clients) => {
    if (!config.modelId) throw new Error('AGENT_RUNTIME=converse needs MODEL_ID');
    return new ConverseAdapter(new BedrockRuntimeClient({ ...sdkConfig(clients), ...http1() }), config.modelId);
  },
};

/** The configured adapter, with clients signed by the invoke-agent role. */
export function agentRuntimeFor(config: TaskConfig, clients: ClientOptions): AgentRuntime {
  return ADAPTERS[config.agentRuntime](config, clients);
}
