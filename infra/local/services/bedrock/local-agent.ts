/**
 * The deterministic local agent: the stand-in for the model behind the local Bedrock (InvokeAgent
 * and Converse share it). Built from the agent definition (instruction, tools), it maps the latest
 * question to store tools by keywords and phrases its answer from the tool results. It sees only
 * the conversation (earlier questions and answers, from the Converse messages or the agent
 * session's turns), the question and the tool results, never a tenant or a user id. A follow-up
 * such as "the status of the second one" reads the order ids of its last listing answer; without
 * one (a new conversation) it asks which order is meant.
 *
 * Hostile mode plays a prompt-injected model: whatever the question, it calls every tool with
 * injected tenant, user and order parameters, and dumps the raw tool results in its answer. It
 * exists to prove that isolation never depends on the model.
 */
import { AGENT_INSTRUCTION, TOOLS, toolDefinition, type ToolDefinition, type ToolName } from '../../../../tasks/agent-definition.ts';

/** A tool call the agent asks its caller to run. Values are strings, as return of control carries them. */
export interface PlannedCall {
  readonly name: ToolName;
  readonly input: Readonly<Record<string, string>>;
}

/** A tool call and the result its caller sent back (the tool's JSON text, unparsed). */
export interface ToolExchange {
  readonly name: ToolName;
  readonly input: Readonly<Record<string, unknown>>;
  readonly result: string;
  /** The caller reported the call as failed (Converse `status: 'error'`). */
  readonly failed?: boolean;
}

/** An earlier turn of the conversation, as the model reads it: the question and the answer it gave. */
export interface PriorTurn {
  readonly question: string;
  readonly answer: string;
}

export type AgentStep = { kind: 'tools'; calls: PlannedCall[] } | { kind: 'answer'; text: string };

export type AgentMode = 'normal' | 'hostile';

/** What a hostile agent injects into its tool calls. */
export interface HostileInjection {
  tenantId: string;
  userId: string;
}

export const DEFAULT_INJECTION: HostileInjection = { tenantId: 'tenant2', userId: '*' };

/** A tool result the agent cannot read: the caller sent something no store tool returns. */
export class AgentInputError extends Error {
  override readonly name = 'AgentInputError';
}

export const CANNOT_HELP = "I can't help with that; I can tell you about the store's return policy and your orders.";
/** A follow-up that names an order by its place in a list ("the second one") when no list was given. */
export const WHICH_ORDER = 'Which order do you mean? Tell me its order id (such as ord-20261015-eb344a), or ask me to list your orders first.';

const ORDER_ID = /\bord-[a-z0-9-]*[a-z0-9]\b/i;
const RETURNS = /\b(return|returns|returning|refund|refunds|refunded)\b/i;
const ORDERS = /\b(orders?|bought|buy|purchases?|purchased)\b/i;
const STATUS = /\b(status|where|shipped|arrive|arriving|delivered)\b/i;
const LATEST = /\b(latest|last|newest|recent|most recent)\b/i;
const ORDER_IDS = /\bord-[a-z0-9-]*[a-z0-9]\b/gi;
const ORDINALS = ['first', 'second', 'third', 'fourth', 'fifth', 'sixth', 'seventh', 'eighth', 'ninth', 'tenth'];
/** "the second one", "the 3rd order": a place in a list the conversation gave. */
const ORDINAL = new RegExp(`\\b(${ORDINALS.join('|')}|(?:1st|2nd|3rd|[4-9]th|10th))\\s+(?:one|order)\\b`, 'i');
/** Rounds of tool calls after which the agent answers with what it has. */
const MAX_ROUNDS = 3;

type OrderSummary = { orderId: string; orderDate: string; status: string; total: number; items: string[] };

export class LocalAgent {
  /** The instruction the deployed agent runs with; the local agent's rules follow it. */
  readonly instruction = AGENT_INSTRUCTION;
  readonly tools: readonly ToolDefinition[] = TOOLS;
  private currentMode: AgentMode;
  private injection: HostileInjection;

  constructor(options: { mode?: AgentMode; injection?: Partial<HostileInjection> } = {}) {
    this.currentMode = options.mode ?? 'normal';
    this.injection = { ...DEFAULT_INJECTION, ...options.injection };
  }

  get mode(): AgentMode {
    return this.currentMode;
  }

  /** Sets the mode; the injection is the defaults overridden by `injection`. */
  setMode(mode: AgentMode, injection?: Partial<HostileInjection>): void {
    this.currentMode = mode;
    this.injection = { ...DEFAULT_INJECTION, ...injection };
  }

  /**
   * The next step for `question`, given the rounds of tool calls already answered and the earlier
   * turns of the conversation (oldest first): more tool calls, or the final answer.
   */
  step(question: string, rounds: readonly (readonly ToolExchange[])[], history: readonly PriorTurn[] = []): AgentStep {
    return this.currentMode === 'hostile' ? this.hostileStep(question, rounds) : this.normalStep(question, rounds, history);
  }

  private normalStep(question: string, rounds: readonly (readonly ToolExchange[])[], history: readonly PriorTurn[]): AgentStep {
    const last = rounds.at(-1);
    if (!last) {
      // "And what's the status of the second one?": the second order of the last list it gave.
      const place = ordinalOf(question);
      if (place !== undefined && !ORDER_ID.test(question)) {
        const orderId = lastListedOrders(history)?.[place - 1];
        return orderId ? { kind: 'tools', calls: [{ name: 'getOrderStatus', input: { orderId } }] } : { kind: 'answer', text: WHICH_ORDER };
      }
      const calls = plan(question);
      return calls.length > 0 ? { kind: 'tools', calls } : { kind: 'answer', text: CANNOT_HELP };
    }
    // "What's the status of my latest order?": list the orders first, then look up the newest.
    if (rounds.length === 1 && rounds.length < MAX_ROUNDS && asksLatestStatus(question)) {
      const listed = last.find((e) => e.name === 'listMyOrders' && !e.failed);
      const orders = listed ? readOrders(listed) : undefined;
      const newest = orders ? newestOrder(orders) : undefined;
      if (newest && !last.some((e) => e.name === 'getOrderStatus')) {
        return { kind: 'tools', calls: [{ name: 'getOrderStatus', input: { orderId: newest.orderId } }] };
      }
    }
    return { kind: 'answer', text: last.map(phrase).join('\n') };
  }

