/**
 * DynamoDB behind the edge: `dynalite` stores the data (in memory, or in LevelDB under .data/);
 * before a request reaches it, every table it touches is authorised with the caller's policies and
 * the request's `dynamodb:LeadingKeys`, as IAM does for DynamoDB.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as DynamoDbApi from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { AwsError, parseJsonBody, type Protocol, type WireResponse } from '../../edge/aws-error.ts';
import { optionalArray, optionalObject, optionalString, optionalStringMap, requiredString, type Fields } from '../../edge/wire.ts';
import type { ContextValues, PolicyEvaluator } from '../../iam/evaluator.ts';
import type { EdgeCall } from '../../edge/edge.ts';
import { PartitionLocks, partitionId } from './partition-locks.ts';
import { transactGetItems } from './transact-get.ts';
import { transactWriteItems } from './transact-write.ts';
import { TABLE_ADMIN_OPERATIONS, TableAdmin } from './table-admin.ts';
import { finishInterruptedTables } from './interrupted-tables.ts';
import type { AwsLocation } from '../../../../tasks/aws-location.ts';

export const DYNAMODB_PROTOCOL: Protocol = {
  kind: 'json',
  version: '1.0',
  errorPrefix: 'com.amazonaws.dynamodb.v20120810#',
};

const TARGET_PREFIX = 'DynamoDB_20120810.';

/** The single-item and batch writes, which take turns with TransactWriteItems (transact-write.ts). */
const WRITE_OPERATIONS: ReadonlySet<string> = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem']);

/**
 * DynamoDB's operations, as its SDK models them (one command class per operation). Any other
 * target is UnknownOperationException before IAM is asked about an action that does not exist.
 * Operations dynalite does not implement are still authorised first (so that IAM's answer to them
 * can be tested), then refused by dynalite.
 */
const OPERATIONS: ReadonlySet<string> = new Set(
  Object.keys(DynamoDbApi)
    .filter((name) => /^[A-Z]\w*Command$/.test(name))
    .map((name) => name.slice(0, -'Command'.length)),
);

type AttributeValue = Record<string, unknown>;
type Item = Record<string, AttributeValue>;

/** One authorisation check: an action on a table (or index) with the leading keys it touches. */
export interface DynamoCheck {
  action: string;
  table: string;
  index?: string;
  /** Undefined when the request names no partition key (Scan, PartiQL, an unparseable condition). */
  leadingKeys?: string[];
  select?: string;
  /** The resource's ARN when it is not the table's (DescribeBackup: the backup's). */
  resource?: string;
}

/** The string form IAM compares: S as is, N as written, B as base64. */
export function keyValueString(value: AttributeValue | undefined): string | undefined {
  if (!value || typeof value !== 'object') return undefined;
  for (const type of ['S', 'N', 'B'] as const) {
    const v = value[type];
    if (typeof v === 'string') return v;
  }
  return undefined;
}

/**
 * The partition key values a KeyConditionExpression pins down, or undefined when it does not pin
 * one with `=` (DynamoDB itself rejects such queries; IAM then sees no leading key).
 */
