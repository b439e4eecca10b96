/**
 * The local AppSync's DynamoDB data source: the request object an APPSYNC_JS resolver or function
 * returned (`operation: 'GetItem' | 'PutItem' | 'UpdateItem' | 'DeleteItem' | 'Query' |
 * 'TransactWriteItems'`, keys and values in DynamoDB JSON) becomes a DynamoDB JSON-protocol
 * request, signed as the data source's role and sent through the edge (where IAM decides, as for
 * any caller); the response becomes what AppSync gives the resolver: `ctx.result` in plain JSON
 * (an item, `{ items, nextToken, scannedCount }`, `{ keys, cancellationReasons }`), or `ctx.error`
 * (`{ message, type: 'DynamoDB:<error>' }`) through a DataSourceError.
 */
import type { ApiTable } from '../../../resolvers.ts';
import { fromDynamoDB, fromItem, type AttributeValue } from './dynamodb-json.ts';
import type { HttpDataSourceRequest } from './graphql.ts';
import { DataSourceError } from './resolver-runtime.ts';

type Item = Record<string, AttributeValue>;

interface Expression {
  expression: string;
  expressionNames?: Record<string, string>;
  expressionValues?: Item;
}

interface ItemRequest {
  operation: string;
  key?: Item;
  attributeValues?: Item;
  update?: Expression;
  condition?: Expression & { returnValuesOnConditionCheckFailure?: boolean };
  consistentRead?: boolean;
  projection?: Expression;
}

interface QueryRequest {
  operation: string;
  query: Expression;
  filter?: Expression;
  index?: string;
  limit?: number;
  nextToken?: string;
  scanIndexForward?: boolean;
  consistentRead?: boolean;
}

interface TransactItem extends ItemRequest {
  table: string;
}

type Wire = { operation: string; body: Record<string, unknown> };

/** ExpressionAttributeNames and Values of several expressions (a condition beside an update), merged. */
function expressionParts(...expressions: (Expression | undefined)[]): Record<string, unknown> {
  const names: Record<string, string> = {};
  const values: Item = {};
  for (const e of expressions) {
    Object.assign(names, e?.expressionNames ?? {});
    Object.assign(values, e?.expressionValues ?? {});
  }
  return {
    ...(Object.keys(names).length ? { ExpressionAttributeNames: names } : {}),
    ...(Object.keys(values).length ? { ExpressionAttributeValues: values } : {}),
  };
}

const conditionPart = (condition?: Expression) => (condition ? { ConditionExpression: condition.expression } : {});

function bad(message: string): DataSourceError {
  return new DataSourceError(message, 'DynamoDB:ValidationException');
}

/** The DynamoDB request of one item operation on `table` (alone, or inside a transaction). */
function itemBody(table: string, req: ItemRequest): Record<string, unknown> {
  if (!req.key || typeof req.key !== 'object') throw bad(`${req.operation} needs a key`);
  const base = { TableName: table, Key: req.key };
  switch (req.operation) {
    case 'GetItem':
      return {
        ...base,
        ...(req.consistentRead ? { ConsistentRead: true } : {}),
        ...(req.projection ? { ProjectionExpression: req.projection.expression, ...expressionParts(req.projection) } : {}),
      };
    case 'PutItem':
      return { TableName: table, Item: { ...req.attributeValues, ...req.key }, ...conditionPart(req.condition), ...expressionParts(req.condition) };
    case 'UpdateItem':
      if (!req.update?.expression) throw bad('UpdateItem needs update.expression');
      return { ...base, UpdateExpression: req.update.expression, ...conditionPart(req.condition), ...expressionParts(req.update, req.condition) };
    case 'DeleteItem':
    case 'ConditionCheck':
      return { ...base, ...conditionPart(req.condition), ...expressionParts(req.condition) };
    default:
      throw bad(`Unsupported operation ${req.operation}`);
  }
}

const TRANSACT_KIND: Record<string, string> = { PutItem: 'Put', UpdateItem: 'Update', DeleteItem: 'Delete', ConditionCheck: 'ConditionCheck' };

