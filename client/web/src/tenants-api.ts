/**
 * The tenants view's data, as the local operator: the same SDK logic as `npm run tenants` and
 * `npm run users` (client/tenants.ts, client/users.ts) on an AdminTarget built in the browser from
 * the keys the operator pasted: DynamoDB for the config table, Cognito (IAM-signed ListUsers) for
 * the users, both on the local edge, which checks the signature and the operator's IAM policy.
 */
import { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { AdminTarget } from '../../cli/admin-target.ts';
import type { TenantRow } from '../../tenant-model.ts';
import { changeTenantStatus, listTenants, setTenantPlan } from '../../tenants.ts';
import { listUsers, type UserRow } from '../../users.ts';
import type { OperatorConfig } from './config.ts';
import { operatorMessage } from './messages.ts';
import type { OperatorCredentials } from './operator.ts';

/** A store as the view shows it: its config row, and its users (or why they could not be read). */
export interface TenantSummary extends TenantRow {
  users?: UserRow[];
}

export interface TenantsOverview {
  tenants: TenantSummary[];
  /** Set when the user pool could not be listed: the stores are shown without their users. */
  usersUnavailable?: string;
}

/** An AdminTarget for the browser: the operator's keys, the edge for every service, no secrets store (local). */
export function browserAdminTarget(config: OperatorConfig, credentials: OperatorCredentials): AdminTarget {
  const clientConfig = { endpoint: config.endpoint, region: config.region, credentials: { ...credentials }, maxAttempts: 1 };
  const dynamodb = new DynamoDBClient(clientConfig);
  const cognito = new CognitoIdentityProviderClient(clientConfig);
  return {
    kind: 'local',
    region: config.region,
    dynamodb,
    cognito,
    configTable: config.configTable,
    tablePrefix: config.tablePrefix,
    userPoolId: config.userPoolId,
    explain: (err) => operatorMessage(err, 'administer tenants'),
    destroy: () => (dynamodb.destroy(), cognito.destroy()),
  };
}

export class TenantsApi {
  private readonly target: AdminTarget;

  constructor(config: OperatorConfig, credentials: OperatorCredentials) {
    this.target = browserAdminTarget(config, credentials);
  }

  /** The stores (a Scan of the config table) with their users (ListUsers, grouped by `custom:tenantId`). */
  async overview(): Promise<TenantsOverview> {
    const [tenants, users] = await Promise.all([
      listTenants(this.target),
      listUsers(this.target).then(
        (rows) => ({ rows }),
        (err: unknown) => ({ error: operatorMessage(err, 'list the users') }),
      ),
    ]);
    if ('error' in users) return { tenants, usersUnavailable: users.error };
    return { tenants: tenants.map((t) => ({ ...t, users: users.rows.filter((u) => u.tenantId === t.tenantId) })) };
  }

  /** Suspends or resumes a store as `npm run tenants -- suspend|resume` does (AdminError when its status does not allow it). */
  setStatus(tenantId: string, to: 'SUSPENDED' | 'ACTIVE'): Promise<TenantRow> {
    return changeTenantStatus(this.target, tenantId, to);
  }

  /** Sets a store's plan as `npm run tenants -- set-plan` does (AdminError for an unknown plan or store). */
  async setPlan(tenantId: string, plan: string): Promise<TenantRow> {
    return (await setTenantPlan(this.target, tenantId, plan)).row;
  }

  destroy(): void {
    this.target.destroy();
  }
}
