/** Which modes reach a field: its directives, else its type's, else the API's default (AppSync's rule). */
import { describe, expect, it } from 'vitest';
import { fieldAuthModes, loadSchema } from './schema.ts';

const schema = loadSchema(`
  type Query { open: String, own: String @aws_iam, typed: Typed }
  type Typed @aws_iam { inherited: String, overridden: String @aws_cognito_user_pools }
`);

describe('fieldAuthModes', () => {
  it.each([
    ['Query', 'open', ['aws_cognito_user_pools']],
    ['Query', 'own', ['aws_iam']],
    ['Typed', 'inherited', ['aws_iam']],
    ['Typed', 'overridden', ['aws_cognito_user_pools']],
  ])('%s.%s admits %j', (type, field, modes) => {
    expect([...fieldAuthModes(schema, type, field, 'aws_cognito_user_pools')]).toEqual(modes);
  });

  it('reads the API schema: publishAnswer is IAM-only, its event type admits both, ask and me the user pool', () => {
    const api = loadSchema();
    expect([...fieldAuthModes(api, 'Mutation', 'publishAnswer', 'aws_cognito_user_pools')]).toEqual(['aws_iam']);
    expect([...fieldAuthModes(api, 'AnswerEvent', 'text', 'aws_cognito_user_pools')].sort()).toEqual(['aws_cognito_user_pools', 'aws_iam']);
    expect([...fieldAuthModes(api, 'AskReceipt', 'executionId', 'aws_cognito_user_pools')]).toEqual(['aws_cognito_user_pools']);
    expect([...fieldAuthModes(api, 'Mutation', 'ask', 'aws_cognito_user_pools')]).toEqual(['aws_cognito_user_pools']);
  });
});
