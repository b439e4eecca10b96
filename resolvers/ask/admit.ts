/**
 * Mutation.ask's pipeline, functions Admit and AdmitAgain (DynamoDB data source, the usage table):
 * the admission, one TransactWriteItems (resolvers/ask/admission.ts admissionItems). Admitted: the
 * counters moved and the slot is held. Cancelled: the cancellation reasons (one per item, in order)
 * say which limits refused. When the user's concurrency limit alone refused, the next functions read
 * the slots, prune expired ones and AdmitAgain runs once; when the transaction only lost to a
 * concurrent one (TransactionConflict), AdmitAgain retries once too. AdmitAgain runs only then.
 */
import { runtime, util, type Context, type DynamoDBTransactWriteItemsRequest } from '@aws-appsync/utils';
import type { RefusalReason } from '../../tasks/usage.ts';
import { ADMISSION_ITEMS, admissionItems, latestRefusal, usageTable, type AskStash } from './admission.ts';

/** What AppSync gives a DynamoDB function for a cancelled transaction: one reason per item, in order. */
interface CancelledTransaction {
  cancellationReasons?: { type?: string | null; message?: string | null }[] | null;
}

export function request(ctx: Context): DynamoDBTransactWriteItemsRequest {
  const stash = ctx.stash as AskStash;
  const first = stash.attempts === 0;
  if (stash.admitted || stash.refusal || (!first && !stash.retry)) {
    runtime.earlyReturn({ skipped: true });
  }
  stash.attempts = stash.attempts + 1;
  stash.retry = false;
  return { operation: 'TransactWriteItems', transactItems: admissionItems(stash, usageTable(ctx.env)) };
}

export function response(ctx: Context) {
  const stash = ctx.stash as AskStash;
  if (!ctx.error) {
    stash.admitted = true;
    return { admitted: true };
  }
  const result = ctx.result as CancelledTransaction | null;
  const reasons = result && result.cancellationReasons ? result.cancellationReasons : null;
  if (!reasons || ctx.error.type !== 'DynamoDB:TransactionCanceledException') {
    console.log(JSON.stringify({ message: 'admission failed', errorType: ctx.error.type }));
    util.error('The assistant could not check your quota; please try again.', 'ServiceUnavailable');
  }
  const refused: RefusalReason[] = [];
  let conflict = false;
  let index = 0;
  for (const reason of reasons) {
    const limit = ADMISSION_ITEMS[index];
    if (reason.type === 'ConditionalCheckFailed' && limit) refused.push(limit);
    if (reason.type === 'TransactionConflict') conflict = true;
    index = index + 1;
  }
  const retryable = stash.attempts === 1;
  if (refused.length === 0 && conflict) {
    if (retryable) stash.retry = true;
    else stash.busy = true;
    return { admitted: false };
  }
  if (refused.length === 1 && refused[0] === 'userConcurrency' && retryable) {
    // Perhaps only expired slots fill the set: ReadSlots looks, PruneSlots removes them, AdmitAgain retries.
    stash.concurrencyOnly = true;
    return { admitted: false };
  }
  if (refused.length === 0) {
    util.error('The assistant could not check your quota; please try again.', 'ServiceUnavailable');
  }
  stash.refusal = latestRefusal(refused, stash);
  return { admitted: false };
}
