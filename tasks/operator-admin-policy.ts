/**
 * What the operator needs to add tenants and users without a redeploy (npm run tenants / users):
 * the user pool's admin operations, the management of tenants' orders tables, and the secrets that
 * hold users' first passwords. Part of `operatorPolicy` (policies.ts); the task roles get none of it
 * (the validate-context role keeps cognito-idp:AdminGetUser only).
 */
import type { AwsLocation } from './aws-location.ts';
import { tableArn, type TableNames } from './tables.ts';

/** What the operator may do in the user pool. */
export const OPERATOR_USER_ACTIONS = [
  'cognito-idp:AdminCreateUser',
  'cognito-idp:AdminGetUser',
  'cognito-idp:AdminDisableUser',
  'cognito-idp:AdminEnableUser',
  'cognito-idp:AdminDeleteUser',
  'cognito-idp:AdminSetUserPassword',
  'cognito-idp:ListUsers',
] as const;

/** Table management of a tenant's orders table: create, describe, delete, back up. */
export const OPERATOR_TENANT_TABLE_ACTIONS = [
  'dynamodb:CreateTable',
  'dynamodb:DescribeTable',
  'dynamodb:DeleteTable',
  'dynamodb:UpdateContinuousBackups',
  'dynamodb:DescribeContinuousBackups',
  'dynamodb:CreateBackup',
] as const;

/** What the operator may do with the users' password secrets. */
export const OPERATOR_SECRET_ACTIONS = [
  'secretsmanager:CreateSecret',
  'secretsmanager:GetSecretValue',
  'secretsmanager:PutSecretValue',
  'secretsmanager:DeleteSecret',
  'secretsmanager:DescribeSecret',
] as const;

export interface OperatorAdminResources {
  readonly location: AwsLocation;
  readonly tables: TableNames;
  readonly userPoolArn: string;
  /** A Secrets Manager name prefix ending in `/` (`<stack name>/seed-users/`, as infra/aws/seed-users.ts names them). No statement when undefined. */
  readonly userSecretNamePrefix?: string;
}

/** Every tenant's orders table: `arn:...:table/<prefix>*-orders` (TableNames.orders('*')). */
export function ordersTablesPattern(res: Pick<OperatorAdminResources, 'location' | 'tables'>): string {
  return tableArn(res.location, res.tables.orders('*'));
}

/** The users' secrets: `arn:...:secret:<prefix>*` (the prefix ends in `/`; the ARN's random suffix falls under the `*`). */
export function userSecretsArnPattern(loc: AwsLocation, prefix: string): string {
  return `arn:${loc.partition}:secretsmanager:${loc.region}:${loc.accountId}:secret:${prefix}*`;
}

export function operatorAdminStatements(res: OperatorAdminResources): { Sid: string; Effect: 'Allow'; Action: string[]; Resource: string }[] {
  return [
    { Sid: 'AdministerUsers', Effect: 'Allow', Action: [...OPERATOR_USER_ACTIONS], Resource: res.userPoolArn },
    // Tenants are created at runtime, so their orders tables cannot be listed in advance: this is
    // the one pattern match on table names, the orders suffix under the stack's prefix
    // (`<prefix>*-orders`, TableNames.orders('*')), never `*`.
    { Sid: 'AdministerTenantOrdersTables', Effect: 'Allow', Action: [...OPERATOR_TENANT_TABLE_ACTIONS], Resource: ordersTablesPattern(res) },
    // DescribeBackup is authorised on the backup's ARN (`table/<name>/backup/<id>`), not the table's.
    { Sid: 'DescribeTenantOrdersBackups', Effect: 'Allow', Action: ['dynamodb:DescribeBackup'], Resource: `${ordersTablesPattern(res)}/backup/*` },
    ...(res.userSecretNamePrefix
      ? [{ Sid: 'ManageUserSecrets', Effect: 'Allow' as const, Action: [...OPERATOR_SECRET_ACTIONS], Resource: userSecretsArnPattern(res.location, res.userSecretNamePrefix) }]
      : []),
  ];
}
