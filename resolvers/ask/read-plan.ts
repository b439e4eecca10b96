/**
 * Mutation.ask's pipeline, function ReadPlan (DynamoDB data source, the config table): the tenant's
 * plan, read from its config row (GetItem, keyed by the token's tenant). A row that names no plan,
 * or an unknown one, has the default plan's limits (tasks/plans.ts planLimits). Read on every ask,
 * strongly consistent: a plan change takes effect on the next ask.
 */
import { util, type Context, type DynamoDBGetItemRequest } from '@aws-appsync/utils';
import { DEFAULT_PLAN, isPlanName, planLimits } from '../../tasks/plans.ts';
import type { AskStash } from './admission.ts';

export function request(ctx: Context): DynamoDBGetItemRequest {
  const stash = ctx.stash as AskStash;
  return { operation: 'GetItem', key: util.dynamodb.toMapValues({ tenantId: stash.ask.tenantId }), consistentRead: true };
}

export function response(ctx: Context) {
  if (ctx.error) {
    util.error('The assistant could not check your plan; please try again.', 'ServiceUnavailable');
  }
  const stash = ctx.stash as AskStash;
  const row = ctx.result as { plan?: unknown } | null;
  const named = row ? row.plan : undefined;
  stash.plan = isPlanName(named) ? named : DEFAULT_PLAN;
  stash.limits = planLimits(stash.plan);
  return { plan: stash.plan };
}
