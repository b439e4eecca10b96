/**
 * The invoke-agent role's statement for token metering (tasks/meter.ts): UpdateItem on the usage
 * table, only in the tenants' partitions (`TENANT#<tenantId>`: DAY#, MONTH# and ANSWER# items),
 * never in a user's (`USER#...`: admission's windows and concurrency slots, the resolver's). Part
 * of `taskRolePolicies` (policies.ts). The tenant-scoped session gets nothing on this table: a
 * tenant cannot write its own meter.
 *
 * `dynamodb:LeadingKeys` is multivalued, so the condition is `ForAllValues:StringLike` with
 * `Null: false` (a request without a partition key is not allowed by the empty set). The `*` is
 * after the family's `#` separator: it matches every tenant's partition, which this role meters,
 * and no other family.
 */
import { tableArn, type TableNames } from './tables.ts';
import type { AwsLocation } from './aws-location.ts';
import { tenantPartition } from './usage.ts';

/** The usage table's partitions InvokeAgent may write: every tenant's. */
export const METERED_PARTITIONS = tenantPartition('*');

/** The statement (its type spelled out: policies.ts imports this module, not the other way round). */
export function meterUsageStatement(res: { location: AwsLocation; tables: TableNames }): {
  Sid: string;
  Effect: 'Allow';
  Action: string;
  Resource: string;
  Condition: Record<string, Record<string, string | string[]>>;
} {
  return {
    Sid: 'MeterTenantTokens',
    Effect: 'Allow',
    Action: 'dynamodb:UpdateItem',
    Resource: tableArn(res.location, res.tables.usage),
    Condition: {
      'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [METERED_PARTITIONS] },
      Null: { 'dynamodb:LeadingKeys': 'false' },
    },
  };
}
