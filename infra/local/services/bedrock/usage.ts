/**
 * Token usage as the local Bedrock reports it: Converse's `usage` and InvokeAgent's trace
 * (orchestrationTrace.modelInvocationOutput.metadata.usage), counted from the text each model step
 * reads and writes. Real counts are model-specific (Bedrock's CountTokens); the stand-in estimates
 * four characters per token, the common rule of thumb for English text, and says so.
 */
import { AGENT_INSTRUCTION, TOOLS } from '../../../../tasks/agent-definition.ts';
import type { AgentStep, ToolExchange } from './local-agent.ts';

export const CHARS_PER_TOKEN = 4;

export function approxTokens(text: string): number {
  return Math.ceil(text.length / CHARS_PER_TOKEN);
}

export interface StepUsage {
  inputTokens: number;
  outputTokens: number;
}

/**
 * One orchestration step of the agent: its prompt is the instruction, the action group's
 * functions, the question and every tool call and result so far; its output the tool calls it asks
 * for, or the answer.
 */
export function agentStepUsage(question: string, rounds: readonly (readonly ToolExchange[])[], step: AgentStep): StepUsage {
  const history = rounds.flat().map((e) => `${e.name} ${JSON.stringify(e.input)}\n${e.result}`);
  const prompt = [AGENT_INSTRUCTION, JSON.stringify(TOOLS), question, ...history].join('\n');
  const output = step.kind === 'tools' ? JSON.stringify(step.calls) : step.text;
  return { inputTokens: approxTokens(prompt), outputTokens: approxTokens(output) };
}
