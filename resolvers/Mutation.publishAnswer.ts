/**
 * Mutation.publishAnswer (NONE data source, @aws_iam): the workflow's publish-answer role publishes
 * an answer event; AppSync hands it to the matching onAnswer subscriptions.
 */
import type { Context } from '@aws-appsync/utils';

type Args = { answerId: string; userId: string; status: string; seq: number; text?: string | null; error?: string | null; step?: string | null };

export function request(ctx: Context<Args>) {
  return { payload: ctx.args };
}

export function response(ctx: Context<Args>) {
  return ctx.result;
}
