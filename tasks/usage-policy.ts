/**
 * The usage table's statement for the task roles (tasks/policies.ts taskRolePolicies): the
 * publish-answer role releases an ended answer's concurrency slot (tasks/release-slot.ts), an
 * UpdateItem on the usage table and nothing else (no read, no delete, no other table). Typed
 * structurally, not with policies.ts's types, so that the two modules do not import each other.
 */
import type { AwsLocation } from './aws-location.ts';
import { tableArn, type TableNames } from './tables.ts';

export function releaseSlotStatement(res: { location: AwsLocation; tables: TableNames }): { Sid: string; Effect: 'Allow'; Action: string; Resource: string } {
  return { Sid: 'ReleaseConcurrencySlot', Effect: 'Allow', Action: 'dynamodb:UpdateItem', Resource: tableArn(res.location, res.tables.usage) };
}
