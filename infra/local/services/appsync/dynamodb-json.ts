/**
 * DynamoDB JSON (attribute values) both ways, as the APPSYNC_JS runtime converts it:
 * `util.dynamodb.*` for resolvers (plain value -> typed value), and the conversion of a DynamoDB
 * response into `ctx.result` (typed value -> plain JSON: N -> number, SS/NS -> arrays, B -> base64).
 */
export type AttributeValue = Record<string, unknown>;

/** `util.dynamodb.toDynamoDB`: a plain value as an attribute value (strings S, numbers N, lists L, objects M). */
export function toDynamoDB(value: unknown): AttributeValue {
  if (value === null || value === undefined) return { NULL: true };
  if (typeof value === 'string') return { S: value };
  if (typeof value === 'number') return { N: String(value) };
  if (typeof value === 'boolean') return { BOOL: value };
  if (Array.isArray(value)) return { L: value.map(toDynamoDB) };
  if (typeof value === 'object') return { M: toMapValues(value as Record<string, unknown>) };
  throw new TypeError(`util.dynamodb.toDynamoDB cannot convert a ${typeof value}`);
}

/** `util.dynamodb.toMapValues`: each value of an object as an attribute value (a key or an item). */
export function toMapValues(values: Record<string, unknown>): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const [k, v] of Object.entries(values)) if (v !== undefined) out[k] = toDynamoDB(v);
  return out;
}

/** The `util.dynamodb` helpers resolvers use (the AppSync names). */
export const dynamodbUtils = {
  toDynamoDB,
  toMapValues,
  toString: (value: string): AttributeValue => ({ S: value }),
  toStringSet: (values: string[]): AttributeValue => ({ SS: values }),
  toNumber: (value: number): AttributeValue => ({ N: String(value) }),
  toNumberSet: (values: number[]): AttributeValue => ({ NS: values.map(String) }),
  toBoolean: (value: boolean): AttributeValue => ({ BOOL: value }),
  toNull: (): AttributeValue => ({ NULL: true }),
  toList: (values: unknown[]): AttributeValue => ({ L: values.map(toDynamoDB) }),
  toMap: (values: Record<string, unknown>): AttributeValue => ({ M: toMapValues(values) }),
};

/** An attribute value as plain JSON, as AppSync hands DynamoDB results to a resolver. */
export function fromDynamoDB(value: AttributeValue): unknown {
  const [type, v] = Object.entries(value)[0] ?? [];
  switch (type) {
    case 'S':
    case 'B':
    case 'BOOL':
      return v;
    case 'N':
      return Number(v);
    case 'NULL':
      return null;
    case 'SS':
    case 'BS':
      return [...(v as string[])];
    case 'NS':
      return (v as string[]).map(Number);
    case 'L':
      return (v as AttributeValue[]).map(fromDynamoDB);
    case 'M':
      return fromItem(v as Record<string, AttributeValue>);
    default:
      throw new TypeError(`Unknown DynamoDB attribute type ${String(type)}`);
  }
}

export function fromItem(item: Record<string, AttributeValue>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(item)) out[k] = fromDynamoDB(v);
  return out;
}
