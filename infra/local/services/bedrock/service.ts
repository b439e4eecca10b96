/**
 * Bedrock (REST-JSON, signing name `bedrock`): the agent runtime's InvokeAgent, with its
 * event-stream response and return of control, and the runtime's Converse and ConverseStream (its
 * event-stream twin, converse-stream.ts), with tool use. All are served by one deterministic local
 * agent built from the agent definition (local-agent.ts): a stand-in for the model, not the
 * security boundary. Calls are authorised like every stand-in's, with the caller's policies:
 * `bedrock:InvokeAgent` on the agent alias, `bedrock:InvokeModel` (Converse) or
 * `bedrock:InvokeModelWithResponseStream` (ConverseStream) on the model or inference profile. Models follow the models table (tasks/models.ts) on the
 * service's clock: an end-of-life model, a profile-only model called by its bare id and an unknown
 * id are refused as Bedrock refuses them (model-access.ts), for Converse and for the agent's model.
 * Every operation reports token usage (usage.ts).
 *
 * For the workflow's tests it can play a hostile model (`setMode('hostile')`), inject throttling,
 * model timeouts and failures (`injectFault`, faults.ts), move its clock (`setClock`), pace its
 * streams (`setStreamGate`; without a gate the local model is instant), and it keeps
 * a record of calls and of each agent session's turns. It never records credentials, request
 * bodies or tool results.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { ACTION_GROUP, AGENT_IDLE_SESSION_TTL_SECONDS, type ToolName } from '../../../../tasks/agent-definition.ts';
import type { AwsLocation } from '../../../../tasks/aws-location.ts';
import { AwsError, parseJsonBody, type Protocol, type WireResponse } from '../../edge/aws-error.ts';
import type { EdgeCall } from '../../edge/edge.ts';
import type { Logger } from '../../edge/log.ts';
import { optionalArray, optionalObject, optionalString, optionalStringMap, requiredString, validationError } from '../../edge/wire.ts';
import { accessDenied, type PolicyEvaluator } from '../../iam/evaluator.ts';
import {
  AgentInputError,
  LocalAgent,
  type AgentMode,
  type AgentStep,
  type HostileInjection,
  type PlannedCall,
  type PriorTurn,
  type ToolExchange,
} from './local-agent.ts';
import { LOCAL_AGENT_ALIAS_ID, LOCAL_AGENT_ID, LOCAL_MODEL_ID, type Principal } from '../../iam/principals.ts';
import { MODEL_REFUSALS, modelResourceArn } from '../../../../tasks/models.ts';
import { offeredTools, readConversation, readMaxTokens, readRequestMetadata } from './converse.ts';
import { checkFault, faultApplies, faultError, type BedrockFault, type BedrockOperation } from './faults.ts';
import { requireAvailableModel } from './model-access.ts';
import { agentStepUsage, approxTokens, CHARS_PER_TOKEN } from './usage.ts';
import { eventMessage, eventStreamResponse, exceptionMessage, streamPieces, type StreamGate, type StreamMessage } from './event-stream.ts';
import { matchResults, returnControlPayload } from './return-control.ts';
import { AgentSessions } from './sessions.ts';
import { BedrockControlPlane, type ModelAccess } from './control-plane.ts';
import { converseStreamEvents, converseStreamResponse, EVENTS_BEFORE_STREAM_FAULT, type ConverseReply } from './converse-stream.ts';

export const BEDROCK_PROTOCOL: Protocol = { kind: 'rest-json' };

export type { BedrockFault, BedrockOperation } from './faults.ts';

export interface BedrockCallRecord {
  operation: BedrockOperation;
  principalArn: string;
  sessionId?: string;
  /** InvokeAgent's sessionState.sessionAttributes, credential-like values redacted. */
  sessionAttributes?: Record<string, string>;
  promptSessionAttributes?: Record<string, string>;
  /** InvokeAgent: the call carried returnControlInvocationResults. Converse: it carried toolResults. */
  resumed: boolean;
  /** `chunk`, `returnControl`, `tool_use`, `end_turn`, or the error code. */
  outcome: string;
  /** Converse `tool_use`: the tool calls the model asked for, as an agent session's rounds keep them. */
  toolCalls?: { name: ToolName; input: Record<string, string> }[];
  /** Converse: the requestMetadata the call carried (model invocation logs record it). */
  requestMetadata?: Record<string, string>;
}

