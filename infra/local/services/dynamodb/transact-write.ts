/**
 * TransactWriteItems, which dynalite does not implement: the stand-in serves it while it holds the
 * write locks of the partitions it names (every write of the stand-in takes its partitions' locks,
 * so no other write lands on its items in between: partition-locks.ts),
 * after the edge has authorised every item (`dynamodb:PutItem`, `UpdateItem`, `DeleteItem`,
 * `ConditionCheckItem` on its table with its leading key), as IAM does for TransactWriteItems.
 * Each item is applied with its condition; if any condition fails, every item applied is put back
 * as it was and the call fails with TransactionCanceledException and one CancellationReason per
 * item, in request order (`None` for the items that did not fail, `ConditionalCheckFailed` with
 * the item when `ReturnValuesOnConditionCheckFailure` is `ALL_OLD`). A ConditionCheck item is
 * evaluated as a conditional update that is always put back.
 * What DynamoDB documents and this keeps: 1 to 100 items, one operation per item, no two items on
 * the same key (ValidationException), all or nothing. What it does not keep: isolation from reads
 * that land while the transaction is applied (they may see part of it); DynamoDB's transactions are
 * serializable.
 */
import { AwsError, type WireResponse } from '../../edge/aws-error.ts';
import { optionalArray, validationError } from '../../edge/wire.ts';
import type { StoreCall } from './transact-get.ts';

const MAX_ITEMS = 100;
const KINDS = ['Put', 'Update', 'Delete', 'ConditionCheck'] as const;
type Kind = (typeof KINDS)[number];
type Item = Record<string, Record<string, unknown>>;

interface Action {
  kind: Kind;
  op: Record<string, unknown> & { TableName: string };
  key: Item;
}

const JSON_HEADERS = { 'content-type': 'application/x-amz-json-1.0' };

const parse = (res: WireResponse): Record<string, unknown> => JSON.parse(String(res.body) || '{}') as Record<string, unknown>;

/** The key attributes of a table (from DescribeTable), to find a Put's key in its item. */
async function keyAttributes(table: string, store: StoreCall, cache: Map<string, string[]>): Promise<string[]> {
  const known = cache.get(table);
  if (known) return known;
  const res = await store('DescribeTable', JSON.stringify({ TableName: table }));
  if (res.status !== 200) throw new AwsError('ResourceNotFoundException', 'Requested resource not found', 400);
  const schema = (parse(res).Table as { KeySchema: { AttributeName: string }[] }).KeySchema;
  const names = schema.map((k) => k.AttributeName);
  cache.set(table, names);
  return names;
}

async function actionsOf(body: Record<string, unknown>, store: StoreCall): Promise<Action[]> {
  const items = optionalArray(body, 'TransactItems') ?? [];
  if (items.length > MAX_ITEMS) throw validationError('transactItems', `have length less than or equal to ${MAX_ITEMS}`);
  if (items.length < 1) throw validationError('transactItems', 'have length greater than or equal to 1');
  const schemas = new Map<string, string[]>();
  const seen = new Set<string>();
  const actions: Action[] = [];
  for (const [i, raw] of items.entries()) {
    const entries = Object.entries((raw ?? {}) as Record<string, unknown>).filter(([k, v]) => (KINDS as readonly string[]).includes(k) && v);
    const [kind, value] = entries[0] ?? [];
    const op = value as Action['op'] | undefined;
    if (entries.length !== 1 || !op || typeof op.TableName !== 'string') {
      throw new AwsError('ValidationException', `TransactItems can only contain one of Check, Put, Update or Delete (item ${i + 1})`, 400);
    }
    let key: Item;
    if (kind === 'Put') {
      const item = (op.Item ?? {}) as Item;
      key = Object.fromEntries((await keyAttributes(op.TableName, store, schemas)).map((k) => [k, item[k]!]));
    } else {
      key = (op.Key ?? {}) as Item;
    }
    const id = `${op.TableName}\n${JSON.stringify(Object.entries(key).sort(([a], [b]) => a.localeCompare(b)))}`;
    if (seen.has(id)) throw new AwsError('ValidationException', 'Transaction request cannot include multiple operations on one item', 400);
    seen.add(id);
    actions.push({ kind: kind as Kind, op, key });
  }
  return actions;
}

