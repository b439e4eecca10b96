/**
 * Conversation memory for the `converse` runtime (Bedrock agents keep theirs in the agent session):
 * the turns of one asker's conversation in the conversations table, read before the model call and
 * written after the answer, always with the asker's scoped credentials. IAM confines those to the
 * partition `<tenantId>#<userId>` (tasks/policies.ts), so a turn of another user or tenant cannot be
 * read or written whatever this code or the model does.
 *
 * A turn is one item: the Converse messages of one answer, from the question to the final answer,
 * with every toolUse followed by its toolResult. Recalling whole turns, newest first, within a
 * count and a character budget, keeps the message list valid (it starts with a user message and
 * the roles alternate) and drops the oldest turns first.
 *
 * What is stored is what the asker could see or what our tools returned: the question, the
 * sanitized answer (the text the asker received), the tool calls with their declared parameters
 * only, and the tools' results (our own JSON; a tool that fails ends the run, so no raw error is
 * ever stored). Credential values are redacted from every string, although none is ever given to
 * the model. Nothing else: no sealed blob, no session token, no tenant or user parameter the model
 * made up.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { ContentBlock, Message, ToolResultContentBlock } from '@aws-sdk/client-bedrock-runtime';
import { DynamoDBDocumentClient, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { DocumentType } from '@smithy/types';
import { createHash } from 'node:crypto';
import * as z from 'zod/mini';
import { toolDefinition } from './agent-definition.ts';
import { classifyAwsError, ErrorName } from './errors.ts';
import type { TaskLog } from './handler.ts';
import { CONVERSATION_TTL_SECONDS, conversationPartition, CONVERSATIONS_KEYS, type TableNames } from './tables.ts';
import { CONTROL_CHARACTERS } from './workflow-input.ts';
import './zod-locale.ts';

/** At most this many past turns go to the model. */
export const MAX_REMEMBERED_TURNS = 10;
/** ... and at most this many characters of them (their messages as JSON): the oldest go first. */
export const MAX_HISTORY_CHARS = 24_000;
/** A turn larger than this is stored with its tool results left out (the question and answer stay). */
export const MAX_TURN_CHARS = 16_000;
/** Concurrent asks in one conversation: a turn whose seq was taken tries the next ones. */
const MAX_WRITE_ATTEMPTS = 3;
const REDACTED = '[redacted]';
const OMITTED = { omitted: 'This tool result was too large to remember.' };

const { partitionKey: PK, sortKey: SK } = { partitionKey: CONVERSATIONS_KEYS.partitionKey, sortKey: CONVERSATIONS_KEYS.sortKey! };

const TextBlock = z.object({ text: z.string() });
const ToolUseBlock = z.object({
  toolUse: z.object({ toolUseId: z.string(), name: z.string(), input: z.record(z.string(), z.unknown()) }),
});
const ToolResultBlock = z.object({
  toolResult: z.object({
    toolUseId: z.string(),
    content: z.array(z.union([z.object({ json: z.record(z.string(), z.unknown()) }), TextBlock])).check(z.minLength(1)),
    status: z.optional(z.enum(['success', 'error'])),
  }),
});
const MessageSchema = z.object({
  role: z.enum(['user', 'assistant']),
  content: z.array(z.union([ToolUseBlock, ToolResultBlock, TextBlock])).check(z.minLength(1)),
});
const StoredTurnSchema = z.object({ seq: z.number().check(z.int(), z.positive()), answerId: z.string(), messages: z.string() });

/** Which conversation, whose, and for which answer (the answerId makes a retried write idempotent). */
export interface ConversationRef {
  readonly tenantId: string;
  readonly userId: string;
  /** The request's conversationId, or its answerId when it has none (a conversation of one answer). */
  readonly conversationId: string;
  readonly answerId: string;
}

export interface ConversationMemoryDeps {
  /** Signed with the asker's scoped credentials: never the task role. */
  readonly dynamodb: DynamoDBClient;
  readonly tables: TableNames;
  readonly log: TaskLog;
  /** Credential values to redact from anything stored. */
  readonly secrets: readonly string[];
  /** @default () => new Date() */
  readonly now?: () => Date;
}

/** The sort key prefix of a conversation: a digest, so any conversationId (even one with `#`) is one prefix. */
export function conversationPrefix(conversationId: string): string {
  return `${createHash('sha256').update(conversationId).digest('hex').slice(0, 40)}#`;
}

export function turnKey(conversationId: string, seq: number): string {
  return `${conversationPrefix(conversationId)}${String(seq).padStart(8, '0')}`;
}

