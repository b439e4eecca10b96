/**
 * Where `npm run tenants` and `npm run users` act: the running local stack (as its operator, through
 * the edge: `.data/local-env.json`), or a deployment (`--target aws`: cdk-outputs.json's names, the
 * SDK's default credentials). The operations are the same SDK calls in both places.
 */
import { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { awsClientConfig, type AwsOverrides } from './command.ts';
import { ADMIN_OUTPUTS, explainConnectionError, principalConfig, readDeployOutputsForCommand, readLocalEnvForCommand } from './targets.ts';

export interface AdminTarget {
  readonly kind: 'local' | 'aws';
  readonly region: string;
  readonly dynamodb: DynamoDBClient;
  readonly cognito: CognitoIdentityProviderClient;
  /** Where user passwords are kept: a Secrets Manager secret per user (AWS), or `.data/local-users.json`, which the local pool keeps (local). */
  readonly secrets?: { client: SecretsManagerClient; prefix: string };
  readonly configTable: string;
  readonly tablePrefix: string;
  readonly userPoolId: string;
  /** The data directory of a local target (backups of removed tenants go there). */
  readonly dataDir?: string;
  explain(err: unknown): string;
  destroy(): void;
}

export function localAdminTarget(dataDir: string): AdminTarget {
  const env = readLocalEnvForCommand(dataDir);
  const config = principalConfig(env, 'operator');
  const dynamodb = new DynamoDBClient(config);
  const cognito = new CognitoIdentityProviderClient(config);
  return {
    kind: 'local',
    region: env.region,
    dynamodb,
    cognito,
    configTable: env.configTable,
    tablePrefix: env.tablePrefix,
    userPoolId: env.userPool.id,
    dataDir,
    explain: (err) => explainConnectionError(err, env),
    destroy: () => (dynamodb.destroy(), cognito.destroy()),
  };
}

export function awsAdminTarget(outputsFile: string, aws?: AwsOverrides): AdminTarget {
  const outputs = readDeployOutputsForCommand(ADMIN_OUTPUTS, outputsFile);
  const dynamodb = new DynamoDBClient(awsClientConfig(outputs.Region, 'dynamodb', aws));
  const cognito = new CognitoIdentityProviderClient(awsClientConfig(outputs.Region, 'cognito', aws));
  const secrets = new SecretsManagerClient(awsClientConfig(outputs.Region, 'secretsmanager', aws));
  return {
    kind: 'aws',
    region: outputs.Region,
    dynamodb,
    cognito,
    secrets: { client: secrets, prefix: outputs.UserSecretPrefix },
    configTable: outputs.ConfigTableName,
    tablePrefix: outputs.TablePrefix,
    userPoolId: outputs.UserPoolId,
    explain: (err) => {
      const e = err as { name?: string; message?: string };
      if (e.name === 'CredentialsProviderError') return `No AWS credentials: set AWS_PROFILE (or sign in with aws sso login) for the account of user pool ${outputs.UserPoolId}.`;
      return `${e.name ?? 'Error'}: ${e.message ?? String(err)}`;
    },
    destroy: () => (dynamodb.destroy(), cognito.destroy(), secrets.destroy()),
  };
}
