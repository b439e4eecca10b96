/**
 * TransactGetItems, which dynalite does not implement: the stand-in serves it as one GetItem per
 * item (strongly consistent), after the edge has authorised every item as `dynamodb:GetItem` on its
 * table with its leading key, as IAM does for TransactGetItems. What DynamoDB documents and this
 * keeps: 1 to 100 items, each a `Get` with TableName and Key; all or nothing (any failed read fails
 * the call); `Responses` in request order, an empty object for an item that does not exist.
 * What it does not keep: isolation from writes that land between two of its reads (DynamoDB's
 * transactions are serializable). The product itself never calls it; the isolation tests do.
 */
import type { WireResponse } from '../../edge/aws-error.ts';
import { optionalArray, validationError } from '../../edge/wire.ts';

const MAX_ITEMS = 100;

/** Sends one operation to the store: dynalite behind the authorising front. */
export type StoreCall = (operation: string, body: string) => Promise<WireResponse>;

export async function transactGetItems(body: Record<string, unknown>, store: StoreCall): Promise<WireResponse> {
  const items = optionalArray(body, 'TransactItems') ?? [];
  // AWS quotes the whole list in this message; the stand-in leaves it out.
  if (items.length > MAX_ITEMS) throw validationError('transactItems', `have length less than or equal to ${MAX_ITEMS}`);
  if (items.length < 1) throw validationError('transactItems', 'have length greater than or equal to 1');
  const gets = items.map((item, i) => {
    const get = (item as { Get?: Record<string, unknown> } | null)?.Get;
    if (!get || typeof get.TableName !== 'string' || typeof get.Key !== 'object' || get.Key === null) {
      throw validationError(`transactItems.${i + 1}.member.get`, 'not be null', { value: null });
    }
    const { TableName, Key, ProjectionExpression, ExpressionAttributeNames } = get;
    return { TableName, Key, ConsistentRead: true, ...(ProjectionExpression ? { ProjectionExpression } : {}), ...(ExpressionAttributeNames ? { ExpressionAttributeNames } : {}) };
  });
  const responses: Record<string, unknown>[] = [];
  for (const get of gets) {
    const res = await store('GetItem', JSON.stringify(get));
    // All or nothing: the first failed read is the call's answer.
    if (res.status !== 200) return res;
    const { Item } = JSON.parse(String(res.body)) as { Item?: Record<string, unknown> };
    responses.push(Item ? { Item } : {});
  }
  return { status: 200, headers: { 'content-type': 'application/x-amz-json-1.0' }, body: JSON.stringify({ Responses: responses }) };
}
