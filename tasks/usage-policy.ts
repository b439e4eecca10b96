/**
 * The task roles' statements on the usage table (tasks/usage.ts), one shape for both: UpdateItem
 * only, on the usage table only, only in one family of partitions, no read, no delete. Part of
 * `taskRolePolicies` (policies.ts), with their type spelled out so that the two modules do not
 * import each other. The tenant-scoped session gets nothing on this table: a tenant cannot write
 * its own meter or free its own slots.
 *
 * - invoke-agent meters tokens (tasks/meter.ts) in the tenants' partitions (`TENANT#<tenantId>`:
 *   DAY#, MONTH# and ANSWER# items), never in a user's;
 * - publish-answer releases an ended answer's concurrency slot (tasks/release-slot.ts) in the users'
 *   partitions (`USER#<tenantId>#<userId>`: the INFLIGHT item's slot set), never in a tenant's.
 *
 * `dynamodb:LeadingKeys` is multivalued, so the condition is `ForAllValues:StringLike` with
 * `Null: false` (a request without a partition key is not allowed by the empty set). The `*` comes
 * after the family's `#` separator: it matches every partition of that family and no other family.
 */
import type { AwsLocation } from './aws-location.ts';
import { tableArn, type TableNames } from './tables.ts';
import { tenantPartition } from './usage.ts';

/** The usage table's partitions InvokeAgent may write: every tenant's. */
export const METERED_PARTITIONS = tenantPartition('*');
/** The usage table's partitions PublishAnswer may write: every user's (`USER#*`). */
export const RELEASED_PARTITIONS = 'USER#*';

export interface UsageStatement {
  Sid: string;
  Effect: 'Allow';
  Action: string;
  Resource: string;
  Condition: Record<string, Record<string, string | string[]>>;
}

type Resources = { location: AwsLocation; tables: TableNames };

function updateInPartitions(Sid: string, partitions: string, res: Resources): UsageStatement {
  return {
    Sid,
    Effect: 'Allow',
    Action: 'dynamodb:UpdateItem',
    Resource: tableArn(res.location, res.tables.usage),
    Condition: {
      'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [partitions] },
      Null: { 'dynamodb:LeadingKeys': 'false' },
    },
  };
}

export const meterUsageStatement = (res: Resources): UsageStatement => updateInPartitions('MeterTenantTokens', METERED_PARTITIONS, res);
export const releaseSlotStatement = (res: Resources): UsageStatement => updateInPartitions('ReleaseConcurrencySlot', RELEASED_PARTITIONS, res);