/** A turn is whole when it starts with the question, alternates, answers every toolUse, and ends with an answer. */
export function isWholeTurn(messages: readonly Message[]): boolean {
  if (messages.length === 0 || messages[0]!.role !== 'user' || messages.at(-1)!.role !== 'assistant') return false;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    if (i > 0 && m.role === messages[i - 1]!.role) return false;
    const uses = (m.content ?? []).flatMap((b) => (b.toolUse ? [b.toolUse.toolUseId] : []));
    if (uses.length === 0) continue;
    if (m.role !== 'assistant') return false;
    const answered = new Set((messages[i + 1]?.content ?? []).flatMap((b) => (b.toolResult ? [b.toolResult.toolUseId] : [])));
    if (!uses.every((id) => answered.has(id))) return false;
  }
  return true;
}

/**
 * Whole turns, newest first in `turns`, kept while they fit: at most MAX_REMEMBERED_TURNS and
 * MAX_HISTORY_CHARS; returned oldest first as one message list.
 */
export function boundHistory(newestFirst: readonly (readonly Message[])[]): Message[] {
  const kept: (readonly Message[])[] = [];
  let chars = 0;
  for (const turn of newestFirst.slice(0, MAX_REMEMBERED_TURNS)) {
    chars += JSON.stringify(turn).length;
    if (chars > MAX_HISTORY_CHARS) break;
    kept.push(turn);
  }
  return kept.reverse().flatMap((t) => [...t]);
}

function cleanText(text: string, secrets: readonly string[]): string {
  let out = text.replace(CONTROL_CHARACTERS, '');
  for (const s of secrets) if (s) out = out.split(s).join(REDACTED);
  return out;
}

function cleanValue(value: unknown, secrets: readonly string[]): unknown {
  if (typeof value === 'string') return cleanText(value, secrets);
  if (Array.isArray(value)) return value.map((v) => cleanValue(v, secrets));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [cleanText(k, secrets), cleanValue(v, secrets)]));
  return value;
}

/**
 * The messages of one run as they are stored: only text, toolUse (declared parameters only) and
 * toolResult blocks, every string cleaned, and the final answer replaced by what the asker was
 * shown. Undefined when the run's messages are not a whole turn.
 */
export function turnToStore(messages: readonly Message[], shownAnswer: string, secrets: readonly string[]): Message[] | undefined {
  if (!isWholeTurn(messages)) return undefined;
  const cleaned = messages.map((m, i): Message => {
    if (i === messages.length - 1) return { role: 'assistant', content: [{ text: cleanText(shownAnswer, secrets) || '…' }] };
    const content = (m.content ?? []).flatMap((b): ContentBlock[] => {
      if (b.text !== undefined) return b.text ? [{ text: cleanText(b.text, secrets) }] : [];
      if (b.toolUse) {
        const { toolUseId, name = '', input } = b.toolUse;
        const declared = Object.keys(toolDefinition(name)?.parameters ?? {});
        const given = input && typeof input === 'object' && !Array.isArray(input) ? (input as Record<string, unknown>) : {};
        const kept = Object.fromEntries(declared.filter((k) => k in given).map((k) => [k, cleanValue(given[k], secrets)]));
        return [{ toolUse: { toolUseId, name: cleanText(name.slice(0, 64), secrets), input: kept as DocumentType } }];
      }
      if (b.toolResult) {
        const { toolUseId, status } = b.toolResult;
        const content = (b.toolResult.content ?? []).flatMap((c): ToolResultContentBlock[] =>
          c.json !== undefined ? [{ json: cleanValue(c.json, secrets) as DocumentType }] : c.text !== undefined ? [{ text: cleanText(c.text, secrets) }] : [],
        );
        return [{ toolResult: { toolUseId, content: content.length > 0 ? content : [{ json: OMITTED }], ...(status ? { status } : {}) } }];
      }
      return [];
    });
    return { role: m.role, content: content.length > 0 ? content : [{ text: '…' }] };
  });
  if (JSON.stringify(cleaned).length <= MAX_TURN_CHARS) return cleaned;
  return cleaned.map((m) => ({
    role: m.role,
    content: (m.content ?? []).map((b) => (b.toolResult ? { toolResult: { ...b.toolResult, content: [{ json: OMITTED }] } } : b)),
  }));
}

/** One stored turn's messages, or undefined when the item is not a whole turn of ours. */
function readTurn(item: unknown): { seq: number; answerId: string; messages: Message[] } | undefined {
  const stored = StoredTurnSchema.safeParse(item);
  if (!stored.success) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(stored.data.messages);
  } catch {
    return undefined;
  }
  const messages = z.array(MessageSchema).safeParse(json);
  if (!messages.success || !isWholeTurn(messages.data as Message[])) return undefined;
  return { seq: stored.data.seq, answerId: stored.data.answerId, messages: messages.data as Message[] };
}

