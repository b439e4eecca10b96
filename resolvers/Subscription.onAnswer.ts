/**
 * Subscription.onAnswer (NONE data source): a signed-in user subscribes to their own answers only.
 * The argument check refuses a foreign answerId up front; the server-side enhanced filter on
 * `userId` makes sure no event of another user is ever delivered, whatever the argument was.
 */
import { extensions, util, type AppSyncIdentityCognito, type Context } from '@aws-appsync/utils';

type Args = { answerId: string };

export function request(ctx: Context<Args>) {
  const identity = ctx.identity as AppSyncIdentityCognito;
  if (!identity || !identity.sub || !ctx.args.answerId.startsWith(`${identity.sub}.`)) {
    util.unauthorized();
  }
  return { payload: null };
}

export function response(ctx: Context<Args>) {
  const identity = ctx.identity as AppSyncIdentityCognito;
  extensions.setSubscriptionFilter(
    util.transform.toSubscriptionFilter({
      userId: { eq: identity.sub },
      answerId: { eq: ctx.args.answerId },
    }),
  );
  return null;
}
