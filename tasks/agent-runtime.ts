/**
 * The agent runtime port, and what its two adapters share. Either way the model only proposes tool
 * calls: the invoke-agent task runs every tool itself, with the asker's scoped credentials, and hands
 * back only the result text. The model never receives credentials and never chooses the tenant.
 *
 * - `bedrock-agent` (agent-runtime-bedrock-agent.ts): Bedrock Agents (Classic) InvokeAgent; the
 *   action group returns control for each tool call and the adapter resumes the agent with
 *   returnControlInvocationResults.
 * - `converse` (agent-runtime-converse.ts): the Bedrock Converse API (ConverseStream, so the answer
 *   streams) with a toolConfig from the same tool definitions; the adapter runs the tool loop (for
 *   accounts that cannot create Agents Classic resources).
 *
 * Each adapter's module alone imports its Bedrock client, and each invoke-agent Lambda entry
 * (tasks/lambda/invoke-agent-<runtime>.ts) imports only its runtime's module: a deployment's bundle
 * loads the one client it uses. This module imports neither client (types only).
 */
import type { Message } from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { AgentRuntimeKind, ClientOptions, TaskConfig } from './config.ts';
import { ErrorName, WorkflowError } from './errors.ts';
import type { TokenCounts } from './models.ts';

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
export class UsageTally {
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

export function tooManyRounds(): WorkflowError {
  return new WorkflowError(ErrorName.AgentFailed, `The agent asked for tools more than ${MAX_TOOL_ROUNDS} times without answering.`);
}

/**
 * Bedrock clients default to HTTP/2; InvokeAgent and ConverseStream work over HTTP/1.1 as well, which is
 * what every other client here uses (and what the local edge speaks).
 */
export const http1 = () => ({ requestHandler: new NodeHttpHandler() });

/** One runtime's adapter factory: what an invoke-agent entry chooses, by the runtime it is built for. */
export interface AgentRuntimeFactory {
  readonly kind: AgentRuntimeKind;
  /** The adapter, with clients signed by the invoke-agent role. */
  create(config: TaskConfig, clients: ClientOptions): AgentRuntime;
}

/**
 * The adapter of `factory`, refusing a function whose environment names another runtime: a bundle
 * holds one runtime only, and a deployment that configured the other must fail at once, not answer
 * with the wrong one.
 */
export function agentRuntimeFor(factory: AgentRuntimeFactory, config: TaskConfig, clients: ClientOptions): AgentRuntime {
  if (config.agentRuntime !== factory.kind) {
    throw new Error(`This invoke-agent function runs AGENT_RUNTIME=${factory.kind}; its environment says AGENT_RUNTIME=${config.agentRuntime}`);
  }
  return factory.create(config, clients);
}
