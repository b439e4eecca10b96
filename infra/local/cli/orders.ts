/**
 * `npm run orders -- <username> add|list|clear [--count N]`: manages one user's orders in that
 * user's tenant's table (`<tenantId>-orders`), through the edge, as the operator principal. `add`
 * stopped early (a failed write, Ctrl-C) says how many it saved (they stay) and exits non-zero.
 */
import '../node-compat.ts';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DynamoDBDocumentClient, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { randomOrder } from '../../../tasks/seed.ts';
import { TableNames, type Order } from '../../../tasks/tables.ts';
import { explainConnectionError, findUser, principalConfig, readLocalEnvOrExit, type LocalEnv } from '../../../client/cli/targets.ts';

const USAGE = 'Usage: npm run orders -- <username> add|list|clear [--count N] [--json] [--data-dir DIR]';

export interface OrdersResult {
  table: string;
  orders: Order[];
  /** For `clear`: how many were deleted. */
  deleted?: number;
}

/** How `add` reports progress and learns that it should stop (Ctrl-C). */
export interface AddOptions {
  /** Once aborted, `add` saves nothing more: the order being written completes, the rest are not started. */
  signal?: AbortSignal;
  /** Told after each saved order. */
  onProgress?: (saved: number, requested: number) => void;
}

/** `add` stopped before saving every order: the ones it did save are in `saved` (they stay in the table). */
export class PartialAddError extends Error {
  constructor(
    readonly table: string,
    readonly saved: Order[],
    readonly requested: number,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    const cause = options?.cause as { name?: string; message?: string } | undefined;
    super(`Saved ${saved.length} of ${requested} orders in ${table} before ${reason}${cause ? ` (${cause.name ?? 'Error'}: ${cause.message ?? String(cause)})` : ''}.`, options);
    this.name = 'PartialAddError';
  }
}

/** Puts `count` random orders of `userId`, one at a time, and stops at the first failure or at `signal`. */
export async function addOrders(doc: DynamoDBDocumentClient, table: string, userId: string, count: number, options: AddOptions = {}): Promise<Order[]> {
  const added: Order[] = [];
  for (let i = 0; i < count; i++) {
    if (options.signal?.aborted) throw new PartialAddError(table, added, count, 'it was interrupted');
    const order = randomOrder(userId);
    try {
      await doc.send(new PutCommand({ TableName: table, Item: order }));
    } catch (err) {
      throw new PartialAddError(table, added, count, 'a write failed', { cause: err });
    }
    added.push(order);
    options.onProgress?.(added.length, count);
  }
  return added;
}

async function listOrders(doc: DynamoDBDocumentClient, table: string, userId: string): Promise<Order[]> {
  const orders: Order[] = [];
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(
      new QueryCommand({ TableName: table, KeyConditionExpression: 'userId = :u', ExpressionAttributeValues: { ':u': userId }, ExclusiveStartKey }),
    );
    orders.push(...((page.Items ?? []) as Order[]));
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return orders;
}

/** The command itself, callable in-process (tests) or from the CLI below. */
export async function ordersCommand(env: LocalEnv, username: string, action: string, count = 1, options: AddOptions = {}): Promise<OrdersResult> {
  const user = findUser(env, username);
  const table = new TableNames().orders(user.tenantId);
  const client = new DynamoDBClient(principalConfig(env, 'operator'));
  const doc = DynamoDBDocumentClient.from(client);
  try {
    switch (action) {
      case 'add':
        return { table, orders: await addOrders(doc, table, user.sub, count, options) };
      case 'list':
        return { table, orders: await listOrders(doc, table, user.sub) };
      case 'clear': {
        const orders = await listOrders(doc, table, user.sub);
        for (let i = 0; i < orders.length; i += 25) {
          const out = await doc.send(
            new BatchWriteCommand({
              RequestItems: { [table]: orders.slice(i, i + 25).map((o) => ({ DeleteRequest: { Key: { userId: o.userId, orderId: o.orderId } } })) },
            }),
          );
          if (Object.keys(out.UnprocessedItems ?? {}).length > 0) throw new Error('Some deletes were not processed; run clear again.');
        }
        return { table, orders: [], deleted: orders.length };
      }
      default:
        throw new Error(`Unknown action '${action}'. ${USAGE}`);
    }
  } finally {
    client.destroy();
  }
}

function formatOrders(orders: Order[]): string {
  if (orders.length === 0) return '  (no orders)';
  return orders
    .map((o) => `  ${o.orderId}  ${o.orderDate}  ${o.status.padEnd(9)} ${o.total.toFixed(2).padStart(8)}  ${o.items.join(', ')}`)
    .join('\n');
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      count: { type: 'string', default: '1' },
      json: { type: 'boolean', default: false },
      'data-dir': { type: 'string', default: '.data' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [username, action] = positionals;
  if (values.help || !username || !action) {
    process.stderr.write(`${USAGE}\n`);
    process.exit(values.help ? 0 : 2);
  }
  const count = Number(values.count);
  if (!Number.isInteger(count) || count < 1 || count > 100) {
    process.stderr.write('--count must be an integer from 1 to 100\n');
    process.exit(2);
  }
  const env = readLocalEnvOrExit(values['data-dir']);
  // Ctrl-C stops `add` after the order being written; a second Ctrl-C ends the process at once
  // (list and clear keep Node's default: Ctrl-C ends them).
  const interrupt = new AbortController();
  if (action === 'add') {
    process.once('SIGINT', () => {
      process.stderr.write('Stopping after the order being written (Ctrl-C again to quit at once).\n');
      interrupt.abort();
    });
  }
  const progressEvery = count > 10 ? 10 : Infinity;
  const onProgress = (saved: number, requested: number) => {
    if (saved % progressEvery === 0 && saved < requested) process.stderr.write(`  saved ${saved} of ${requested} orders...\n`);
  };
  try {
    const result = await ordersCommand(env, username, action, count, { signal: interrupt.signal, onProgress });
    const user = findUser(env, username);
    if (values.json) {
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    } else if (action === 'clear') {
      process.stdout.write(`Deleted ${result.deleted} order(s) of ${username} from ${result.table}\n`);
    } else {
      const verb = action === 'add' ? `Added ${result.orders.length} order(s)` : `${result.orders.length} order(s)`;
      process.stdout.write(`${verb} of ${username} (${user.tenantId}, sub ${user.sub}) in ${result.table}:\n${formatOrders(result.orders)}\n`);
    }
  } catch (err) {
    if (err instanceof PartialAddError) {
      process.stdout.write(values.json ? `${JSON.stringify({ table: err.table, orders: err.saved, requested: err.requested }, null, 2)}\n` : `${formatOrders(err.saved)}\n`);
      process.stderr.write(`${partialAddMessage(err, username)}\n`);
      if (err.cause !== undefined) process.stderr.write(`${explainConnectionError(err.cause, env)}\n`);
      process.exit(interrupt.signal.aborted ? 130 : 1);
    }
    process.stderr.write(`${err instanceof Error && err.message.startsWith('Unknown') ? err.message : explainConnectionError(err, env)}\n`);
    process.exit(1);
  }
}

/** What `add` tells the person when it stopped early: how many orders it saved, and that they stay. */
export function partialAddMessage(err: PartialAddError, username: string): string {
  const kept = err.saved.length === 0 ? 'nothing was saved' : `the ${err.saved.length} saved order(s) are kept (npm run orders -- ${username} list)`;
  return `Saved ${err.saved.length} of ${err.requested} orders before ${err.reason}: ${kept}.`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
