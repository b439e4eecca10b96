/**
 * The IAM policy documents of the GraphQL API's data source roles (AppSync signs each data source
 * call with its role). Beside policies.ts, which holds every other document, for the same reasons:
 * CDK deploys exactly these (infra/aws/api.ts), the local AppSync signs as roles holding exactly
 * these (infra/local/iam/principals.ts), and nothing here uses `*` or a prefix match.
 */
import { tableArn } from './tables.ts';
import type { PolicyDocument, PolicyResources } from './policies.ts';

/**
 * The GraphQL API's HTTP data source role: AppSync signs `ask`'s StartExecution with it. It can
 * start the assistant's state machine and nothing else.
 */
export function apiDataSourcePolicy(res: Pick<PolicyResources, 'stateMachineArn'>): PolicyDocument {
  return { Version: '2012-10-17', Statement: [{ Sid: 'StartAssistantExecutions', Effect: 'Allow', Action: 'states:StartExecution', Resource: res.stateMachineArn }] };
}

/**
 * What admission does on the usage table: read a user's windows and slots, and count with
 * conditional updates, alone or in a transaction (a transaction's Update items are authorised as
 * `dynamodb:UpdateItem`). No ConditionCheckItem (the month's budget is the condition of its
 * counting update), no PutItem, no DeleteItem, no Query, no Scan: counters are only ever updated.
 */
export const USAGE_DATA_SOURCE_ACTIONS = ['dynamodb:GetItem', 'dynamodb:UpdateItem'] as const;

/**
 * The GraphQL API's DynamoDB data sources' role (the usage table's and the config table's): the
 * admission counters on the usage table, and a tenant's config row (its plan) read from the config
 * table, nothing else.
 */
export function apiUsageDataSourcePolicy(res: Pick<PolicyResources, 'location' | 'tables'>): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [
      { Sid: 'AdmissionCounters', Effect: 'Allow', Action: [...USAGE_DATA_SOURCE_ACTIONS], Resource: tableArn(res.location, res.tables.usage) },
      { Sid: 'ReadTenantPlan', Effect: 'Allow', Action: 'dynamodb:GetItem', Resource: tableArn(res.location, res.tables.config) },
    ],
  };
}
