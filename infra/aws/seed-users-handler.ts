/**
 * The seed users custom resource (Lambda-backed, bundled by infra/aws/seed-users.ts). On create it
 * creates each seeded user with the temporary password Secrets Manager generated at deploy time
 * (never in the template), with the immutable `custom:tenantId`, and writes a few random orders
 * into the user's partition of the tenant's orders table. Update and delete leave users and data.
 */
import { AdminCreateUserCommand, CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { randomOrder, SEED_USERS } from '../../tasks/seed.ts';
import { TableNames, type Order } from '../../tasks/tables.ts';

/** The custom resource's properties (CloudFormation passes every value as a string). */
export interface SeedUsersProperties {
  readonly UserPoolId: string;
  readonly TablePrefix: string;
  /** Username -> ARN of the secret holding `{ "password": ... }`. */
  readonly PasswordSecrets: Record<string, string>;
  readonly OrdersPerUser: string;
}

export interface CustomResourceEvent {
  RequestType: 'Create' | 'Update' | 'Delete';
  ResponseURL: string;
  StackId: string;
  RequestId: string;
  LogicalResourceId: string;
  PhysicalResourceId?: string;
  ResourceProperties: SeedUsersProperties;
}

/** The seeding's side effects, as ports (the AWS SDK clients implement them on Lambda). */
export interface SeedUsersDeps {
  readPassword(secretId: string): Promise<string>;
  /** Creates the user with a temporary password and the tenant attribute; returns its `sub`. */
  createUser(input: { userPoolId: string; username: string; tenantId: string; temporaryPassword: string }): Promise<string>;
  writeOrders(tableName: string, orders: readonly Order[]): Promise<void>;
}

export async function seedUsers(props: SeedUsersProperties, deps: SeedUsersDeps): Promise<void> {
  const tables = new TableNames(props.TablePrefix);
  for (const user of SEED_USERS) {
    const secretId = props.PasswordSecrets[user.username];
    if (!secretId) throw new Error(`No password secret for ${user.username}`);
    const temporaryPassword = await deps.readPassword(secretId);
    const sub = await deps.createUser({ userPoolId: props.UserPoolId, username: user.username, tenantId: user.tenantId, temporaryPassword });
    const orders = Array.from({ length: Number(props.OrdersPerUser) }, () => randomOrder(sub));
    await deps.writeOrders(tables.orders(user.tenantId), orders);
  }
}

function awsDeps(): SeedUsersDeps {
  const cognito = new CognitoIdentityProviderClient({});
  const secrets = new SecretsManagerClient({});
  const dynamo = DynamoDBDocumentClient.from(new DynamoDBClient({}));
  return {
    async readPassword(secretId) {
      const secret = await secrets.send(new GetSecretValueCommand({ SecretId: secretId }));
      const { password } = JSON.parse(secret.SecretString ?? '{}') as { password?: string };
      if (!password) throw new Error(`The secret ${secretId} holds no password`);
      return password;
    },
    async createUser({ userPoolId, username, tenantId, temporaryPassword }) {
      const created = await cognito.send(
        new AdminCreateUserCommand({
          UserPoolId: userPoolId,
          Username: username,
          TemporaryPassword: temporaryPassword,
          MessageAction: 'SUPPRESS',
          UserAttributes: [{ Name: 'custom:tenantId', Value: tenantId }],
        }),
      );
      const sub = created.User?.Attributes?.find((a) => a.Name === 'sub')?.Value;
      if (!sub) throw new Error(`Cognito returned no sub for ${username}`);
      return sub;
    },
    async writeOrders(tableName, orders) {
      await dynamo.send(new BatchWriteCommand({ RequestItems: { [tableName]: orders.map((Item) => ({ PutRequest: { Item } })) } }));
    },
  };
}

/** Always answers CloudFormation (a custom resource that never answers hangs the stack for an hour). */
export async function handleSeedUsersEvent(event: CustomResourceEvent, deps: SeedUsersDeps, respond: typeof fetch): Promise<void> {
  const physicalId = event.PhysicalResourceId ?? `${event.ResourceProperties.UserPoolId}-seed-users`;
  let status: 'SUCCESS' | 'FAILED' = 'SUCCESS';
  let reason = '';
  try {
    if (event.RequestType === 'Create') await seedUsers(event.ResourceProperties, deps);
  } catch (error) {
    status = 'FAILED';
    reason = error instanceof Error ? `${error.name}: ${error.message}` : 'seeding failed';
    process.stdout.write(`${JSON.stringify({ level: 'error', msg: 'seed users failed', error: reason })}\n`);
  }
  const body = JSON.stringify({
    Status: status,
    Reason: reason || 'ok',
    PhysicalResourceId: physicalId,
    StackId: event.StackId,
    RequestId: event.RequestId,
    LogicalResourceId: event.LogicalResourceId,
  });
  const response = await respond(event.ResponseURL, { method: 'PUT', body, headers: { 'content-type': '' } });
  if (!response.ok) throw new Error(`CloudFormation response failed: ${response.status}`);
}

/** The Lambda entry: clients built once per container. */
export const handler = (() => {
  let deps: SeedUsersDeps | undefined;
  return (event: CustomResourceEvent) => handleSeedUsersEvent(event, (deps ??= awsDeps()), fetch);
})();