/** The single-item request that applies one action with its condition. */
function apply(action: Action): [string, Record<string, unknown>] {
  const { ReturnValuesOnConditionCheckFailure: _ignored, ...op } = action.op;
  switch (action.kind) {
    case 'Put':
      return ['PutItem', op];
    case 'Update':
      return ['UpdateItem', op];
    case 'Delete':
      return ['DeleteItem', op];
    case 'ConditionCheck':
      // A write that changes nothing visible and is put back: it only evaluates the condition.
      return [
        'UpdateItem',
        {
          ...op,
          UpdateExpression: 'SET #transactConditionCheck = :transactConditionCheck',
          ExpressionAttributeNames: { ...(op.ExpressionAttributeNames as object), '#transactConditionCheck': 'transactConditionCheck' },
          ExpressionAttributeValues: { ...(op.ExpressionAttributeValues as object), ':transactConditionCheck': { BOOL: true } },
        },
      ];
  }
}

async function restore(action: Action, before: Item | undefined, store: StoreCall): Promise<void> {
  const res = before
    ? await store('PutItem', JSON.stringify({ TableName: action.op.TableName, Item: before }))
    : await store('DeleteItem', JSON.stringify({ TableName: action.op.TableName, Key: action.key }));
  if (res.status !== 200) throw new Error(`TransactWriteItems could not put back an item of ${action.op.TableName}: ${String(res.body)}`);
}

/** Serves TransactWriteItems; the caller holds the write locks of its partitions. */
export async function transactWriteItems(body: Record<string, unknown>, store: StoreCall): Promise<WireResponse> {
  const actions = await actionsOf(body, store);
  const before: (Item | undefined)[] = [];
  for (const a of actions) {
    const res = await store('GetItem', JSON.stringify({ TableName: a.op.TableName, Key: a.key, ConsistentRead: true }));
    if (res.status !== 200) return res;
    before.push(parse(res).Item as Item | undefined);
  }
  const applied: number[] = [];
  const reasons: Record<string, unknown>[] = [];
  let failure: WireResponse | undefined;
  for (const [i, a] of actions.entries()) {
    const [operation, request] = apply(a);
    const res = await store(operation, JSON.stringify(request));
    if (res.status === 200) {
      applied.push(i);
      reasons.push({ Code: 'None' });
      continue;
    }
    const error = parse(res);
    if (String(error.__type).endsWith('#ConditionalCheckFailedException')) {
      const old = a.op.ReturnValuesOnConditionCheckFailure === 'ALL_OLD' && before[i] ? { Item: before[i] } : {};
      reasons.push({ Code: 'ConditionalCheckFailed', Message: 'The conditional request failed', ...old });
      continue;
    }
    // Any other failure (a malformed expression, a missing table) is the call's answer, as it would be alone.
    failure = res;
    break;
  }
  const cancelled = failure !== undefined || reasons.some((r) => r.Code !== 'None');
  for (const i of applied) if (cancelled || actions[i]!.kind === 'ConditionCheck') await restore(actions[i]!, before[i], store);
  if (failure) return failure;
  if (!cancelled) return { status: 200, headers: JSON_HEADERS, body: '{}' };
  return {
    status: 400,
    headers: JSON_HEADERS,
    body: JSON.stringify({
      __type: 'com.amazonaws.dynamodb.v20120810#TransactionCanceledException',
      Message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${reasons.map((r) => String(r.Code)).join(', ')}]`,
      CancellationReasons: reasons,
    }),
  };
}