export interface AgentTurn {
  question: string;
  /** The tool calls of each round, as the agent asked for them. */
  rounds: { name: ToolName; input: Record<string, string> }[][];
  answer: string;
}

export interface AgentSessionView {
  sessionId: string;
  turns: AgentTurn[];
  /** A return of control waiting for its results. */
  pending?: { invocationId: string; question: string; functions: ToolName[] };
}

export interface BedrockServiceOptions {
  location: AwsLocation;
  evaluator: PolicyEvaluator;
  /** The agent and alias served. @default LOCAL_AGENT_ID, LOCAL_AGENT_ALIAS_ID */
  agentId?: string;
  agentAliasId?: string;
  /** The agent's foundation model (id or inference profile id), as its agent definition names it. @default LOCAL_MODEL_ID */
  modelId?: string;
  /** The date models' lifecycles are read on (tasks/models.ts). @default real time */
  clock?: () => Date;
  mode?: AgentMode;
  injection?: Partial<HostileInjection>;
  logger?: Logger;
  /** Agent sessions kept at most (least recently used dropped). @default 10000 */
  maxSessions?: number;
  /** How long an idle agent session is kept (the agent's idleSessionTTLInSeconds). @default AGENT_IDLE_SESSION_TTL_SECONDS */
  idleSessionTtlSeconds?: number;
  /**
   * The agent exists as an Agents Classic resource of the account (the bedrock-agent runtime), so
   * ListAgents lists it. @default true
   */
  agentListed?: boolean;
}

interface PendingInvocation {
  invocationId: string;
  question: string;
  rounds: ToolExchange[][];
  calls: PlannedCall[];
}

interface AgentSession {
  turns: AgentTurn[];
  pending?: PendingInvocation;
}

type Json = Record<string, unknown>;

const MAX_CALL_RECORDS = 1000;
const MAX_TURNS = 50;
const MAX_INPUT_TEXT = 25_000;
const SESSION_ID = /^[0-9a-zA-Z._:-]{2,100}$/;
const AGENT_ID = /^[0-9a-zA-Z]{10}$/;
const ALIAS_ID = /^[0-9a-zA-Z]{1,10}$/;
const MODEL_ID = /^[\w.:/-]{1,2048}$/;
const CREDENTIAL_KEY = /secret|token|password|credential|accesskey|session.?key/i;

function redact(attrs: Record<string, string> | undefined): Record<string, string> | undefined {
  if (!attrs) return undefined;
  return Object.fromEntries(Object.entries(attrs).map(([k, v]) => [k, CREDENTIAL_KEY.test(k) ? '[redacted]' : v]));
}

export class BedrockService {
  readonly protocol = BEDROCK_PROTOCOL;
  readonly agent: LocalAgent;
  readonly agentId: string;
  readonly agentAliasId: string;
  readonly modelId: string;
  private readonly sessions: AgentSessions<AgentSession>;
  private readonly faults: (BedrockFault & { remaining: number })[] = [];
  private readonly records: BedrockCallRecord[] = [];
  private clock: () => Date;
  private streamGate: StreamGate | undefined;
  private readonly controlPlane: BedrockControlPlane;

  constructor(private readonly options: BedrockServiceOptions) {
    this.agentId = options.agentId ?? LOCAL_AGENT_ID;
    this.agentAliasId = options.agentAliasId ?? LOCAL_AGENT_ALIAS_ID;
    this.modelId = options.modelId ?? LOCAL_MODEL_ID;
    this.clock = options.clock ?? (() => new Date());
    this.sessions = new AgentSessions((options.idleSessionTtlSeconds ?? AGENT_IDLE_SESSION_TTL_SECONDS) * 1000, options.maxSessions ?? 10_000, () => this.clock());
    this.controlPlane = new BedrockControlPlane(options.location, () => this.clock());
    this.controlPlane.setListedAgent(options.agentListed === false ? undefined : this.agentId);
    this.agent = new LocalAgent({ ...(options.mode ? { mode: options.mode } : {}), ...(options.injection ? { injection: options.injection } : {}) });
  }

