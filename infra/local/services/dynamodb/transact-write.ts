/**
 * TransactWriteItems, which dynalite does not implement: the stand-in runs it after the edge has
 * authorised every item (service.ts checksFor: Put/Update/Delete/ConditionCheck as PutItem,
 * UpdateItem, DeleteItem, ConditionCheckItem on its table with its leading key), as IAM does.
 *
 * What DynamoDB documents and this keeps: 1 to 100 items, each exactly one of Put, Update, Delete or
 * ConditionCheck; no two actions on the same item (ValidationException); all or nothing: when a
 * condition fails, nothing is written and the call fails with TransactionCanceledException whose
 * CancellationReasons hold one entry per item in request order (`ConditionalCheckFailed` with its
 * message, `None` for the others), and the old item for a failed condition that asked for
 * ReturnValuesOnConditionCheckFailure ALL_OLD; a success returns `{}`.
 *
 * How: transactions and single-item writes run one at a time (a queue per stand-in); each item
 * runs as its single-item operation in dynalite with its condition (a ConditionCheck as an
 * UpdateItem with no update), after its current image was read; a cancelled transaction, and every
 * ConditionCheck, restores the images read. What it does not keep: isolation from reads that land
 * while a transaction runs (they may see a write that is then rolled back), and
 * TransactionConflict (concurrent transactions are serialised here, never in conflict).
 */
import type { WireResponse } from '../../edge/aws-error.ts';
import { optionalArray, validationError } from '../../edge/wire.ts';
import type { StoreCall } from './transact-get.ts';

const MAX_ITEMS = 100;

type Item = Record<string, unknown>;
type Kind = 'Put' | 'Update' | 'Delete' | 'ConditionCheck';

interface Action {
  kind: Kind;
  table: string;
  key: Item;
  body: Item;
  returnOld: boolean;
}

const JSON_HEADERS = { 'content-type': 'application/x-amz-json-1.0' };

