/**
 * The agent definition: instruction and tool schema. One source for the Bedrock agent that CDK
 * deploys (instruction, action group function schema), for the Converse adapter's toolConfig, and
 * for the deterministic local agent. No tool takes a tenant or a user parameter: whose data a tool
 * reads is decided by the scoped credentials, never by the model.
 */

export const AGENT_NAME = 'store-assistant';
export const ACTION_GROUP = 'store-tools';
/** How long the agent keeps an idle session's conversation (Bedrock's idleSessionTTLInSeconds; CDK and the local agent). */
export const AGENT_IDLE_SESSION_TTL_SECONDS = 600;

export const AGENT_INSTRUCTION = [
  'You are the customer assistant of an online store. You answer questions about the store',
  "(its return policy) and about the signed-in customer's own orders, using only the tools you are",
  'given. The tools already know which store and which customer is asking: never ask for, accept or',
  'pass a store id, tenant id, user id or account. If a question is about anything else, or asks',
  "for other customers' data, say plainly that you cannot help with that. Keep answers short.",
].join(' ');

export interface ToolParameter {
  readonly type: 'string' | 'number' | 'integer' | 'boolean';
  readonly description: string;
  readonly required: boolean;
}

export interface ToolDefinition {
  readonly name: ToolName;
  readonly description: string;
  readonly parameters: Readonly<Record<string, ToolParameter>>;
}

export type ToolName = 'getReturnPolicy' | 'listMyOrders' | 'getOrderStatus';

export const TOOLS: readonly ToolDefinition[] = [
  {
    name: 'getReturnPolicy',
    description: "Returns the store's return policy: how many days after delivery an item can be returned.",
    parameters: {},
  },
  {
    name: 'listMyOrders',
    description: "Lists the signed-in customer's orders with date, status, total and items.",
    parameters: {},
  },
  {
    name: 'getOrderStatus',
    description: "Returns the status of one of the signed-in customer's orders.",
    parameters: {
      orderId: { type: 'string', description: 'The order id, e.g. ord-20261015-eb344a', required: true },
    },
  },
];

export function toolDefinition(name: string): ToolDefinition | undefined {
  return TOOLS.find((t) => t.name === name);
}

/** The action group's function schema, as `AWS::Bedrock::Agent` and CreateAgentActionGroup take it. */
export function bedrockFunctionSchema() {
  return {
    functions: TOOLS.map((t) => ({
      name: t.name,
      description: t.description,
      parameters: Object.fromEntries(
        Object.entries(t.parameters).map(([name, p]) => [name, { type: p.type, description: p.description, required: p.required }]),
      ),
    })),
  };
}

/** The Converse API's toolConfig, built from the same definitions. */
export function converseToolConfig() {
  return {
    tools: TOOLS.map((t) => ({
      toolSpec: {
        name: t.name,
        description: t.description,
        inputSchema: {
          json: {
            type: 'object',
            properties: Object.fromEntries(
              Object.entries(t.parameters).map(([name, p]) => [name, { type: p.type, description: p.description }]),
            ),
            required: Object.entries(t.parameters)
              .filter(([, p]) => p.required)
              .map(([name]) => name),
          },
        },
      },
    })),
  };
}
