/**
 * The usage table's statements for the task roles (tasks/policies.ts taskRolePolicies): the
 * publish-answer role releases an ended answer's concurrency slot (tasks/release-slot.ts), an
 * UpdateItem on the usage table and nothing else (no read, no delete, no other table).
 */
import type { PolicyResources, PolicyStatement } from './policies.ts';
import { tableArn } from './tables.ts';

export function releaseSlotStatement(res: Pick<PolicyResources, 'location' | 'tables'>): PolicyStatement {
  return { Sid: 'ReleaseConcurrencySlot', Effect: 'Allow', Action: 'dynamodb:UpdateItem', Resource: tableArn(res.location, res.tables.usage) };
}
