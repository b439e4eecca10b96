/**
 * Mutation.ask's pipeline, functions PruneSlots and ReleaseUnstarted (DynamoDB data source, the
 * usage table): removes the stash's `slotsToDelete` from the user's slot set (UpdateItem DELETE; a
 * missing element is no error, so the removal is idempotent), on a condition that the item exists
 * (so that it does not create one). PruneSlots removes expired slots before AdmitAgain;
 * ReleaseUnstarted gives back this ask's slot when StartExecution failed. Runs only when there is
 * something to delete.
 */
import { runtime, util, type Context, type DynamoDBUpdateItemRequest } from '@aws-appsync/utils';
import { inflightKey, type AskStash } from './admission.ts';

export function request(ctx: Context): DynamoDBUpdateItemRequest {
  const stash = ctx.stash as AskStash;
  if (stash.slotsToDelete.length === 0) {
    runtime.earlyReturn({ skipped: true });
  }
  return {
    operation: 'UpdateItem',
    key: inflightKey(stash.ask),
    update: { expression: 'DELETE #slots :gone', expressionNames: { '#slots': 'slots' }, expressionValues: { ':gone': util.dynamodb.toStringSet(stash.slotsToDelete) } },
    condition: { expression: 'attribute_exists(#pk)', expressionNames: { '#pk': 'pk' } },
  };
}

export function response(ctx: Context) {
  const stash = ctx.stash as AskStash;
  const deleted = stash.slotsToDelete.length;
  stash.slotsToDelete = [];
  if (ctx.error && ctx.error.type !== 'DynamoDB:ConditionalCheckFailedException') {
    // Not fatal: an expired slot left in place only refuses this ask; an unstarted one expires.
    console.log(JSON.stringify({ message: 'slots not deleted', errorType: ctx.error.type }));
  }
  return { deleted: deleted };
}
