/**
 * Mutation.ask's pipeline, function CountRefusal (DynamoDB data source, the usage table): a refused
 * ask is counted on the tenant's day and month items as `refused#<reason>` (ADD 1), for the usage
 * report. Runs only for a refusal. A failure to count does not change the answer: the ask is
 * refused all the same (and the failure is logged).
 */
import { runtime, util, type Context, type DynamoDBTransactWriteItemsRequest } from '@aws-appsync/utils';
import { TENANT_WINDOW_TTL_SECONDS, daySortKey, monthSortKey } from '../../tasks/usage.ts';
import { tenantKey, usageTable, type AskStash } from './admission.ts';

export function request(ctx: Context): DynamoDBTransactWriteItemsRequest {
  const stash = ctx.stash as AskStash;
  const refusal = stash.refusal;
  if (!refusal) {
    runtime.earlyReturn({ skipped: true });
  }
  const table = usageTable(ctx.env);
  const update = {
    expression: 'ADD #refused :one SET #exp = if_not_exists(#exp, :exp)',
    expressionNames: { '#refused': `refused#${refusal.reason}`, '#exp': 'expiresAt' },
    expressionValues: util.dynamodb.toMapValues({ ':one': 1, ':exp': Math.floor(stash.nowMs / 1000) + TENANT_WINDOW_TTL_SECONDS }),
  };
  return {
    operation: 'TransactWriteItems',
    transactItems: [
      { table, operation: 'UpdateItem', key: tenantKey(stash.ask, daySortKey(stash.nowIso)), update },
      { table, operation: 'UpdateItem', key: tenantKey(stash.ask, monthSortKey(stash.nowIso)), update },
    ],
  };
}

export function response(ctx: Context) {
  if (ctx.error) {
    console.log(JSON.stringify({ message: 'refusal not counted', errorType: ctx.error.type }));
  }
  return { counted: !ctx.error };
}
