/**
 * A table a killed process left in CREATING is ACTIVE at the next start (interrupted-tables.ts), as a
 * DynamoDB table in CREATING becomes ACTIVE; the control: without the repair, dynalite refuses every
 * item operation on it, and an ACTIVE table is left as it is.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import dynaliteDb from 'dynalite/db/index.js';
import { afterAll, describe, expect, it } from 'vitest';
import { finishInterruptedTables } from './interrupted-tables.ts';
import { fakeCredentials } from '../../../../test/fake-aws.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** dynalite on `dbPath` while `use` runs, with a client for it. */
async function withDynalite(dbPath: string, use: (ddb: DynamoDBClient) => Promise<void>): Promise<void> {
  const server = dynalite({ path: dbPath, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 }) as http.Server;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const ddb = new DynamoDBClient({
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    region: 'us-east-1',
    credentials: fakeCredentials(),
    maxAttempts: 1,
  });
  try {
    await use(ddb);
  } finally {
    ddb.destroy();
    await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
  }
}

const item = (id: string) => new PutItemCommand({ TableName: 'orders', Item: { userId: { S: id }, orderId: { S: 'o-1' } } });

/** A store with tables `orders` and `config`, then `orders` put back in CREATING, as a kill between dynalite's two writes leaves it. */
async function storeWithCreatingTable(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'assistant-creating-'));
  dirs.push(dir);
  const dbPath = path.join(dir, 'dynamodb');
  await withDynalite(dbPath, async (ddb) => {
    for (const TableName of ['orders', 'config']) {
      await ddb.send(
        new CreateTableCommand({
          TableName,
          BillingMode: 'PAY_PER_REQUEST',
          KeySchema: [
            { AttributeName: 'userId', KeyType: 'HASH' },
            { AttributeName: 'orderId', KeyType: 'RANGE' },
          ],
          AttributeDefinitions: [
            { AttributeName: 'userId', AttributeType: 'S' },
            { AttributeName: 'orderId', AttributeType: 'S' },
          ],
        }),
      );
      // dynalite makes it ACTIVE a tick later: wait for that (closing sooner would leave it CREATING too).
      while ((await ddb.send(new DescribeTableCommand({ TableName }))).Table?.TableStatus !== 'ACTIVE');
    }
  });
  const store = dynaliteDb.create({ path: dbPath });
  const [key, table] = ((await store.db.iterator({ gte: 'table~orders', lt: 'table~orders\uffff' }).all()) as [string, Record<string, unknown>][])[0]!;
  await new Promise<void>((resolve, reject) => store.db.put(key, { ...table, TableStatus: 'CREATING' }, (err) => (err ? reject(err) : resolve())));
  await store.db.close();
  return dbPath;
}

describe('tables left in CREATING by a killed process', () => {
  it('control: dynalite alone keeps such a table in CREATING and refuses item writes to it', async () => {
    const dbPath = await storeWithCreatingTable();
    await withDynalite(dbPath, async (ddb) => {
      expect((await ddb.send(new DescribeTableCommand({ TableName: 'orders' }))).Table?.TableStatus).toBe('CREATING');
      await expect(ddb.send(item('u-1'))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    });
  });

  it('are made ACTIVE before dynalite opens the store, and take writes; an ACTIVE table is left as it was', async () => {
    const dbPath = await storeWithCreatingTable();
    let configBefore: unknown;
    await withDynalite(dbPath, async (ddb) => {
      configBefore = (await ddb.send(new DescribeTableCommand({ TableName: 'config' }))).Table;
    });
    expect(await finishInterruptedTables(dbPath)).toEqual(['orders']);
    await withDynalite(dbPath, async (ddb) => {
      expect((await ddb.send(new DescribeTableCommand({ TableName: 'orders' }))).Table?.TableStatus).toBe('ACTIVE');
      await ddb.send(item('u-1'));
      expect((await ddb.send(new DescribeTableCommand({ TableName: 'config' }))).Table).toEqual(configBefore);
    });
    // Nothing left to finish at the next start.
    expect(await finishInterruptedTables(dbPath)).toEqual([]);
  });
});
