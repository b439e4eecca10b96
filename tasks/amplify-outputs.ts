/**
 * `amplify_outputs.json`: the client configuration file of Amplify Gen 2, which an app passes to
 * `Amplify.configure(outputs)`. One builder, used by the local stack (`.data/amplify_outputs.json`,
 * written at every start) and by `npm run deploy` (beside cdk-outputs.json). Only the sections this
 * backend has: `auth` (the user pool and its password policy) and `data` (the GraphQL API, user pool
 * authorization by default, IAM as the additional mode infra/aws/api.ts configures).
 *
 * The field names are those of aws-amplify's `AmplifyOutputs` type (@aws-amplify/core), schema
 * version 1 (`parseAmplifyConfig` takes any version starting with '1' as Gen 2 outputs).
 *
 * Not in the Gen 2 schema: a custom Cognito endpoint. An app using the local stack sets it after
 * configure: `Amplify.configure({ ...config, Auth: { Cognito: { ...config.Auth.Cognito, userPoolEndpoint: '<edge URL>' } } })`.
 */
import { USER_POOL_PASSWORD_POLICY } from './user-pool-policy.ts';

export const AMPLIFY_OUTPUTS_FILE = 'amplify_outputs.json';
export const AMPLIFY_OUTPUTS_VERSION = '1';

/** The subset of Amplify's `AmplifyOutputs` this backend fills in (a test checks it is assignable to Amplify's type). */
export interface AmplifyOutputsDocument {
  version: string;
  auth: {
    aws_region: string;
    user_pool_id: string;
    user_pool_client_id: string;
    password_policy: { min_length: number; require_numbers: boolean; require_lowercase: boolean; require_uppercase: boolean; require_symbols: boolean };
  };
  data: { aws_region: string; url: string; default_authorization_type: 'AMAZON_COGNITO_USER_POOLS'; authorization_types: string[] };
}

export interface AmplifyBackend {
  region: string;
  userPoolId: string;
  userPoolClientId: string;
  /** The GraphQL endpoint (`https://`: Amplify opens its realtime WebSocket with `wss://` at `<url>/realtime` or AppSync's realtime host). */
  graphqlUrl: string;
}

export function amplifyOutputs(backend: AmplifyBackend): AmplifyOutputsDocument {
  const policy = USER_POOL_PASSWORD_POLICY;
  return {
    version: AMPLIFY_OUTPUTS_VERSION,
    auth: {
      aws_region: backend.region,
      user_pool_id: backend.userPoolId,
      user_pool_client_id: backend.userPoolClientId,
      password_policy: {
        min_length: policy.minLength,
        require_numbers: policy.requireDigits,
        require_lowercase: policy.requireLowercase,
        require_uppercase: policy.requireUppercase,
        require_symbols: policy.requireSymbols,
      },
    },
    data: {
      aws_region: backend.region,
      url: backend.graphqlUrl,
      default_authorization_type: 'AMAZON_COGNITO_USER_POOLS',
      // The additional authorization modes (infra/aws/api.ts): IAM, for the workflow's publishAnswer.
      authorization_types: ['AWS_IAM'],
    },
  };
}

/** The file's text (2-space JSON with a final newline, as ampx writes it). */
export const amplifyOutputsJson = (backend: AmplifyBackend): string => `${JSON.stringify(amplifyOutputs(backend), null, 2)}\n`;
