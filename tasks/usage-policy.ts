/**
 * The publish-answer role's statement for releasing an ended answer's concurrency slot
 * (tasks/release-slot.ts): UpdateItem on the usage table, only in users' partitions
 * (`USER#<tenantId>#<userId>`: the INFLIGHT item's slot set), never in a tenant's (`TENANT#...`:
 * the meters and counters), no read, no delete, no other table. Part of `taskRolePolicies`
 * (policies.ts), with its type spelled out so that the two modules do not import each other.
 * `ForAllValues:StringLike` with `Null: false`, as tasks/meter-policy.ts: the `*` comes after the
 * family's `#` separator, so it matches every user's partition and no other family.
 */
import type { AwsLocation } from './aws-location.ts';
import { tableArn, type TableNames } from './tables.ts';

/** The usage table's partitions PublishAnswer may write: every user's (`USER#*`). */
export const RELEASED_PARTITIONS = 'USER#*';

export function releaseSlotStatement(res: { location: AwsLocation; tables: TableNames }): {
  Sid: string;
  Effect: 'Allow';
  Action: string;
  Resource: string;
  Condition: Record<string, Record<string, string | string[]>>;
} {
  return {
    Sid: 'ReleaseConcurrencySlot',
    Effect: 'Allow',
    Action: 'dynamodb:UpdateItem',
    Resource: tableArn(res.location, res.tables.usage),
    Condition: {
      'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [RELEASED_PARTITIONS] },
      Null: { 'dynamodb:LeadingKeys': 'false' },
    },
  };
}