export function leadingKeysFromExpression(
  expression: string,
  partitionKey: string,
  names: Record<string, string> = {},
  values: Item = {},
): string[] | undefined {
  const found: string[] = [];
  const clauses = expression.split(/\s+AND\s+/i);
  for (const raw of clauses) {
    const clause = raw.trim().replace(/^\(+/, '').replace(/\)+$/, '').trim();
    const m = /^([#:]?[\w.-]+)\s*=\s*([#:]?[\w.-]+)$/.exec(clause);
    if (!m) continue;
    const [lhs, rhs] = [m[1]!, m[2]!];
    const resolveName = (t: string) => (t.startsWith('#') ? names[t] : t.startsWith(':') ? undefined : t);
    const [attr, placeholder] = resolveName(lhs) !== undefined ? [resolveName(lhs), rhs] : [resolveName(rhs), lhs];
    if (attr !== partitionKey || !placeholder.startsWith(':')) continue;
    const v = keyValueString(values[placeholder]);
    if (v === undefined) return undefined;
    found.push(v);
  }
  return found.length > 0 ? found : undefined;
}

/**
 * A structure nested in the request (a map value, a list element), `{}` when null. Another JSON
 * type does not deserialize: SerializationException, before anything is authorised.
 */
function structure(value: unknown, field: string): Fields {
  return optionalObject({ [field]: value }, field) ?? {};
}

/** A batch request's checks, one per table of `RequestItems`, with the partition keys `itemsOf` finds in its entry. */
function perTable(action: string, body: Fields, keys: KeyResolver, itemsOf: (entry: unknown) => Item[]): Promise<DynamoCheck[]> {
  const requests = optionalObject(body, 'RequestItems') ?? {};
  return Promise.all(Object.entries(requests).map(async ([table, entry]) => ({ action, table, leadingKeys: partitionValues(itemsOf(entry), await keys.partitionKey(table)) })));
}

/** Table metadata the authoriser needs, read from dynalite itself. */
export interface KeyResolver {
  partitionKey(table: string): Promise<string | undefined>;
}

function partitionValues(items: Item[], pk: string | undefined): string[] | undefined {
  if (!pk) return undefined;
  const values: string[] = [];
  for (const item of items) {
    const v = keyValueString(item[pk]);
    if (v === undefined) return undefined;
    values.push(v);
  }
  return values;
}

const TABLE_OPERATIONS = new Set([
  'CreateTable',
  'DeleteTable',
  'DescribeTable',
  'UpdateTable',
  'DescribeTimeToLive',
  'UpdateTimeToLive',
  'DescribeContinuousBackups',
  'UpdateContinuousBackups',
  'CreateBackup',
]);

const PARTIQL_ACTIONS: Record<string, string> = {
  SELECT: 'dynamodb:PartiQLSelect',
  INSERT: 'dynamodb:PartiQLInsert',
  UPDATE: 'dynamodb:PartiQLUpdate',
  DELETE: 'dynamodb:PartiQLDelete',
};

function partiqlCheck(statement: string): DynamoCheck {
  const verb = /^\s*(\w+)/.exec(statement)?.[1]?.toUpperCase() ?? '';
  const table =
    /\b(?:FROM|INTO|UPDATE)\s+"([^"]+)"/i.exec(statement)?.[1] ?? /\b(?:FROM|INTO|UPDATE)\s+([\w.-]+)/i.exec(statement)?.[1] ?? '*';
  return { action: PARTIQL_ACTIONS[verb] ?? 'dynamodb:PartiQLSelect', table };
}

/**
 * Maps one DynamoDB request to the authorisation checks IAM performs for it. The members it reads
 * must have their JSON types (SerializationException otherwise): a request that does not
 * deserialize is refused as such, not authorised against a table name it does not have.
 */