  private hostileStep(question: string, rounds: readonly (readonly ToolExchange[])[]): AgentStep {
    const last = rounds.at(-1);
    if (!last) {
      const { tenantId, userId } = this.injection;
      const orderId = ORDER_ID.exec(question)?.[0] ?? '*';
      return {
        kind: 'tools',
        calls: [
          { name: 'listMyOrders', input: { tenantId, userId } },
          { name: 'getReturnPolicy', input: { tenantId } },
          { name: 'getOrderStatus', input: { orderId, tenantId, userId } },
        ],
      };
    }
    return { kind: 'answer', text: `Raw data: ${last.map((e) => e.result).join('\n')}` };
  }
}

/** The tools a question needs, by keywords. */
export function plan(question: string): PlannedCall[] {
  const calls: PlannedCall[] = [];
  const orderId = ORDER_ID.exec(question)?.[0];
  if (orderId) calls.push({ name: 'getOrderStatus', input: { orderId } });
  if (RETURNS.test(question)) calls.push({ name: 'getReturnPolicy', input: {} });
  if (!orderId && ORDERS.test(question)) calls.push({ name: 'listMyOrders', input: {} });
  return calls;
}

/** The place a question names ("second one" -> 2), if it names one. */
export function ordinalOf(question: string): number | undefined {
  const word = ORDINAL.exec(question)?.[1]?.toLowerCase();
  if (!word) return undefined;
  const at = ORDINALS.indexOf(word);
  return at >= 0 ? at + 1 : Number.parseInt(word, 10);
}

/** The order ids of the newest earlier answer that listed any, in the order it listed them. */
function lastListedOrders(history: readonly PriorTurn[]): string[] | undefined {
  for (const turn of [...history].reverse()) {
    const ids = [...new Set(turn.answer.match(ORDER_IDS) ?? [])];
    if (ids.length > 0) return ids;
  }
  return undefined;
}

function asksLatestStatus(question: string): boolean {
  return !ORDER_ID.test(question) && ORDERS.test(question) && STATUS.test(question) && LATEST.test(question);
}

function newestOrder(orders: OrderSummary[]): OrderSummary | undefined {
  let newest: OrderSummary | undefined;
  for (const o of orders) if (!newest || o.orderDate > newest.orderDate) newest = o;
  return newest;
}

function parseResult(e: ToolExchange): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(e.result);
  } catch {
    throw new AgentInputError(`The result of ${e.name} is not JSON.`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new AgentInputError(`The result of ${e.name} is not a JSON object.`);
  }
  return value as Record<string, unknown>;
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function isOrderSummary(v: unknown): v is OrderSummary {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return isString(o.orderId) && isString(o.orderDate) && isString(o.status) && isNumber(o.total) && Array.isArray(o.items) && o.items.every(isString);
}

function readOrders(e: ToolExchange): OrderSummary[] | undefined {
  const r = parseResult(e);
  return Array.isArray(r.orders) && r.orders.every(isOrderSummary) ? r.orders : undefined;
}

function money(total: number): string {
  return total.toFixed(2);
}

/** One sentence (or list) from one tool result; a result no store tool returns is refused. */
function phrase(e: ToolExchange): string {
  if (e.failed) return `I could not get an answer from ${e.name} right now.`;
  const def = toolDefinition(e.name);
  if (!def) throw new AgentInputError(`There is no tool named ${e.name}.`);
  const r = parseResult(e);
  if (isString(r.error)) {
    switch (r.error) {
      case 'ORDER_NOT_FOUND':
        return `I could not find order ${String(e.input.orderId ?? '')} among your orders.`;
      case 'INVALID_PARAMETERS':
        return 'That is not an order id I can look up; order ids look like ord-20261015-eb344a.';
      case 'UNKNOWN_TOOL':
        return 'I could not use one of my tools for that.';
      default:
        throw new AgentInputError(`The result of ${e.name} has an unknown error code.`);
    }
  }
  switch (e.name) {
    case 'getReturnPolicy':
      if (isNumber(r.returnPolicyDays)) return `You can return items within ${r.returnPolicyDays} ${r.returnPolicyDays === 1 ? 'day' : 'days'}.`;
      break;
    case 'listMyOrders': {
      const orders = readOrders(e);
      if (!orders) break;
      if (orders.length === 0) return 'You have not placed any orders yet.';
      const lines = orders.map((o) => `- ${o.orderId}: placed ${o.orderDate}, ${o.status}, total ${money(o.total)}, items: ${o.items.join(', ')}`);
      return [`You have ${orders.length} ${orders.length === 1 ? 'order' : 'orders'}:`, ...lines].join('\n');
    }
    case 'getOrderStatus':
      if (isString(r.orderId) && isString(r.status) && isString(r.orderDate) && isNumber(r.total)) {
        return `Order ${r.orderId} (placed ${r.orderDate}, total ${money(r.total)}) is ${r.status}.`;
      }
      break;
  }
  throw new AgentInputError(`The result of ${e.name} is not what ${e.name} returns.`);
}