export class ConversationMemory {
  private readonly doc: DynamoDBDocumentClient;
  private readonly askerKey: string;
  /** The seq the next turn takes: one past the newest stored turn (or the retried answer's own). */
  private nextSeq = 1;

  constructor(
    private readonly ref: ConversationRef,
    private readonly deps: ConversationMemoryDeps,
  ) {
    this.doc = DynamoDBDocumentClient.from(deps.dynamodb);
    this.askerKey = conversationPartition(ref.tenantId, ref.userId);
  }

  /**
   * The conversation so far, bounded (boundHistory). A failed read fails the run (throttling and
   * 5xx as the transient errors the state machine retries; AccessDenied is a bug and must not be
   * hidden): answering without memory would answer a follow-up wrongly, silently. A stored turn
   * that is not a whole turn of ours is skipped and logged.
   */
  async recall(): Promise<Message[]> {
    let items: Record<string, unknown>[];
    try {
      const out = await this.doc.send(
        new QueryCommand({
          TableName: this.deps.tables.conversations,
          KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :conversation)',
          ExpressionAttributeNames: { '#pk': PK, '#sk': SK },
          ExpressionAttributeValues: { ':pk': this.askerKey, ':conversation': conversationPrefix(this.ref.conversationId) },
          ScanIndexForward: false,
          Limit: MAX_REMEMBERED_TURNS + 1,
        }),
      );
      items = out.Items ?? [];
    } catch (err) {
      throw classifyAwsError(err, ErrorName.AgentFailed, 'Reading the conversation');
    }
    const turns: Message[][] = [];
    let skipped = 0;
    for (const [i, item] of items.entries()) {
      const turn = readTurn(item);
      if (i === 0) {
        const seq = typeof item.seq === 'number' && Number.isInteger(item.seq) ? item.seq : 0;
        // A retry of this very answer after its turn was written: that turn is rewritten, not recalled.
        if (turn?.answerId === this.ref.answerId) {
          this.nextSeq = seq;
          continue;
        }
        this.nextSeq = seq + 1;
      }
      if (turn) turns.push(turn.messages);
      else skipped++;
    }
    if (skipped > 0) this.deps.log({ level: 'warn', msg: 'conversation_memory.turn_skipped', turns: skipped });
    return boundHistory(turns);
  }

  /**
   * Stores the run's turn (turnToStore) with a TTL. A turn whose seq another answer of the same
   * conversation took meanwhile moves to the next seq. A failed write does not undo the answer the
   * asker already has: it is logged (`conversation_memory.write_failed`) and the next question of
   * the conversation goes without this turn; a denied write is a bug and fails the run.
   */
  async remember(messages: readonly Message[], shownAnswer: string): Promise<void> {
    const turn = turnToStore(messages, shownAnswer, this.deps.secrets);
    if (!turn) {
      this.deps.log({ level: 'warn', msg: 'conversation_memory.not_stored', reason: 'the run is not a whole turn' });
      return;
    }
    const now = (this.deps.now ?? (() => new Date()))();
    for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
      const seq = this.nextSeq + attempt;
      try {
        await this.doc.send(
          new PutCommand({
            TableName: this.deps.tables.conversations,
            Item: {
              [PK]: this.askerKey,
              [SK]: turnKey(this.ref.conversationId, seq),
              seq,
              answerId: this.ref.answerId,
              messages: JSON.stringify(turn),
              writtenAt: now.toISOString(),
              expiresAt: Math.floor(now.getTime() / 1000) + CONVERSATION_TTL_SECONDS,
            },
            ConditionExpression: 'attribute_not_exists(#sk) OR answerId = :answerId',
            ExpressionAttributeNames: { '#sk': SK },
            ExpressionAttributeValues: { ':answerId': this.ref.answerId },
          }),
        );
        return;
      } catch (err) {
        const name = (err as { name?: string }).name;
        if (name === 'ConditionalCheckFailedException') continue;
        if (name === 'AccessDeniedException') throw classifyAwsError(err, ErrorName.AgentFailed, 'Writing the conversation');
        this.deps.log({ level: 'warn', msg: 'conversation_memory.write_failed', error: name ?? 'Error' });
        return;
      }
    }
    this.deps.log({ level: 'warn', msg: 'conversation_memory.write_failed', error: 'ConditionalCheckFailedException' });
  }
}
