/**
 * Unchanged AWS SDK clients reach the local edge through AWS_ENDPOINT_URL alone, as LocalStack
 * users expect: no endpoint in code.
 */
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../infra/local/stack.ts';

let stack: LocalStack;
beforeAll(async () => {
  stack = await startLocalStack({ port: 0 });
  process.env.AWS_ENDPOINT_URL = stack.edgeUrl;
  process.env.AWS_REGION = stack.iam.location.region;
});
afterAll(async () => {
  delete process.env.AWS_ENDPOINT_URL;
  await stack?.stop();
});

describe('AWS_ENDPOINT_URL', () => {
  it('routes default-endpoint DynamoDB and STS clients to the edge', async () => {
    const credentials = stack.iam.credentials('operator');
    const ddb = new DynamoDBClient({ credentials, maxAttempts: 1 });
    const table = await ddb.send(new DescribeTableCommand({ TableName: stack.tables.config }));
    expect(table.Table?.TableArn).toBe(`arn:aws:dynamodb:us-east-1:000000000000:table/${stack.tables.config}`);
    const me = await new STSClient({ credentials, maxAttempts: 1 }).send(new GetCallerIdentityCommand({}));
    expect(me.Arn).toBe(stack.iam.principalArn('operator'));
  });

  it('control: the edge, not something else, answered (keys it does not know are refused)', async () => {
    const ddb = new DynamoDBClient({ credentials: { accessKeyId: 'LOCALUNKNOWNKEY', secretAccessKey: 'x' }, maxAttempts: 1 });
    await expect(ddb.send(new DescribeTableCommand({ TableName: stack.tables.config }))).rejects.toMatchObject({ name: 'UnrecognizedClientException' });
  });
});
