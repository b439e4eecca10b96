/**
 * The running local stack as `.data/local-env.json` describes it to the CLIs (the file's format:
 * client/cli/targets.ts): endpoints, the local principals' keys and the users. Local keys only.
 */
import type { LocalEnv } from '../../client/cli/targets.ts';
import { TASK_NAMES } from '../../tasks/task-names.ts';
import type { LocalStack } from './stack.ts';
import { API_DATA_SOURCE, API_USAGE_DATA_SOURCE, OPERATOR, type LocalPrincipalName } from './iam/principals.ts';

export function localEnvOf(stack: LocalStack, persisted: boolean): LocalEnv {
  return {
    region: stack.iam.location.region,
    accountId: stack.iam.location.accountId,
    endpoints: { edge: stack.edgeUrl, graphql: stack.graphqlUrl, realtime: stack.realtimeUrl },
    userPool: { id: stack.cognito.poolId, clientId: stack.cognito.clientId },
    persisted,
    tenantAccessRoleArn: stack.iam.resources.tenantAccessRoleArn,
    stateMachineArn: stack.iam.resources.stateMachineArn,
    runsTable: stack.tables.runs,
    configTable: stack.tables.config,
    tablePrefix: stack.tables.prefix,
    principals: Object.fromEntries(
      ([...TASK_NAMES, OPERATOR, API_DATA_SOURCE, API_USAGE_DATA_SOURCE] as LocalPrincipalName[]).map((name) => [name, { arn: stack.iam.principalArn(name), ...stack.iam.credentials(name) }]),
    ),
    users: stack.users.map((u) => ({ ...u })),
  };
}
