import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { awsError, FAKE_CLIENT_CONFIG, scripted } from '../test/fake-aws.ts';
import { bedrockFunctionSchema, converseToolConfig, TOOLS, type ToolName } from './agent-definition.ts';
import { TableNames, type Order, type TenantConfig } from './tables.ts';
import { runTool, TOOLS_IMPL, type Tool, type ToolContext, type ToolRegistry } from './tools.ts';

const tables = new TableNames('prod-');

/** A tool context for tenant1's user-1 whose scoped DynamoDB client answers from a script. */
function scopedContext() {
  const dynamodb = scripted(new DynamoDBClient(FAKE_CLIENT_CONFIG));
  const ctx: ToolContext = { tenantId: 'tenant1', userId: 'user-1', tables, dynamodb: dynamodb.client };
  return { ctx, dynamodb };
}

/** A registry whose tools record the parameters they get and answer with a marker. */
function recordingRegistry() {
  const received: [ToolName, Record<string, unknown>][] = [];
  const tool =
    (name: ToolName): Tool =>
    async (params) => {
      received.push([name, params]);
      return { returnPolicyDays: 1, storeName: name };
    };
  const registry: ToolRegistry = { getReturnPolicy: tool('getReturnPolicy'), listMyOrders: tool('listMyOrders'), getOrderStatus: tool('getOrderStatus') };
  return { registry, received };
}

const IDENTITY_WORDS = /tenant|user|account|store|customer|owner|principal|role|credential/i;

const order = (orderId: string, extra: Partial<Order> = {}): Order & { internalNote: string } => ({
  userId: 'user-1',
  orderId,
  orderDate: '2030-01-01',
  total: 42.5,
  status: 'SHIPPED',
  items: ['mug'],
  internalNote: 'not for the model',
  ...extra,
});

describe('the tool definitions', () => {
  it('declare no tenant, user or account parameter, in every form the model sees them', () => {
    const names = [
      ...TOOLS.flatMap((t) => Object.keys(t.parameters)),
      ...bedrockFunctionSchema().functions.flatMap((f) => Object.keys(f.parameters)),
      ...converseToolConfig().tools.flatMap((t) => [...Object.keys(t.toolSpec.inputSchema.json.properties), ...t.toolSpec.inputSchema.json.required]),
    ];
    expect(names.length).toBeGreaterThan(0);
    expect(names.filter((n) => IDENTITY_WORDS.test(n))).toEqual([]);
    expect(new Set(names)).toEqual(new Set(['orderId']));
  });

  it('have an implementation for each definition, and no other', () => {
    expect(Object.keys(TOOLS_IMPL).sort()).toEqual(TOOLS.map((t) => t.name).sort());
  });
});

describe('runTool', () => {
  it('passes on only the parameters a tool declares: a tenant, user or any other injected parameter never reaches it', async () => {
    const { registry, received } = recordingRegistry();
    const { ctx } = scopedContext();
    const injected = { tenantId: 'tenant2', userId: 'victim', TableName: 'tenant2-orders', Key: { userId: 'victim' } };
    await runTool('listMyOrders', injected, ctx, registry);
    await runTool('getReturnPolicy', injected, ctx, registry);
    await runTool('getOrderStatus', { ...injected, orderId: 'ord-1' }, ctx, registry);
    expect(received).toEqual([
      ['listMyOrders', {}],
      ['getReturnPolicy', {}],
      ['getOrderStatus', { orderId: 'ord-1' }],
    ]);
  });

  it('answers a tool name it does not know with UNKNOWN_TOOL, running nothing', async () => {
    const { registry, received } = recordingRegistry();
    const { ctx, dynamodb } = scopedContext();
    for (const name of ['scanAllOrders', 'constructor', '__proto__', 'toString']) {
      expect(await runTool(name, {}, ctx, registry)).toEqual({ error: 'UNKNOWN_TOOL', message: `There is no tool named ${name}.` });
    }
    expect(await runTool('x'.repeat(500), {}, ctx, registry)).toEqual({ error: 'UNKNOWN_TOOL', message: `There is no tool named ${'x'.repeat(64)}.` });
    expect(received).toEqual([]);
    expect(dynamodb.calls).toEqual([]);
  });
});