export async function checksFor(operation: string, body: Fields, keys: KeyResolver): Promise<DynamoCheck[]> {
  const table = optionalString(body, 'TableName') ?? '';
  const action = `dynamodb:${operation}`;
  switch (operation) {
    case 'GetItem':
    case 'DeleteItem':
    case 'UpdateItem': {
      const key = (optionalObject(body, 'Key') ?? {}) as Item;
      return [{ action, table, leadingKeys: partitionValues([key], await keys.partitionKey(table)) }];
    }
    case 'PutItem': {
      const item = (optionalObject(body, 'Item') ?? {}) as Item;
      return [{ action, table, leadingKeys: partitionValues([item], await keys.partitionKey(table)) }];
    }
    case 'Query': {
      const index = optionalString(body, 'IndexName');
      const select = optionalString(body, 'Select');
      const keyConditionExpression = optionalString(body, 'KeyConditionExpression');
      const keyConditions = optionalObject(body, 'KeyConditions');
      const names = optionalStringMap(body, 'ExpressionAttributeNames') ?? {};
      const values = (optionalObject(body, 'ExpressionAttributeValues') ?? {}) as Item;
      const indexPk = await keys.partitionKey(index ? `${table}/index/${index}` : table);
      let leadingKeys: string[] | undefined;
      if (keyConditionExpression !== undefined && indexPk) {
        leadingKeys = leadingKeysFromExpression(keyConditionExpression, indexPk, names, values);
      } else if (keyConditions && indexPk) {
        const cond = structure(keyConditions[indexPk], 'KeyConditions');
        const v = optionalString(cond, 'ComparisonOperator') === 'EQ' ? keyValueString(optionalArray(cond, 'AttributeValueList')?.[0] as AttributeValue | undefined) : undefined;
        leadingKeys = v === undefined ? undefined : [v];
      }
      return [{ action, table, ...(index ? { index } : {}), leadingKeys, ...(select ? { select } : {}) }];
    }
    case 'Scan': {
      const index = optionalString(body, 'IndexName');
      return [{ action, table, ...(index ? { index } : {}) }];
    }
    case 'BatchGetItem':
      // One check per table: the keys it names.
      return perTable(action, body, keys, (r) => (optionalArray(structure(r, 'RequestItems'), 'Keys') ?? []) as Item[]);
    case 'BatchWriteItem':
      // One check per table: the items it puts and the keys it deletes.
      return perTable(action, body, keys, (writes) =>
        (optionalArray({ RequestItems: writes }, 'RequestItems') ?? []).map((w) => {
          const write = structure(w, 'RequestItems');
          const put = optionalObject(structure(write.PutRequest, 'PutRequest'), 'Item');
          const del = optionalObject(structure(write.DeleteRequest, 'DeleteRequest'), 'Key');
          return (put ?? del ?? {}) as Item;
        }),
      );
    case 'TransactGetItems': {
      const items = optionalArray(body, 'TransactItems') ?? [];
      return Promise.all(
        items.map(async (i) => {
          const get = structure(structure(i, 'TransactItems').Get, 'Get');
          const t = optionalString(get, 'TableName') ?? '';
          return { action: 'dynamodb:GetItem', table: t, leadingKeys: partitionValues([(optionalObject(get, 'Key') ?? {}) as Item], await keys.partitionKey(t)) };
        }),
      );
    }
    case 'TransactWriteItems': {
      const items = optionalArray(body, 'TransactItems') ?? [];
      const kinds: Record<string, string> = { Put: 'PutItem', Delete: 'DeleteItem', Update: 'UpdateItem', ConditionCheck: 'ConditionCheckItem' };
      return Promise.all(
        items.flatMap((i) =>
          Object.entries(structure(i, 'TransactItems')).map(async ([kind, value]) => {
            const op = structure(value, kind);
            const t = optionalString(op, 'TableName') ?? '';
            return {
              action: `dynamodb:${kinds[kind] ?? kind}`,
              table: t,
              leadingKeys: partitionValues([(optionalObject(op, 'Key') ?? optionalObject(op, 'Item') ?? {}) as Item], await keys.partitionKey(t)),
            };
          }),
        ),
      );
    }
    case 'ExecuteStatement':
      return [partiqlCheck(optionalString(body, 'Statement') ?? '')];
    case 'BatchExecuteStatement':
      return statements(body, 'Statements');
    case 'ExecuteTransaction':
      return statements(body, 'TransactStatements');
    case 'ListTables':
      return [{ action, table: '*' }];
    case 'DescribeBackup':
      // Authorised on the backup's ARN (`table/<name>/backup/<id>`), the Service Authorization Reference's `backup` resource.
      return [{ action, table: '', resource: requiredString(body, 'BackupArn', { wireName: 'backupArn' }) }];
    default:
      if (TABLE_OPERATIONS.has(operation) || table) return [{ action, table }];
      return [{ action, table: '*' }];
  }
}

/** The PartiQL checks of a list of `{ Statement }` structures. */
function statements(body: Fields, field: string): DynamoCheck[] {
  return (optionalArray(body, field) ?? []).map((s) => partiqlCheck(optionalString(structure(s, field), 'Statement') ?? ''));
}

