/**
 * The edge's `edge.request` log names each request's operation (what `npm run bench -- calls`
 * counts by): the JSON protocol's X-Amz-Target, the query protocol's Action, else the method and
 * path, never the query string (it may carry a presigned URL's signature).
 */
import { GetItemCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Logger } from '../infra/local/edge/log.ts';
import { startLocalStack, type LocalStack } from '../infra/local/stack.ts';

const logs: { msg: string; fields?: Record<string, unknown> }[] = [];
const logger: Logger = { log: (_level, msg, fields) => void logs.push({ msg, ...(fields ? { fields } : {}) }) };
let stack: LocalStack;

beforeAll(async () => {
  stack = await startLocalStack({ port: 0, logger, seedOrdersPerUser: 0 });
});

afterAll(async () => {
  await stack?.stop();
});

function lastRequest(mark: number): Record<string, unknown> | undefined {
  return logs.slice(mark).filter((l) => l.msg === 'edge.request').at(-1)?.fields;
}

describe('edge.request names the operation', () => {
  it("a JSON-protocol call: its X-Amz-Target (control: the target was logged before this change too)", async () => {
    const ddb = new DynamoDBClient(stack.clientConfig('validate-context'));
    const mark = logs.length;
    await ddb.send(new GetItemCommand({ TableName: stack.tables.config, Key: { tenantId: { S: 'tenant1' } } }));
    ddb.destroy();
    expect(lastRequest(mark)).toMatchObject({ service: 'dynamodb', operation: 'DynamoDB_20120810.GetItem', status: 200 });
  });

  it("a query-protocol call: the form body's Action (STS)", async () => {
    const sts = new STSClient(stack.clientConfig('validate-context'));
    const mark = logs.length;
    await sts.send(new GetCallerIdentityCommand({}));
    sts.destroy();
    expect(lastRequest(mark)).toMatchObject({ service: 'sts', operation: 'GetCallerIdentity', status: 200 });
  });

  it('any other request: method and path, without the query string', async () => {
    const mark = logs.length;
    const res = await fetch(`${stack.edgeUrl}/some/path?X-Amz-Signature=do-not-log-me`);
    await res.text();
    expect(res.status).toBeGreaterThanOrEqual(400);
    const fields = lastRequest(mark);
    expect(fields?.operation).toBe('GET /some/path');
    expect(JSON.stringify(fields)).not.toContain('do-not-log-me');
  });
});
