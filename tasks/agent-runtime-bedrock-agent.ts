/**
 * The `bedrock-agent` runtime: Bedrock Agents (Classic) InvokeAgent with return of control. The only
 * module that imports @aws-sdk/client-bedrock-agent-runtime (tasks/lambda/invoke-agent-bedrock-agent.ts).
 */
import {
  BedrockAgentRuntimeClient,
  InvokeAgentCommand,
  type InvocationResultMember,
  type SessionState,
} from '@aws-sdk/client-bedrock-agent-runtime';
import { ACTION_GROUP } from './agent-definition.ts';
import { MAX_TOOL_ROUNDS, http1, tooManyRounds, UsageTally, type AgentReply, type AgentRuntime, type AgentRuntimeFactory, type AgentTurn, type TextSink, type ToolCaller } from './agent-runtime.ts';
import { sdkConfig } from './config.ts';
import { classifyModelError, ErrorName, WorkflowError } from './errors.ts';

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

export const bedrockAgentRuntime: AgentRuntimeFactory = {
  kind: 'bedrock-agent',
  create: (config, clients) => {
    if (!config.agentId || !config.agentAliasId) throw new Error('AGENT_RUNTIME=bedrock-agent needs AGENT_ID and AGENT_ALIAS_ID');
    return new BedrockAgentAdapter(new BedrockAgentRuntimeClient({ ...sdkConfig(clients), ...http1() }), config.agentId, config.agentAliasId);
  },
};
