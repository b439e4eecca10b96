/**
 * DynamoDB behind the edge: `dynalite` stores the data (in memory, or in LevelDB under .data/);
 * before a request reaches it, every table it touches is authorised with the caller's policies and
 * the request's `dynamodb:LeadingKeys`, as IAM does for DynamoDB.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import dynalite from 'dynalite';
import { AwsError, parseJsonBody, type Protocol, type WireResponse } from '../../edge/aws-error.ts';
import type { ContextValues, PolicyEvaluator } from '../../iam/evaluator.ts';
import type { EdgeCall } from '../../edge/edge.ts';
import { transactGetItems } from './transact-get.ts';
import type { AwsLocation } from '../../../../tasks/aws-location.ts';

export const DYNAMODB_PROTOCOL: Protocol = {
  kind: 'json',
  version: '1.0',
  errorPrefix: 'com.amazonaws.dynamodb.v20120810#',
};

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
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
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

type Body = Record<string, unknown>;

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

/** Maps one DynamoDB request to the authorisation checks IAM performs for it. */
export async function checksFor(operation: string, body: Body, keys: KeyResolver): Promise<DynamoCheck[]> {
  const table = str(body.TableName) ?? '';
  const action = `dynamodb:${operation}`;
  switch (operation) {
    case 'GetItem':
    case 'DeleteItem':
    case 'UpdateItem': {
      const pk = await keys.partitionKey(table);
      return [{ action, table, leadingKeys: partitionValues([(body.Key ?? {}) as Item], pk) }];
    }
    case 'PutItem': {
      const pk = await keys.partitionKey(table);
      return [{ action, table, leadingKeys: partitionValues([(body.Item ?? {}) as Item], pk) }];
    }
    case 'Query': {
      const pk = await keys.partitionKey(table);
      const index = str(body.IndexName);
      const indexPk = index ? await keys.partitionKey(`${table}/index/${index}`) : pk;
      let leadingKeys: string[] | undefined;
      if (typeof body.KeyConditionExpression === 'string' && indexPk) {
        leadingKeys = leadingKeysFromExpression(
          body.KeyConditionExpression,
          indexPk,
          (body.ExpressionAttributeNames ?? {}) as Record<string, string>,
          (body.ExpressionAttributeValues ?? {}) as Item,
        );
      } else if (body.KeyConditions && indexPk) {
        const cond = (body.KeyConditions as Record<string, { ComparisonOperator?: string; AttributeValueList?: AttributeValue[] }>)[indexPk];
        const v = cond?.ComparisonOperator === 'EQ' ? keyValueString(cond.AttributeValueList?.[0]) : undefined;
        leadingKeys = v === undefined ? undefined : [v];
      }
      return [{ action, table, ...(index ? { index } : {}), leadingKeys, ...(str(body.Select) ? { select: str(body.Select) } : {}) }];
    }
    case 'Scan': {
      const index = str(body.IndexName);
      return [{ action, table, ...(index ? { index } : {}) }];
    }
    case 'BatchGetItem': {
      const requests = (body.RequestItems ?? {}) as Record<string, { Keys?: Item[] }>;
      return Promise.all(
        Object.entries(requests).map(async ([t, r]) => ({
          action,
          table: t,
          leadingKeys: partitionValues(r.Keys ?? [], await keys.partitionKey(t)),
        })),
      );
    }
    case 'BatchWriteItem': {
      const requests = (body.RequestItems ?? {}) as Record<string, { PutRequest?: { Item?: Item }; DeleteRequest?: { Key?: Item } }[]>;
      return Promise.all(
        Object.entries(requests).map(async ([t, writes]) => ({
          action,
          table: t,
          leadingKeys: partitionValues(
            writes.map((w) => w.PutRequest?.Item ?? w.DeleteRequest?.Key ?? {}),
            await keys.partitionKey(t),
          ),
        })),
      );
    }
    case 'TransactGetItems': {
      const items = (body.TransactItems ?? []) as { Get?: { TableName?: string; Key?: Item } }[];
      return Promise.all(
        items.map(async (i) => {
          const t = str(i.Get?.TableName) ?? '';
          return { action: 'dynamodb:GetItem', table: t, leadingKeys: partitionValues([i.Get?.Key ?? {}], await keys.partitionKey(t)) };
        }),
      );
    }
    case 'TransactWriteItems': {
      const items = (body.TransactItems ?? []) as Record<string, { TableName?: string; Key?: Item; Item?: Item }>[];
      const kinds: Record<string, string> = { Put: 'PutItem', Delete: 'DeleteItem', Update: 'UpdateItem', ConditionCheck: 'ConditionCheckItem' };
      return Promise.all(
        items.flatMap((i) =>
          Object.entries(i).map(async ([kind, op]) => {
            const t = str(op.TableName) ?? '';
            return {
              action: `dynamodb:${kinds[kind] ?? kind}`,
              table: t,
              leadingKeys: partitionValues([op.Key ?? op.Item ?? {}], await keys.partitionKey(t)),
            };
          }),
        ),
      );
    }
    case 'ExecuteStatement':
      return [partiqlCheck(str(body.Statement) ?? '')];
    case 'BatchExecuteStatement':
      return ((body.Statements ?? []) as { Statement?: string }[]).map((s) => partiqlCheck(str(s.Statement) ?? ''));
    case 'ExecuteTransaction':
      return ((body.TransactStatements ?? []) as { Statement?: string }[]).map((s) => partiqlCheck(str(s.Statement) ?? ''));
    case 'ListTables':
      return [{ action, table: '*' }];
    default:
      if (TABLE_OPERATIONS.has(operation) || table) return [{ action, table }];
      return [{ action, table: '*' }];
  }
}

export function resourceArn(loc: AwsLocation, check: DynamoCheck): string {
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
}

/** dynalite on a private loopback port, and the authorising front that the edge calls. */
export class DynamoService {
  readonly protocol = DYNAMODB_PROTOCOL;
  private server!: http.Server;
  private port = 0;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  private readonly schemaCache = new Map<string, string | undefined>();

  constructor(private readonly options: DynamoOptions) {}

  async start(): Promise<void> {
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

  async handle({ principal, target, body, headers }: EdgeCall): Promise<WireResponse> {
    const [api, operation] = target.split('.');
    if (api !== 'DynamoDB_20120810' || !operation) {
      throw new AwsError('UnknownOperationException', 'Unknown operation', 400);
    }
    // DynamoDB's own wording for a body that is not a JSON object.
    const parsed = parseJsonBody(body, 'Start of structure or map found where not expected.') as Body;
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
      for (const key of this.schemaCache.keys()) if (key === parsed.TableName || key.startsWith(`${String(parsed.TableName)}/`)) this.schemaCache.delete(key);
    }
    if (operation === 'TransactGetItems') return transactGetItems(parsed, (op, json) => this.forward(op, json, headers));
    return this.forward(operation, body, headers);
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
