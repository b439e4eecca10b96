import { describe, expect, it } from 'vitest';
import type { WireResponse } from '../../edge/aws-error.ts';
import { transactGetItems, type StoreCall } from './transact-get.ts';

const ok = (payload: unknown): WireResponse => ({ status: 200, headers: {}, body: JSON.stringify(payload) });

/** A store that answers from `rows` by table and key, records each call, and refuses anything but GetItem. */
function store(rows: Record<string, Record<string, unknown>>, calls: string[] = []): StoreCall {
  return async (operation, body) => {
    if (operation !== 'GetItem') throw new Error(`unexpected ${operation}`);
    const get = JSON.parse(body) as { TableName: string; Key: { id: { S: string } }; ConsistentRead: boolean };
    calls.push(`${get.TableName}/${get.Key.id.S}/${get.ConsistentRead}`);
    if (get.TableName === 'missing') return { status: 400, headers: {}, body: JSON.stringify({ __type: 'ResourceNotFoundException' }) };
    const item = rows[`${get.TableName}/${get.Key.id.S}`];
    return ok(item ? { Item: item } : {});
  };
}
const get = (table: string, id: string) => ({ Get: { TableName: table, Key: { id: { S: id } } } });

describe('TransactGetItems on the local DynamoDB', () => {
  it('reads each item consistently, in request order, with {} for an item that does not exist', async () => {
    const calls: string[] = [];
    const rows = { 'a/1': { id: { S: '1' } }, 'b/2': { id: { S: '2' } } };
    const res = await transactGetItems({ TransactItems: [get('b', '2'), get('a', 'none'), get('a', '1')] }, store(rows, calls));
    expect(res.status).toBe(200);
    expect(JSON.parse(String(res.body))).toEqual({ Responses: [{ Item: { id: { S: '2' } } }, {}, { Item: { id: { S: '1' } } }] });
    expect(calls).toEqual(['b/2/true', 'a/none/true', 'a/1/true']);
  });

  it('fails the whole call with the first failed read, and reads nothing after it', async () => {
    const calls: string[] = [];
    const res = await transactGetItems({ TransactItems: [get('a', '1'), get('missing', 'x'), get('a', '2')] }, store({}, calls));
    expect(res.status).toBe(400);
    expect(String(res.body)).toContain('ResourceNotFoundException');
    expect(calls).toEqual(['a/1/true', 'missing/x/true']);
  });

  it('refuses no items, more than 100, and an item without Get, as DynamoDB validates them', async () => {
    const never = store({}, []);
    await expect(transactGetItems({ TransactItems: [] }, never)).rejects.toMatchObject({ code: 'ValidationException', message: expect.stringContaining("at 'transactItems' failed to satisfy constraint: Member must have length greater than or equal to 1") });
    const many = Array.from({ length: 101 }, (_, i) => get('a', String(i)));
    await expect(transactGetItems({ TransactItems: many }, never)).rejects.toMatchObject({ message: expect.stringContaining('Member must have length less than or equal to 100') });
    await expect(transactGetItems({ TransactItems: [{ Put: {} }] }, never)).rejects.toMatchObject({ message: expect.stringContaining("Value null at 'transactItems.1.member.get'") });
    await expect(transactGetItems({ TransactItems: 'x' }, never)).rejects.toMatchObject({ code: 'SerializationException' });
  });
});
