/**
 * Reading a Converse request for the local agent: the earlier turns of the conversation (each
 * question and the answer text that closed it), the question, the rounds of tool use that
 * followed it (each an assistant message of toolUse blocks answered by a user message of
 * toolResult blocks), and the tools the caller offers in toolConfig. Converse is stateless: the
 * whole conversation travels in every request, so this is all the agent knows of it.
 */
import { toolDefinition, type ToolName } from '../../../../tasks/agent-definition.ts';
import { AwsError } from '../../edge/aws-error.ts';
import { optionalArray, optionalObject, optionalString, serializationError, validationError, type Fields } from '../../edge/wire.ts';
import type { PriorTurn, ToolExchange } from './local-agent.ts';

type Json = Record<string, unknown>;

export interface Conversation {
  /** The turns before the question, oldest first. */
  history: PriorTurn[];
  question: string;
  rounds: ToolExchange[][];
  /** The request carried tool results (it continues a tool loop). */
  resumed: boolean;
  /** Some message, earlier turns included, holds toolUse or toolResult blocks: toolConfig is required. */
  toolBlocks: boolean;
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function readMessage(value: unknown, i: number): { role: 'user' | 'assistant'; blocks: Json[] } {
  const where = `messages.${i}.member`;
  if (!isObject(value)) throw serializationError(`messages.${i}`, 'an object');
  const role = optionalString(value, 'role');
  if (role === undefined) throw validationError(`${where}.role`, 'not be null', { value: null });
  if (role !== 'user' && role !== 'assistant') throw validationError(`${where}.role`, 'satisfy enum value set: [user, assistant]', { value: role });
  const content = optionalArray(value, 'content');
  if (content === undefined) throw validationError(`${where}.content`, 'not be null', { value: null });
  if (content.length === 0) throw validationError(`${where}.content`, 'have length greater than or equal to 1');
  if (!content.every(isObject)) throw serializationError(`${where}.content`, 'a list of content blocks');
  return { role, blocks: content };
}

function toolResultText(block: Json, where: string): string {
  const content = block.content;
  if (!Array.isArray(content) || content.length === 0) throw new AwsError('ValidationException', `${where}.toolResult.content must not be empty.`);
  const parts = content.map((c, j) => {
    if (isObject(c) && c.json !== undefined) return JSON.stringify(c.json);
    if (isObject(c) && typeof c.text === 'string') return c.text;
    throw new AwsError('ValidationException', `${where}.toolResult.content.${j}: the local model reads json and text tool results only.`);
  });
  return parts.join('\n');
}

/**
 * The question (the last user message with text and no tool results) and the rounds of tool use
 * that followed it: each an assistant message of toolUse blocks and a user message with a
 * toolResult for every one of them.
 */
export function readConversation(input: Fields): Conversation {
  const value = optionalArray(input, 'messages');
  if (value === undefined || value.length === 0) throw validationError('messages', 'have length greater than or equal to 1');
  const messages = value.map(readMessage);
  if (messages[0]!.role !== 'user') {
    throw new AwsError('ValidationException', 'A conversation must start with a user message. Try again with a conversation that starts with a user message.');
  }
  for (let i = 1; i < messages.length; i++) {
    if (messages[i]!.role === messages[i - 1]!.role) {
      throw new AwsError('ValidationException', 'A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.');
    }
  }
  if (messages.at(-1)!.role !== 'user') throw new AwsError('ValidationException', 'The local model needs the conversation to end with a user message.');
  // Anywhere in the conversation, an assistant's toolUse blocks are answered in the next message.
  for (let i = 0; i < messages.length; i++) {
    const ids = messages[i]!.blocks.flatMap((b) => (isObject(b.toolUse) ? [String(b.toolUse.toolUseId)] : []));
    if (ids.length === 0) continue;
    const answered = new Set((messages[i + 1]?.blocks ?? []).flatMap((b) => (isObject(b.toolResult) ? [String(b.toolResult.toolUseId)] : [])));
    const missing = ids.filter((id) => !answered.has(id));
    if (missing.length > 0) throw new AwsError('ValidationException', `Expected toolResult blocks at messages.${i + 1}.content for the following Ids: ${missing.join(', ')}`);
  }

  let q = -1;
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]!;
    if (m.role === 'user' && m.blocks.some((b) => typeof b.text === 'string') && !m.blocks.some((b) => b.toolResult !== undefined)) {
      q = i;
      break;
    }
  }
  if (q < 0) throw new AwsError('ValidationException', 'The conversation has no user message with a question.');
  const question = messages[q]!.blocks.flatMap((b) => (typeof b.text === 'string' ? [b.text] : [])).join('\n');

  const rounds: ToolExchange[][] = [];
  for (let i = q + 1; i < messages.length; i += 2) {
    const uses = messages[i]!.blocks.flatMap((b) => (isObject(b.toolUse) ? [b.toolUse] : []));
    const answer = messages[i + 1]!;
    const results = answer.blocks.flatMap((b) => (isObject(b.toolResult) ? [b.toolResult] : []));
    if (uses.length === 0) throw new AwsError('ValidationException', `messages.${i}: the local model expects an assistant message with toolUse blocks after the question.`);
    if (results.length !== uses.length) {
      throw new AwsError('ValidationException', `Expected toolResult blocks at messages.${i + 1}.content for the following Ids: ${uses.map((u) => String(u.toolUseId)).join(', ')}`);
    }
    const round: ToolExchange[] = [];
    for (const use of uses) {
      const name = use.name;
      if (typeof name !== 'string' || !toolDefinition(name)) throw new AwsError('ValidationException', `messages.${i}: toolUse names no tool of the agent definition.`);
      const result = results.find((r) => r.toolUseId === use.toolUseId);
      if (!result) throw new AwsError('ValidationException', `Expected toolResult blocks at messages.${i + 1}.content for the following Ids: ${String(use.toolUseId)}`);
      const toolInput = isObject(use.input) ? use.input : {};
      round.push({ name: name as ToolName, input: toolInput, result: toolResultText(result, `messages.${i + 1}`), ...(result.status === 'error' ? { failed: true } : {}) });
    }
    rounds.push(round);
  }
  const toolBlocks = messages.some((m) => m.blocks.some((b) => b.toolUse !== undefined || b.toolResult !== undefined));
  return { history: earlierTurns(messages.slice(0, q)), question, rounds, resumed: rounds.length > 0, toolBlocks };
}

