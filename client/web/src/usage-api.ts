/**
 * The Usage view's data, as the local operator: the same SDK logic as `npm run usage`
 * (client/usage.ts) on an AdminTarget built in the browser from the keys the operator pasted
 * (DynamoDB on the local edge, which checks the signature and the operator's IAM policy).
 */
import type { AdminTarget } from '../../cli/admin-target.ts';
import type { TenantRow } from '../../tenant-model.ts';
import { listTenants } from '../../tenants.ts';
import { readUsage, type TenantUsage } from '../../usage.ts';
import type { OperatorConfig } from './config.ts';
import type { OperatorCredentials } from './operator.ts';
import { browserAdminTarget } from './tenants-api.ts';

export class UsageApi {
  private readonly target: AdminTarget;

  constructor(config: OperatorConfig, credentials: OperatorCredentials) {
    this.target = browserAdminTarget(config, credentials);
  }

  /** The stores to choose from (a Scan of the config table). */
  tenants(): Promise<TenantRow[]> {
    return listTenants(this.target);
  }

  /** One store's month: its MONTH item and its DAY items, with its plan's limits and the estimated cost. */
  async month(tenantId: string, month: string): Promise<TenantUsage> {
    const [usage] = await readUsage(this.target, { month, tenantId, days: true });
    return usage!;
  }

  destroy(): void {
    this.target.destroy();
  }
}
