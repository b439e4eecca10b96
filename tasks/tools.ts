/**
 * The agent's tools. Whose data a tool reads comes from the verified identity and, decisively,
 * from the scoped credentials its DynamoDB client signs with: IAM denies every other tenant's rows
 * and every other user's orders. Tools declare no tenant or user parameter; parameters the model
 * adds are ignored.
 */
import { DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { toolDefinition, type ToolName } from './agent-definition.ts';
import type { Order, TableNames, TenantConfig } from './tables.ts';

/** What a tool knows about the asker: from the token, through the workflow; never from the model. */
export interface ToolContext {
  readonly tenantId: string;
  readonly userId: string;
  readonly tables: TableNames;
  /** A DynamoDB client signed with the asker's scoped credentials. */
  readonly dynamodb: DynamoDBClient;
}

/** Tool results are JSON text for the model. */
export type ToolResult =
  | { returnPolicyDays: number; storeName: string }
  | { orders: Pick<Order, 'orderId' | 'orderDate' | 'status' | 'total' | 'items'>[] }
  | { orderId: string; status: Order['status']; orderDate: string; total: number }
  | { error: 'ORDER_NOT_FOUND' | 'INVALID_PARAMETERS' | 'UNKNOWN_TOOL'; message: string };

export type Tool = (params: Record<string, unknown>, ctx: ToolContext) => Promise<ToolResult>;
export type ToolRegistry = Readonly<Record<ToolName, Tool>>;

const MAX_ORDERS = 50;
const ORDER_ID = /^[\w.-]{1,64}$/;

function doc(ctx: ToolContext): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(ctx.dynamodb);
}

export const TOOLS_IMPL: ToolRegistry = {
  async getReturnPolicy(_params, ctx) {
    const out = await doc(ctx).send(new GetCommand({ TableName: ctx.tables.config, Key: { tenantId: ctx.tenantId } }));
    const config = out.Item as TenantConfig | undefined;
    if (!config) throw new Error(`No config for the asker's tenant`);
    return { returnPolicyDays: config.returnPolicyDays, storeName: config.name };
  },

  async listMyOrders(_params, ctx) {
    const out = await doc(ctx).send(
      new QueryCommand({
        TableName: ctx.tables.orders(ctx.tenantId),
        KeyConditionExpression: 'userId = :u',
        ExpressionAttributeValues: { ':u': ctx.userId },
        ScanIndexForward: false,
        Limit: MAX_ORDERS,
      }),
    );
    const orders = ((out.Items ?? []) as Order[]).map(({ orderId, orderDate, status, total, items }) => ({ orderId, orderDate, status, total, items }));
    return { orders };
  },

  async getOrderStatus(params, ctx) {
    const orderId = params.orderId;
    if (typeof orderId !== 'string' || !ORDER_ID.test(orderId)) {
      return { error: 'INVALID_PARAMETERS', message: 'orderId must be an order id such as ord-20261015-eb344a' };
    }
    const out = await doc(ctx).send(new GetCommand({ TableName: ctx.tables.orders(ctx.tenantId), Key: { userId: ctx.userId, orderId } }));
    const order = out.Item as Order | undefined;
    if (!order) return { error: 'ORDER_NOT_FOUND', message: `You have no order ${orderId}.` };
    return { orderId: order.orderId, status: order.status, orderDate: order.orderDate, total: order.total };
  },
};

/**
 * Runs one tool call from the model. Only the parameters the tool declares are passed on; a tenant,
 * user or any other injected parameter never reaches the tool.
 */
export async function runTool(
  name: string,
  params: Record<string, unknown>,
  ctx: ToolContext,
  registry: ToolRegistry = TOOLS_IMPL,
): Promise<ToolResult> {
  const def = toolDefinition(name);
  if (!def) return { error: 'UNKNOWN_TOOL', message: `There is no tool named ${name.slice(0, 64)}.` };
  const declared: Record<string, unknown> = {};
  for (const key of Object.keys(def.parameters)) if (key in params) declared[key] = params[key];
  return registry[def.name](declared, ctx);
}
