import { describe, expect, it } from 'vitest';
import { taskConfigFromEnv } from './config.ts';

const ENV = {
  AWS_REGION: 'eu-west-1',
  TENANT_ACCESS_ROLE_ARN: 'arn:aws:iam::111111111111:role/tenant-access',
  PUBLISH_ROLE_ARN: 'arn:aws:iam::111111111111:role/publish-answer',
  SEAL_KEY_ID: 'alias/seal',
  GRAPHQL_URL: 'https://example.appsync-api.eu-west-1.amazonaws.com/graphql',
  USER_POOL_ID: 'eu-west-1_AbC123',
};

describe('taskConfigFromEnv', () => {
  it('reads the environment CDK sets, with the defaults for the optional variables', () => {
    expect(taskConfigFromEnv(ENV)).toMatchObject({
      location: { partition: 'aws', region: 'eu-west-1', accountId: '111111111111' },
      tables: { prefix: '' },
      agentRuntime: 'converse',
      agentId: '',
      publishRoleArn: 'arn:aws:iam::111111111111:role/publish-answer',
      userPoolId: 'eu-west-1_AbC123',
    });
  });

  // The tasks parse with zod/mini, which says only "Invalid input" unless a locale is set (tasks/zod-locale.ts).
  it('fails naming each missing or invalid variable and why, in English', () => {
    const env = { ...ENV, AWS_REGION: '', SEAL_KEY_ID: undefined, GRAPHQL_URL: 'not a url', AGENT_RUNTIME: 'gpt', USER_POOL_ID: 'pool' };
    expect(() => taskConfigFromEnv(env)).toThrow(
      'Task configuration is incomplete: AWS_REGION: Too small: expected string to have >=1 characters; ' +
        'SEAL_KEY_ID: Invalid input: expected string, received undefined; GRAPHQL_URL: Invalid URL; ' +
        'AGENT_RUNTIME: Invalid option: expected one of "bedrock-agent"|"converse"; USER_POOL_ID: must be a Cognito user pool id',
    );
  });
});