describe('the tools, with the scoped client', () => {
  it("getReturnPolicy reads the asker's tenant configuration", async () => {
    const { ctx, dynamodb } = scopedContext();
    const config: TenantConfig = { tenantId: 'tenant1', name: 'Tenant One Store', status: 'ACTIVE', returnPolicyDays: 10, ordersTable: 'prod-tenant1-orders', plan: 'standard' };
    dynamodb.on('GetItemCommand', { Item: config });
    expect(await runTool('getReturnPolicy', { tenantId: 'tenant2' }, ctx)).toEqual({ returnPolicyDays: 10, storeName: 'Tenant One Store' });
    expect(dynamodb.calls).toEqual([{ command: 'GetItemCommand', input: { TableName: 'prod-tenant-config', Key: { tenantId: 'tenant1' } } }]);
    dynamodb.assertDone();
  });

  it('getReturnPolicy fails when the tenant has no configuration', async () => {
    const { ctx, dynamodb } = scopedContext();
    dynamodb.on('GetItemCommand', {});
    await expect(runTool('getReturnPolicy', {}, ctx)).rejects.toThrow("No config for the asker's tenant");
    dynamodb.assertDone();
  });

  it("listMyOrders queries the asker's partition of the tenant's orders table, newest first, and returns the order fields only", async () => {
    const { ctx, dynamodb } = scopedContext();
    dynamodb.on('QueryCommand', { Items: [order('ord-2'), order('ord-1', { status: 'DELIVERED' })] });
    const result = await runTool('listMyOrders', { userId: 'victim', tenantId: 'tenant2' }, ctx);
    expect(dynamodb.calls).toEqual([
      {
        command: 'QueryCommand',
        input: { TableName: 'prod-tenant1-orders', KeyConditionExpression: 'userId = :u', ExpressionAttributeValues: { ':u': 'user-1' }, ScanIndexForward: false, Limit: 50 },
      },
    ]);
    expect(result).toEqual({
      orders: [
        { orderId: 'ord-2', orderDate: '2030-01-01', status: 'SHIPPED', total: 42.5, items: ['mug'] },
        { orderId: 'ord-1', orderDate: '2030-01-01', status: 'DELIVERED', total: 42.5, items: ['mug'] },
      ],
    });
    dynamodb.assertDone();
  });

  it("getOrderStatus reads one order by the asker's key, and says when the asker has no such order", async () => {
    const { ctx, dynamodb } = scopedContext();
    dynamodb.on('GetItemCommand', { Item: order('ord-20261015-eb344a') }).on('GetItemCommand', {});
    expect(await runTool('getOrderStatus', { orderId: 'ord-20261015-eb344a', userId: 'victim' }, ctx)).toEqual({
      orderId: 'ord-20261015-eb344a',
      status: 'SHIPPED',
      orderDate: '2030-01-01',
      total: 42.5,
    });
    expect(await runTool('getOrderStatus', { orderId: 'ord-2' }, ctx)).toEqual({ error: 'ORDER_NOT_FOUND', message: 'You have no order ord-2.' });
    expect(dynamodb.calls.map((c) => c.input)).toEqual([
      { TableName: 'prod-tenant1-orders', Key: { userId: 'user-1', orderId: 'ord-20261015-eb344a' } },
      { TableName: 'prod-tenant1-orders', Key: { userId: 'user-1', orderId: 'ord-2' } },
    ]);
    dynamodb.assertDone();
  });

  it.each([[undefined], [42], [''], ['ord 1'], ['ord-1/../x'], ['x'.repeat(65)]])('getOrderStatus refuses the order id %j without reading', async (orderId) => {
    const { ctx, dynamodb } = scopedContext();
    expect(await runTool('getOrderStatus', { orderId }, ctx)).toEqual({ error: 'INVALID_PARAMETERS', message: 'orderId must be an order id such as ord-20261015-eb344a' });
    expect(dynamodb.calls).toEqual([]);
  });

  it('lets a denied read fail the tool: no fallback, no other client', async () => {
    const { ctx, dynamodb } = scopedContext();
    dynamodb.on('QueryCommand', awsError('AccessDeniedException', 400));
    await expect(runTool('listMyOrders', {}, ctx)).rejects.toMatchObject({ name: 'AccessDeniedException' });
    dynamodb.assertDone();
  });
});