/** The DynamoDB JSON-protocol request for an AppSync DynamoDB request object on the data source's table. */
export function wireRequest(table: string, request: unknown): Wire {
  const req = request as ItemRequest & QueryRequest & { transactItems?: TransactItem[] };
  if (!req || typeof req !== 'object' || typeof req.operation !== 'string') throw bad('The request object has no operation');
  switch (req.operation) {
    case 'GetItem':
      return { operation: 'GetItem', body: itemBody(table, req) };
    case 'PutItem':
      return { operation: 'PutItem', body: itemBody(table, req) };
    case 'UpdateItem':
      return { operation: 'UpdateItem', body: { ...itemBody(table, req), ReturnValues: 'ALL_NEW' } };
    case 'DeleteItem':
      return { operation: 'DeleteItem', body: { ...itemBody(table, req), ReturnValues: 'ALL_OLD' } };
    case 'Query':
      return {
        operation: 'Query',
        body: {
          TableName: table,
          KeyConditionExpression: req.query.expression,
          ...(req.filter ? { FilterExpression: req.filter.expression } : {}),
          ...expressionParts(req.query, req.filter),
          ...(req.index ? { IndexName: req.index } : {}),
          ...(req.limit !== undefined ? { Limit: req.limit } : {}),
          ...(req.nextToken ? { ExclusiveStartKey: JSON.parse(Buffer.from(req.nextToken, 'base64').toString('utf8')) as unknown } : {}),
          ...(req.scanIndexForward === false ? { ScanIndexForward: false } : {}),
          ...(req.consistentRead ? { ConsistentRead: true } : {}),
        },
      };
    case 'TransactWriteItems':
      if (!Array.isArray(req.transactItems)) throw bad('TransactWriteItems needs transactItems');
      return {
        operation: 'TransactWriteItems',
        body: {
          TransactItems: req.transactItems.map((item) => {
            const kind = TRANSACT_KIND[item.operation];
            if (!kind || typeof item.table !== 'string') throw bad('Each transact item needs a table and an operation: PutItem, UpdateItem, DeleteItem or ConditionCheck');
            return { [kind]: itemBody(item.table, item) };
          }),
        },
      };
    default:
      throw bad(`Unsupported operation ${req.operation}`);
  }
}

/** `ctx.result` of a successful call. */
export function resultOf(wire: Wire, request: unknown, response: Record<string, unknown>): unknown {
  switch (wire.operation) {
    case 'GetItem':
      return response.Item ? fromItem(response.Item as Item) : null;
    case 'PutItem':
      // AppSync returns the item it wrote.
      return fromItem(wire.body.Item as Item);
    case 'UpdateItem':
    case 'DeleteItem':
      return response.Attributes ? fromItem(response.Attributes as Item) : null;
    case 'Query':
      return {
        items: ((response.Items ?? []) as Item[]).map(fromItem),
        nextToken: response.LastEvaluatedKey ? Buffer.from(JSON.stringify(response.LastEvaluatedKey)).toString('base64') : null,
        scannedCount: response.ScannedCount ?? 0,
      };
    default:
      // TransactWriteItems: the keys of the items written, in request order.
      return { keys: (request as { transactItems: TransactItem[] }).transactItems.map((i) => fromItem(i.key!)), cancellationReasons: null };
  }
}

interface WireError {
  __type?: string;
  message?: string;
  Message?: string;
  CancellationReasons?: { Code?: string; Message?: string; Item?: Item }[];
}

/**
 * Errors that the AWS SDK for Java (AppSync's client) does not model as their own exception class
 * surface as `DynamoDB:DynamoDbException` (AccessDeniedException among them); the modelled ones
 * by name (`DynamoDB:ConditionalCheckFailedException`, `DynamoDB:TransactionCanceledException`...).
 */
const MODELLED_ERRORS = new Set([
  'ConditionalCheckFailedException',
  'TransactionCanceledException',
  'TransactionConflictException',
  'ProvisionedThroughputExceededException',
  'ResourceNotFoundException',
  'ItemCollectionSizeLimitExceededException',
  'RequestLimitExceeded',
  'InternalServerErrorException',
]);

export function errorOf(status: number, requestId: string, body: WireError): DataSourceError {
  const code = (body.__type ?? 'DynamoDbException').split('#').pop()!;
  const message = `${body.message ?? body.Message ?? code} (Service: DynamoDb, Status Code: ${status}, Error Code: ${code}, Request ID: ${requestId})`;
  const type = `DynamoDB:${MODELLED_ERRORS.has(code) ? code : 'DynamoDbException'}`;
  if (code === 'TransactionCanceledException') {
    const cancellationReasons = (body.CancellationReasons ?? []).map((r) => ({
      type: r.Code ?? 'None',
      message: r.Message ?? null,
      ...(r.Item ? { item: fromDynamoDB({ M: r.Item }) } : {}),
    }));
    return new DataSourceError(message, type, { keys: null, cancellationReasons });
  }
  return new DataSourceError(message, type);
}

/** Sends a signed DynamoDB request through the edge (as the data source's role). */
export type SignedSend = (request: HttpDataSourceRequest) => Promise<{ statusCode: number; headers: Record<string, string>; body: string }>;

/** The DynamoDB data source of each of the API's tables, all signing as the same role. */
export function dynamodbDataSource(options: { tables: Record<ApiTable, string>; send: SignedSend }) {
  return async (table: ApiTable, request: unknown): Promise<unknown> => {
    const wire = wireRequest(options.tables[table], request);
    const res = await options.send({
      method: 'POST',
      resourcePath: '/',
      params: {
        headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': `DynamoDB_20120810.${wire.operation}` },
        body: JSON.stringify(wire.body),
      },
    });
    const parsed = JSON.parse(res.body || '{}') as Record<string, unknown>;
    if (res.statusCode !== 200) throw errorOf(res.statusCode, res.headers['x-amzn-requestid'] ?? '', parsed as WireError);
    return resultOf(wire, request, parsed);
  };
}