const textOf = (blocks: Json[]): string => blocks.flatMap((b) => (typeof b.text === 'string' ? [b.text] : [])).join('\n');

/** Each earlier question (a user message with text and no tool results) and the last answer text after it. */
function earlierTurns(messages: { role: 'user' | 'assistant'; blocks: Json[] }[]): PriorTurn[] {
  const turns: { question: string; answer: string }[] = [];
  for (const m of messages) {
    const text = textOf(m.blocks);
    if (m.role === 'user' && text && !m.blocks.some((b) => b.toolResult !== undefined)) turns.push({ question: text, answer: '' });
    else if (m.role === 'assistant' && text && turns.length > 0) turns.at(-1)!.answer = text;
  }
  return turns;
}

/** The names of the tools toolConfig offers; a conversation with tool results must offer some. */
export function offeredTools(input: Fields, required: boolean): Set<string> {
  const toolConfig = optionalObject(input, 'toolConfig');
  if (toolConfig === undefined) {
    if (required) throw new AwsError('ValidationException', 'The toolConfig field must be defined when using toolUse and toolResult content blocks.');
    return new Set();
  }
  const tools = optionalArray(toolConfig, 'tools');
  if (tools === undefined) throw validationError('toolConfig.tools', 'not be null', { value: null });
  const names = new Set<string>();
  for (const t of tools) {
    if (isObject(t) && isObject(t.toolSpec) && typeof t.toolSpec.name === 'string') names.add(t.toolSpec.name);
  }
  return names;
}

/**
 * Converse's requestMetadata, as Bedrock validates it: a map of strings (else the body does not
 * deserialize), each key 1 to 256 and each value 0 to 256 characters of
 * `[a-zA-Z0-9\s:_@$#=/+,-.]` (the service model's RequestMetadataKeyString and
 * RequestMetadataValueString; `,-.` is a range, so `-` is allowed). The member is sensitive:
 * the refusal does not quote it. The maximum number of entries is not in the documentation this
 * project has indexed, so none is enforced (docs/fidelity.md says so).
 */
// Java's \s (the service's regex dialect): space, tab, newline, vertical tab, form feed, carriage return.
const METADATA_CHARS = new RegExp('^[a-zA-Z0-9 \\t\\n\\v\\f\\r:_@$#=/+,\\-.]*$');

export function readRequestMetadata(input: Fields): Record<string, string> | undefined {
  const metadata = optionalObject(input, 'requestMetadata');
  if (metadata === undefined) return undefined;
  const entries = Object.entries(metadata);
  if (entries.some(([, v]) => typeof v !== 'string')) throw serializationError('requestMetadata', 'a map of strings');
  for (const [key, value] of entries as [string, string][]) {
    if (key.length < 1 || key.length > 256) throw validationError('requestMetadata', 'have keys of length between 1 and 256');
    if (value.length > 256) throw validationError('requestMetadata', 'have values of length less than or equal to 256');
    if (!METADATA_CHARS.test(key) || !METADATA_CHARS.test(value)) {
      throw validationError('requestMetadata', 'satisfy regular expression pattern: [a-zA-Z0-9\\s:_@$#=/+,-.]{0,256}');
    }
  }
  return metadata as Record<string, string>;
}

/**
 * `inferenceConfig.maxTokens`: an integer of at least 1 (API_runtime_InferenceConfiguration: "Valid
 * Range: Minimum value of 1"); absent, the model's maximum ("The default value is the maximum
 * allowed value for the model"), which the local model never reaches. Returns undefined when absent.
 */
export function readMaxTokens(input: Fields): number | undefined {
  const config = optionalObject(input, 'inferenceConfig');
  const value = config?.maxTokens;
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value)) throw serializationError('inferenceConfig.maxTokens', 'an integer');
  if (value < 1) throw validationError('inferenceConfig.maxTokens', 'have value greater than or equal to 1', { value });
  return value;
}

