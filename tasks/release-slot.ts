/**
 * The release of an answer's concurrency slot (tasks/usage.ts): when the answer ends, DONE or
 * FAILED, PublishAnswer removes the slot element that admission added (Mutation.ask's pipeline,
 * resolvers/ask/admit.ts) from the asker's INFLIGHT set, before it publishes the terminal event, so
 * that an asker who reads DONE and asks again finds the slot free.
 *
 * One UpdateItem `DELETE slots :slot`: deleting an element a set does not hold is no error, so a
 * retried or repeated release is harmless; the condition that the item exists keeps the release
 * from creating an empty item. The key comes from the execution's verified identity, and the
 * element names this execution's answerId (parseWorkflowInput checks it), so an execution can only
 * release its own slot. An execution without a slot (a replay, or one started before admission
 * existed) releases nothing.
 */
import { ConditionalCheckFailedException, UpdateItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { classifyAwsError, ErrorName } from './errors.ts';
import type { TableNames } from './tables.ts';
import { INFLIGHT_SORT_KEY, userPartition } from './usage.ts';

export interface ReleaseSlotDeps {
  /** Signed with the publish-answer role: UpdateItem on the usage table (tasks/policies.ts). */
  dynamodb: Pick<DynamoDBClient, 'send'>;
  tables: TableNames;
}

export interface SlotOwner {
  tenantId: string;
  userId: string;
}

/** Whether the slot was removed by this call (false: it was not there, or there was none). */
export async function releaseSlot(owner: SlotOwner, slot: string | null | undefined, deps: ReleaseSlotDeps): Promise<boolean> {
  if (!slot) return false;
  try {
    await deps.dynamodb.send(
      new UpdateItemCommand({
        TableName: deps.tables.usage,
        Key: { pk: { S: userPartition(owner.tenantId, owner.userId) }, sk: { S: INFLIGHT_SORT_KEY } },
        UpdateExpression: 'DELETE #slots :slot',
        ConditionExpression: 'attribute_exists(#pk)',
        ExpressionAttributeNames: { '#slots': 'slots', '#pk': 'pk' },
        ExpressionAttributeValues: { ':slot': { SS: [slot] } },
      }),
    );
    return true;
  } catch (err) {
    // No INFLIGHT item: nothing to release (it was never written, or expired and was deleted).
    if (err instanceof ConditionalCheckFailedException) return false;
    throw classifyAwsError(err, ErrorName.ServiceUnavailable, 'Releasing the concurrency slot');
  }
}
