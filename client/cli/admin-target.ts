/**
 * Where `npm run tenants` and `npm run users` act: the running local stack (as its operator, through
 * the edge: `.data/local-env.json`), or a deployment (`--target aws`: cdk-outputs.json's names, the
 * SDK's default credentials). The operations are the same SDK calls in both places.
 */
import { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { awsClientConfig, CommandExit, type AwsOverrides, type CommandIo } from './command.ts';
import { AdminError } from '../tenant-model.ts';
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

/**
 * Runs an admin command's work on the target its options name (`--target local|aws`), and turns
 * its outcome into the exit code: 0, 1 with an AdminError's message or the target's explanation of
 * another error, 2 for an unknown target. The target is closed afterwards.
 */
export async function withAdminTarget(
  values: { target: string; 'outputs-file': string; 'data-dir': string },
  io: CommandIo,
  work: (target: AdminTarget, out: (line: string) => void) => Promise<void>,
): Promise<number> {
  if (values.target !== 'local' && values.target !== 'aws') {
    io.stderr.write('--target must be local or aws\n');
    return 2;
  }
  let target: AdminTarget;
  try {
    target = values.target === 'aws' ? awsAdminTarget(values['outputs-file'], io.aws) : localAdminTarget(values['data-dir']);
  } catch (err) {
    if (!(err instanceof CommandExit)) throw err;
    io.stderr.write(`${err.message}\n`);
    return err.code;
  }
  try {
    await work(target, (line) => io.stdout.write(`${line}\n`));
    return 0;
  } catch (err) {
    io.stderr.write(`${err instanceof AdminError ? err.message : target.explain(err)}\n`);
    return 1;
  } finally {
    target.destroy();
  }
}