export function resourceArn(loc: AwsLocation, check: DynamoCheck): string {
  if (check.resource !== undefined) return check.resource;
  if (check.table === '*') return '*';
  const base = `arn:${loc.partition}:dynamodb:${loc.region}:${loc.accountId}:table/${check.table}`;
  return check.index ? `${base}/index/${check.index}` : base;
}

export function checkContext(check: DynamoCheck): ContextValues {
  const ctx: ContextValues = {};
  if (check.leadingKeys) ctx['dynamodb:LeadingKeys'] = check.leadingKeys;
  if (check.select) ctx['dynamodb:Select'] = check.select;
  return ctx;
}

export interface DynamoOptions {
  /** LevelDB directory; in memory when undefined. */
  path?: string;
  location: AwsLocation;
  evaluator: PolicyEvaluator;
  /** Where table records and on-demand backups are kept (table-admin.ts). In memory when undefined. */
  dataDir?: string;
  clock?: () => Date;
}

/** dynalite on a private loopback port, and the authorising front that the edge calls. */
export class DynamoService {
  readonly protocol = DYNAMODB_PROTOCOL;
  private server!: http.Server;
  private port = 0;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  private readonly schemaCache = new Map<string, string | undefined>();
  /** Encryption, point-in-time recovery and backups: what dynalite does not keep. */
  readonly tableAdmin: TableAdmin;

  constructor(private readonly options: DynamoOptions) {
    this.tableAdmin = new TableAdmin({
      protocol: DYNAMODB_PROTOCOL,
      location: options.location,
      clock: options.clock ?? (() => new Date()),
      forward: (operation, body) => this.forward(operation, body, {}),
      ...(options.dataDir ? { dataDir: options.dataDir } : {}),
    });
  }

  async start(): Promise<void> {
    // A table a killed process left in CREATING is made ACTIVE, as DynamoDB finishes creating it.
    if (this.options.path) await finishInterruptedTables(this.options.path);
    this.server = dynalite({
      path: this.options.path,
      createTableMs: 0,
      deleteTableMs: 0,
      updateTableMs: 0,
    }) as http.Server;
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** dynalite's own address: only for the benchmark's direct baseline and for seeding checks. */
  get directEndpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    await this.tableAdmin.flush();
    this.agent.destroy();
    await new Promise<void>((resolve, reject) => this.server.close((err) => (err ? reject(err) : resolve())));
  }

  private readonly keys: KeyResolver = {
    partitionKey: async (name: string) => {
      if (this.schemaCache.has(name)) return this.schemaCache.get(name);
      const [table, , index] = name.split('/');
      const res = await this.forward('DescribeTable', JSON.stringify({ TableName: table }), {});
      if (res.status !== 200) return undefined; // the operation itself will report the missing table
      const desc = JSON.parse(String(res.body)).Table as {
        KeySchema: { AttributeName: string; KeyType: string }[];
        GlobalSecondaryIndexes?: { IndexName: string; KeySchema: { AttributeName: string; KeyType: string }[] }[];
        LocalSecondaryIndexes?: { IndexName: string; KeySchema: { AttributeName: string; KeyType: string }[] }[];
      };
      const schema = index
        ? [...(desc.GlobalSecondaryIndexes ?? []), ...(desc.LocalSecondaryIndexes ?? [])].find((i) => i.IndexName === index)?.KeySchema
        : desc.KeySchema;
      const pk = schema?.find((k) => k.KeyType === 'HASH')?.AttributeName;
      this.schemaCache.set(name, pk);
      return pk;
    },
  };