  // ----- test controls -----

  /** `hostile`: every question becomes tool calls with injected parameters, and a raw-data answer. */
  setMode(mode: AgentMode, injection?: Partial<HostileInjection>): void {
    this.agent.setMode(mode, injection);
  }

  get mode(): AgentMode {
    return this.agent.mode;
  }

  injectFault(fault: BedrockFault): void {
    checkFault(fault);
    this.faults.push({ ...fault, remaining: fault.times ?? 1 });
  }

  /** Whether the agent is an Agents Classic resource of the account (ListAgents lists it). */
  setAgentListed(listed: boolean): void {
    this.controlPlane.setListedAgent(listed ? this.agentId : undefined);
  }

  /** The date models' lifecycles are read on; undefined restores real time. */
  setClock(clock: (() => Date) | undefined): void {
    this.clock = clock ?? (() => new Date());
  }

  /**
   * Paces the answer text of InvokeAgent and ConverseStream streams: `gate(n)` is awaited before
   * the n-th piece of a response is written. Undefined: the local model is instant again.
   */
  setStreamGate(gate: StreamGate | undefined): void {
    this.streamGate = gate;
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  /**
   * The account's access to a model (a base model id), as GetFoundationModelAvailability reports it;
   * without access every invocation of the model is refused. Undefined restores the default (granted).
   */
  setModelAccess(modelId: string, access: Partial<ModelAccess> | undefined): void {
    this.controlPlane.setModelAccess(modelId, access);
  }

  /** Calls that reached the service (after the edge verified their signature), oldest first. */
  calls(operation?: BedrockOperation): readonly BedrockCallRecord[] {
    const all = this.records.map((r) => structuredClone(r));
    return operation ? all.filter((r) => r.operation === operation) : all;
  }

  lastCall(operation?: BedrockOperation): BedrockCallRecord | undefined {
    return this.calls(operation).at(-1);
  }

  /** An agent session's turns and pending return of control; undefined if there is none. */
  session(sessionId: string): AgentSessionView | undefined {
    const s = this.sessions.get(sessionId);
    if (!s) return undefined;
    return {
      sessionId,
      turns: structuredClone(s.turns),
      ...(s.pending
        ? { pending: { invocationId: s.pending.invocationId, question: s.pending.question, functions: s.pending.calls.map((c) => c.name) } }
        : {}),
    };
  }

  reset(): void {
    this.sessions.clear();
    this.records.length = 0;
    this.clearFaults();
    this.streamGate = undefined;
    this.agent.setMode('normal');
  }

  agentAliasArn(agentId = this.agentId, agentAliasId = this.agentAliasId): string {
    const { partition, region, accountId } = this.options.location;
    return `arn:${partition}:bedrock:${region}:${accountId}:agent-alias/${agentId}/${agentAliasId}`;
  }

  /** What `bedrock:InvokeModel` is authorised on for a call naming `modelId` (a model's or an inference profile's ARN). */
  modelArn(modelId = this.modelId): string {
    return modelResourceArn(modelId, this.options.location);
  }

  // ----- the wire -----

  async handle(call: EdgeCall): Promise<WireResponse> {
    const rawPath = call.path.split('?')[0] ?? '';
    let segments: string[];
    try {
      segments = rawPath.split('/').slice(1).map(decodeURIComponent);
    } catch {
      throw new AwsError('ValidationException', 'The request path is not valid percent-encoding.');
    }
    if (call.method === 'POST' && segments.length === 7 && segments[0] === 'agents' && segments[2] === 'agentAliases' && segments[4] === 'sessions' && segments[6] === 'text') {
      return this.invokeAgent(call, segments[1]!, segments[3]!, segments[5]!);
    }
    if (call.method === 'POST' && segments.length === 3 && segments[0] === 'model' && segments[2] === 'converse') {
      return this.converse(call, segments[1]!, 'Converse');
    }
    if (call.method === 'POST' && segments.length === 3 && segments[0] === 'model' && segments[2] === 'converse-stream') {
      return this.converse(call, segments[1]!, 'ConverseStream');
    }
    // The control plane (control-plane.ts): what `npm run preflight` reads.
    const control = await this.controlPlane.route(call.method, segments, (action, resource) => this.authorize(call.principal, action, resource));
    if (control) return control;
    throw new AwsError('UnknownOperationException', `The local Bedrock has no operation ${call.method} ${rawPath}.`, 404);
  }

  private async authorize(principal: Principal, action: string, resource: string): Promise<void> {
    const req = { principal, action, resource };
    const decision = await this.options.evaluator.evaluate(req);
    if (!decision.allowed) {
      const denied = accessDenied(req, decision);
      throw new AwsError(denied.code, denied.message, 403);
    }
  }

  private takeFault(operation: BedrockOperation): BedrockFault | undefined {
    const i = this.faults.findIndex((f) => faultApplies(f, operation));
    if (i < 0) return undefined;
    const fault = this.faults[i]!;
    if (--fault.remaining <= 0) this.faults.splice(i, 1);
    return fault;
  }

  private record(rec: BedrockCallRecord): void {
    this.records.push(rec);
    if (this.records.length > MAX_CALL_RECORDS) this.records.shift();
    this.options.logger?.log('debug', 'bedrock.call', { operation: rec.operation, sessionId: rec.sessionId, resumed: rec.resumed, outcome: rec.outcome });
  }

  // ----- InvokeAgent -----

  private async invokeAgent(call: EdgeCall, agentId: string, agentAliasId: string, sessionId: string): Promise<WireResponse> {
    const rec: BedrockCallRecord = { operation: 'InvokeAgent', principalArn: call.principal.arn, sessionId, resumed: false, outcome: '' };
    try {
      // The path's members are quoted back, cut short: the message must stay small whatever the path.
      if (!AGENT_ID.test(agentId)) throw validationError('agentId', 'satisfy regular expression pattern: [0-9a-zA-Z]{10}', { value: agentId.slice(0, 64) });
      if (!ALIAS_ID.test(agentAliasId)) throw validationError('agentAliasId', 'satisfy regular expression pattern: [0-9a-zA-Z]{1,10}', { value: agentAliasId.slice(0, 64) });
      if (!SESSION_ID.test(sessionId)) {
        throw validationError('sessionId', 'satisfy regular expression pattern: [0-9a-zA-Z._:-]+ and have length between 2 and 100', { value: sessionId.slice(0, 64) });
      }
      await this.authorize(call.principal, 'bedrock:InvokeAgent', this.agentAliasArn(agentId, agentAliasId));
      if (agentId !== this.agentId) throw new AwsError('ResourceNotFoundException', `Failed to retrieve resource because it doesn't exist. Agent ${agentId} was not found.`, 404);
      if (agentAliasId !== this.agentAliasId) throw new AwsError('ResourceNotFoundException', `Failed to retrieve resource because it doesn't exist. Alias ${agentAliasId} of agent ${agentId} was not found.`, 404);
      const agentModel = requireAvailableModel(this.modelId, this.options.location.region, this.clock());
      this.controlPlane.requireAccess(agentModel.model.modelId);

      const input = parseJsonBody(call.body);
      const state = optionalObject(input, 'sessionState') ?? {};
      const sessionAttributes = optionalStringMap(state, 'sessionAttributes');
      const promptSessionAttributes = optionalStringMap(state, 'promptSessionAttributes');
      if (sessionAttributes) rec.sessionAttributes = redact(sessionAttributes)!;
      if (promptSessionAttributes) rec.promptSessionAttributes = redact(promptSessionAttributes)!;
      const results = optionalArray(state, 'returnControlInvocationResults') ?? [];
      rec.resumed = results.length > 0;

      const fault = this.takeFault('InvokeAgent');
      if (fault && fault.at === 'stream') {
        const error = faultError(fault);
        rec.outcome = error.code;
        return eventStreamResponse(sessionId, [{ bytes: exceptionMessage(error) }]);
      }
      if (fault) throw faultError(fault);

      let question: string;
      let rounds: ToolExchange[][];
      if (rec.resumed) {
        const pending = this.sessions.get(sessionId)?.pending;
        if (!pending) throw new AwsError('ValidationException', `Session ${sessionId} has no pending return of control; returnControlInvocationResults cannot be accepted.`);
        if (optionalString(state, 'invocationId') !== pending.invocationId) {
          throw new AwsError('ValidationException', `The invocationId in sessionState does not match the pending invocation of session ${sessionId}.`);
        }
        question = pending.question;
        rounds = [...pending.rounds, matchResults(pending.calls, results)];
      } else {
        if (optionalString(state, 'invocationId') !== undefined) {
          throw new AwsError('ValidationException', 'sessionState.invocationId is set but sessionState.returnControlInvocationResults is empty.');
        }
        // inputText is sensitive: AWS never quotes it back.
        const text = requiredString(input, 'inputText');
        if (text.trim().length === 0) throw validationError('inputText', 'not be null');
        if (text.length > MAX_INPUT_TEXT) throw validationError('inputText', `have length less than or equal to ${MAX_INPUT_TEXT}`);
        question = text;
        rounds = [];
      }

      // Refused results leave the pending invocation as it was, so that a corrected call can follow.
      // The agent reads the session's earlier turns: Bedrock agents keep a session's conversation.
      const step = this.runAgent(question, rounds, this.sessions.get(sessionId)?.turns ?? []);
      // The results are consumed; a new question replaces a return of control never answered.
      const session = this.sessions.touch(sessionId, () => ({ turns: [] }));
      session.pending = undefined;
      const events: StreamMessage[] = [];
      if (input.enableTrace === true) for (const trace of this.traces(sessionId, question, rounds, step)) events.push({ bytes: eventMessage('trace', trace) });
      if (step.kind === 'tools') {
        const invocationId = randomUUID();
        session.pending = { invocationId, question, rounds, calls: step.calls };
        events.push({ bytes: eventMessage('returnControl', returnControlPayload(this.agentId, invocationId, step.calls)) });
        rec.outcome = 'returnControl';
      } else {
        session.turns.push({ question, rounds: rounds.map((r) => r.map((e) => ({ name: e.name, input: stringInputs(e.input) }))), answer: step.text });
        if (session.turns.length > MAX_TURNS) session.turns.shift();
        // With streamingConfigurations.streamFinalResponse the answer arrives in pieces, else in one chunk.
        const streaming = (input.streamingConfigurations as Json | undefined)?.streamFinalResponse === true;
        for (const piece of streaming ? streamPieces(step.text) : [step.text]) {
          events.push({ bytes: eventMessage('chunk', { bytes: Buffer.from(piece, 'utf8').toString('base64') }), piece: true });
        }
        rec.outcome = 'chunk';
      }
      if (input.endSession === true) this.sessions.delete(sessionId);
      return eventStreamResponse(sessionId, events, this.streamGate);
    } catch (err) {
      rec.outcome = err instanceof AwsError ? err.code : 'InternalFailure';
      throw err;
    } finally {
      this.record(rec);
    }
  }

  private runAgent(question: string, rounds: ToolExchange[][], history: readonly PriorTurn[]): AgentStep {
    try {
      return this.agent.step(question, rounds, history);
    } catch (err) {
      if (err instanceof AgentInputError) throw new AwsError('ValidationException', err.message);
      throw err;
    }
  }

  /** The orchestration step's trace parts: the model's output with its token usage, then the rationale. */
  private traces(sessionId: string, question: string, rounds: ToolExchange[][], step: AgentStep) {
    const text =
      step.kind === 'tools'
        ? `The question needs the ${step.calls.map((c) => c.name).join(', ')} function(s) of ${ACTION_GROUP}.`
        : 'The question can be answered from what is known.';
    const traceId = randomUUID();
    const part = (orchestrationTrace: Json) => ({ agentId: this.agentId, agentAliasId: this.agentAliasId, agentVersion: '1', sessionId, trace: { orchestrationTrace } });
    return [
      part({ modelInvocationOutput: { traceId, metadata: { usage: agentStepUsage(question, rounds, step) } } }),
      part({ rationale: { traceId, text } }),
    ];
  }

  // ----- Converse and ConverseStream -----

  /**
   * One reply of the local model to a Converse request: Converse answers it as one JSON document,
   * ConverseStream as events (converse-stream.ts). The same refusals come first, as HTTP errors.
   */
  private async converse(call: EdgeCall, modelId: string, operation: 'Converse' | 'ConverseStream'): Promise<WireResponse> {
    const started = performance.now();
    const rec: BedrockCallRecord = { operation, principalArn: call.principal.arn, resumed: false, outcome: '' };
    try {
      if (!MODEL_ID.test(modelId)) throw new AwsError('ValidationException', MODEL_REFUSALS.invalidIdentifier);
      // ConverseStream is authorised as bedrock:InvokeModelWithResponseStream, Converse as bedrock:InvokeModel.
      await this.authorize(call.principal, operation === 'Converse' ? 'bedrock:InvokeModel' : 'bedrock:InvokeModelWithResponseStream', this.modelArn(modelId));
      const model = requireAvailableModel(modelId, this.options.location.region, this.clock());
      this.controlPlane.requireAccess(model.model.modelId);

      const input = parseJsonBody(call.body);
      const requestMetadata = readRequestMetadata(input);
      if (requestMetadata) rec.requestMetadata = requestMetadata;
      const { history, question, rounds, resumed, toolBlocks } = readConversation(input);
      rec.resumed = resumed;
      const offered = offeredTools(input, toolBlocks);
      const maxTokens = readMaxTokens(input);

      const fault = this.takeFault(operation);
      if (fault && fault.at !== 'stream') throw faultError(fault);

      const step = this.runAgent(question, rounds, history);
      let content: Json[];
      if (step.kind === 'tools') {
        const missing = step.calls.map((c) => c.name).filter((n) => !offered.has(n));
        if (missing.length > 0) throw new AwsError('ValidationException', `The local model needs these tools in toolConfig: ${[...new Set(missing)].join(', ')}.`);
        content = step.calls.map((c) => ({ toolUse: { toolUseId: `tooluse_${randomBytes(16).toString('base64url').slice(0, 22)}`, name: c.name, input: c.input } }));
        rec.outcome = 'tool_use';
        rec.toolCalls = step.calls.map((c) => ({ name: c.name, input: { ...c.input } }));
      } else if (maxTokens !== undefined && approxTokens(step.text) > maxTokens) {
        // The answer is cut where the model would stop generating: stopReason max_tokens.
        content = [{ text: step.text.slice(0, maxTokens * CHARS_PER_TOKEN) }];
        rec.outcome = 'max_tokens';
      } else {
        content = [{ text: step.text }];
        rec.outcome = 'end_turn';
      }
      // What the model reads: the system prompt, the conversation and the tool specifications.
      const inputTokens = approxTokens(JSON.stringify(input.system ?? []) + JSON.stringify(input.messages ?? []) + JSON.stringify(input.toolConfig ?? {}));
      const outputTokens = rec.outcome === 'max_tokens' && maxTokens !== undefined ? maxTokens : approxTokens(JSON.stringify(content));
      const reply: ConverseReply = {
        content,
        stopReason: rec.outcome,
        usage: { inputTokens, outputTokens, totalTokens: inputTokens + outputTokens },
        latencyMs: Math.max(1, Math.round(performance.now() - started)),
      };
      if (operation === 'ConverseStream') {
        const events = converseStreamEvents(reply);
        if (!fault) return converseStreamResponse(events, this.streamGate);
        // A stream fault: the 200 and the stream's first events are out, then the exception event.
        const error = faultError(fault);
        rec.outcome = error.code;
        return converseStreamResponse([...events.slice(0, EVENTS_BEFORE_STREAM_FAULT), { bytes: exceptionMessage(error) }], this.streamGate);
      }
      const payload = {
        output: { message: { role: 'assistant', content } },
        stopReason: reply.stopReason,
        usage: reply.usage,
        metrics: { latencyMs: reply.latencyMs },
      };
      return { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload) };
    } catch (err) {
      rec.outcome = err instanceof AwsError ? err.code : 'InternalFailure';
      throw err;
    } finally {
      this.record(rec);
    }
  }
}

function stringInputs(input: Readonly<Record<string, unknown>>): Record<string, string> {
  return Object.fromEntries(Object.entries(input).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
}
