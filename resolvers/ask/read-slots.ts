/**
 * Mutation.ask's pipeline, function ReadSlots (DynamoDB data source, the usage table): runs only when
 * the concurrency limit alone refused the first admission. Reads the user's slots (strongly
 * consistent): expired ones (their element starts with their expiry) go to PruneSlots and the
 * admission is tried again; when none is expired the refusal stands, retry at the earliest expiry
 * of a live slot at the latest. A live slot is never pruned. TTL is no help here: DynamoDB deletes
 * expired items within days, and a slot is an element of a set, not an item.
 */
import { runtime, util, type Context, type DynamoDBGetItemRequest } from '@aws-appsync/utils';
import { inflightKey, refusalFor, slotExpiry, type AskStash } from './admission.ts';

export function request(ctx: Context): DynamoDBGetItemRequest {
  const stash = ctx.stash as AskStash;
  if (!stash.concurrencyOnly) {
    runtime.earlyReturn({ skipped: true });
  }
  return { operation: 'GetItem', key: inflightKey(stash.ask), consistentRead: true };
}

export function response(ctx: Context) {
  if (ctx.error) {
    util.error('The assistant could not check your answers in progress; please try again.', 'ServiceUnavailable');
  }
  const stash = ctx.stash as AskStash;
  const item = ctx.result as { slots?: string[] | null } | null;
  const slots = item && item.slots ? item.slots : [];
  const now = Math.floor(stash.nowMs / 1000);
  const expired: string[] = [];
  let earliest: number | null = null;
  for (const slot of slots) {
    const expiry = slotExpiry(slot);
    if (expiry <= now) {
      expired.push(slot);
    } else if (earliest === null || expiry < earliest) {
      earliest = expiry;
    }
  }
  stash.earliestLiveSlot = earliest;
  if (expired.length === 0) {
    stash.refusal = refusalFor('userConcurrency', stash);
  } else {
    stash.slotsToDelete = expired;
    stash.retry = true;
  }
  return { expired: expired.length };
}