  async handle({ principal, target, body, headers, requestId }: EdgeCall): Promise<WireResponse> {
    const operation = target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : '';
    if (!OPERATIONS.has(operation)) throw new AwsError('UnknownOperationException', 'Unknown operation', 400);
    // DynamoDB's own wording for a body that is not a JSON object.
    const parsed = parseJsonBody(body, 'Start of structure or map found where not expected.');
    const checks = await checksFor(operation, parsed, this.keys);
    for (const check of checks) {
      await this.options.evaluator.authorize({
        principal,
        action: check.action,
        resource: resourceArn(this.options.location, check),
        context: checkContext(check),
      });
    }
    if (operation === 'CreateTable' || operation === 'DeleteTable' || operation === 'UpdateTable') {
      const table = optionalString(parsed, 'TableName') ?? '';
      for (const key of this.schemaCache.keys()) if (key === table || key.startsWith(`${table}/`)) this.schemaCache.delete(key);
    }
    if (operation === 'TransactGetItems') return transactGetItems(parsed, (op, json) => this.forward(op, json, headers));
    if (operation === 'TransactWriteItems') {
      return this.locks.run(await this.writtenPartitions(operation, parsed), () => transactWriteItems(parsed, (op, json) => this.forward(op, json, headers)));
    }
    if (WRITE_OPERATIONS.has(operation)) return this.locks.run(await this.writtenPartitions(operation, parsed), () => this.forward(operation, body, headers));
    if (TABLE_ADMIN_OPERATIONS.has(operation)) return this.tableAdmin.handle(operation, parsed, requestId);
    if (operation === 'CreateTable' || operation === 'DescribeTable' || operation === 'DeleteTable') {
      return this.tableAdmin.decorate(operation, parsed, await this.forward(operation, body, headers));
    }
    return this.forward(operation, body, headers);
  }

  /** Writes take turns per partition, so that a transaction (applied item by item) sees no other write on its items in between. */
  private readonly locks = new PartitionLocks();

  /** The partitions a write request names (its key, each put or deleted item, each transaction item). */
  private async writtenPartitions(operation: string, body: Fields): Promise<string[]> {
    const table = optionalString(body, 'TableName') ?? '';
    const of = async (t: string, item: unknown) => partitionId(t, await this.keys.partitionKey(t), item as Record<string, unknown> | undefined);
    switch (operation) {
      case 'PutItem':
        return [await of(table, body.Item)];
      case 'UpdateItem':
      case 'DeleteItem':
        return [await of(table, body.Key)];
      case 'BatchWriteItem': {
        const ids: string[] = [];
        for (const [t, requests] of Object.entries((body.RequestItems ?? {}) as Record<string, unknown[]>)) {
          for (const r of Array.isArray(requests) ? requests : []) {
            const req = r as { PutRequest?: { Item?: unknown }; DeleteRequest?: { Key?: unknown } };
            ids.push(await of(t, req.PutRequest?.Item ?? req.DeleteRequest?.Key));
          }
        }
        return ids;
      }
      default: {
        const ids: string[] = [];
        for (const raw of (Array.isArray(body.TransactItems) ? body.TransactItems : []) as Record<string, { TableName?: string; Key?: unknown; Item?: unknown } | undefined>[]) {
          for (const op of Object.values(raw ?? {})) if (op && typeof op.TableName === 'string') ids.push(await of(op.TableName, op.Item ?? op.Key));
        }
        return ids;
      }
    }
  }

  /** Sends an already authorised request to dynalite. */
  private forward(operation: string, body: Buffer | string, headers: Record<string, string>): Promise<WireResponse> {
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port: this.port,
          method: 'POST',
          path: '/',
          agent: this.agent,
          headers: {
            'content-type': 'application/x-amz-json-1.0',
            'x-amz-target': `DynamoDB_20120810.${operation}`,
            // dynalite checks that a signature is present; the edge has already verified the real one.
            authorization: headers.authorization ?? 'AWS4-HMAC-SHA256 Credential=edge/20200101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0',
            'x-amz-date': headers['x-amz-date'] ?? '20200101T000000Z',
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const out: Record<string, string> = {};
            for (const h of ['content-type', 'x-amzn-requestid', 'x-amz-crc32']) {
              const v = res.headers[h];
              if (typeof v === 'string') out[h] = v;
            }
            resolve({ status: res.statusCode ?? 500, headers: out, body: Buffer.concat(chunks) });
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }
}