function errorResponse(code: string, message: string, extra: Record<string, unknown> = {}): WireResponse {
  return { status: 400, headers: JSON_HEADERS, body: JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${code}`, message, ...extra }) };
}

/** The table's key attribute names (hash, then range). */
async function keyNames(table: string, store: StoreCall): Promise<string[] | WireResponse> {
  const res = await store('DescribeTable', JSON.stringify({ TableName: table }));
  if (res.status !== 200) return res;
  const schema = (JSON.parse(String(res.body)) as { Table: { KeySchema: { AttributeName: string; KeyType: string }[] } }).Table.KeySchema;
  return [...schema].sort((a) => (a.KeyType === 'HASH' ? -1 : 1)).map((k) => k.AttributeName);
}

function parseActions(body: Record<string, unknown>): Omit<Action, 'key'>[] {
  const items = optionalArray(body, 'TransactItems') ?? [];
  if (items.length > MAX_ITEMS) throw validationError('transactItems', `have length less than or equal to ${MAX_ITEMS}`);
  if (items.length < 1) throw validationError('transactItems', 'have length greater than or equal to 1');
  return items.map((entry, i) => {
    const kinds = Object.keys((entry ?? {}) as object) as Kind[];
    const kind = kinds[0];
    const op = kind ? ((entry as Record<string, Item>)[kind] as Item) : undefined;
    if (kinds.length !== 1 || !op || typeof op.TableName !== 'string' || !['Put', 'Update', 'Delete', 'ConditionCheck'].includes(kind!)) {
      throw validationError(`transactItems.${i + 1}.member`, 'have exactly one of Put, Update, Delete or ConditionCheck');
    }
    return { kind: kind!, table: op.TableName, body: op, returnOld: op.ReturnValuesOnConditionCheckFailure === 'ALL_OLD' };
  });
}

/** The single-item request that performs (or, for a ConditionCheck, only checks) one action. */
function singleRequest(action: Action): [string, Item] {
  const { ReturnValuesOnConditionCheckFailure: _ignored, ...op } = action.body;
  switch (action.kind) {
    case 'Put':
      return ['PutItem', op];
    case 'Update':
      return ['UpdateItem', op];
    case 'Delete':
      return ['DeleteItem', op];
    case 'ConditionCheck':
      return ['UpdateItem', op];
  }
}

/** Puts back the image read before the action (or deletes the item the action created). */
async function restore(action: Action, before: Item | undefined, store: StoreCall): Promise<void> {
  const res = before
    ? await store('PutItem', JSON.stringify({ TableName: action.table, Item: before }))
    : await store('DeleteItem', JSON.stringify({ TableName: action.table, Key: action.key }));
  if (res.status !== 200) throw new Error(`TransactWriteItems could not roll back ${action.table}: ${String(res.body)}`);
}

export class TransactWriter {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly store: StoreCall) {}

  /** Runs one TransactWriteItems, after the writes before it. */
  run(body: Record<string, unknown>): Promise<WireResponse> {
    const parsed = parseActions(body);
    return this.exclusive(() => this.transact(parsed));
  }

  /**
   * Runs a write alone: single-item writes go through here too (service.ts), so that none lands
   * between a transaction's read of an item and its roll-back (which would undo it).
   */
  exclusive<T>(write: () => Promise<T>): Promise<T> {
    const next = this.queue.then(write);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async transact(parsed: ReturnType<typeof parseActions>): Promise<WireResponse> {
    const actions: Action[] = [];
    const seen = new Set<string>();
    for (const p of parsed) {
      const names = await keyNames(p.table, this.store);
      if (!Array.isArray(names)) return names;
      const source = (p.kind === 'Put' ? p.body.Item : p.body.Key) as Item | undefined;
      if (!source || typeof source !== 'object') return errorResponse('ValidationException', `The ${p.kind} of table ${p.table} names no ${p.kind === 'Put' ? 'Item' : 'Key'}`);
      const key = Object.fromEntries(names.map((n) => [n, source[n]]));
      const id = JSON.stringify([p.table, names.map((n) => source[n])]);
      if (seen.has(id)) return errorResponse('ValidationException', 'Transaction request cannot include multiple operations on one item');
      seen.add(id);
      actions.push({ ...p, key });
    }
    const before: (Item | undefined)[] = [];
    for (const action of actions) {
      const res = await this.store('GetItem', JSON.stringify({ TableName: action.table, Key: action.key, ConsistentRead: true }));
      if (res.status !== 200) return res;
      before.push((JSON.parse(String(res.body)) as { Item?: Item }).Item);
    }
    const reasons: Record<string, unknown>[] = [];
    const applied: number[] = [];
    let failure: WireResponse | undefined;
    for (const [i, action] of actions.entries()) {
      const [operation, request] = singleRequest(action);
      const res = await this.store(operation, JSON.stringify(request));
      if (res.status === 200) {
        applied.push(i);
        reasons.push({ Code: 'None' });
        continue;
      }
      const error = JSON.parse(String(res.body)) as { __type?: string; message?: string };
      if (error.__type?.endsWith('#ConditionalCheckFailedException')) {
        const old = before[i];
        reasons.push({ Code: 'ConditionalCheckFailed', Message: 'The conditional request failed', ...(action.returnOld && old ? { Item: old } : {}) });
      } else {
        failure = res;
        break;
      }
    }
    const cancelled = failure !== undefined || reasons.some((r) => r.Code !== 'None');
    for (const i of applied) {
      if (cancelled || actions[i]!.kind === 'ConditionCheck') await restore(actions[i]!, before[i], this.store);
    }
    if (failure) return failure;
    if (cancelled) {
      const codes = reasons.map((r) => r.Code).join(', ');
      return errorResponse('TransactionCanceledException', `Transaction cancelled, please refer cancellation reasons for specific reasons [${codes}]`, { CancellationReasons: reasons });
    }
    return { status: 200, headers: JSON_HEADERS, body: '{}' };
  }
}
