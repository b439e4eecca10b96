/**
 * Mutation.ask's pipeline, function StartExecution (HTTP data source signed for Step Functions):
 * starts the assistant's execution, only for an admitted ask. The state input is built from the
 * stash, that is from the verified token and the checked arguments only, and carries the ask's
 * concurrency slot so that the workflow releases it when the answer ends (tasks/release-slot.ts),
 * and when it was asked with a token valid until when (`asked`).
 * When StartExecution fails, ReleaseUnstarted gives the slot back.
 */
import { runtime, type Context, type HTTPRequest } from '@aws-appsync/utils';
import type { AskStash } from './admission.ts';

export function request(ctx: Context): HTTPRequest<string> {
  const stash = ctx.stash as AskStash;
  if (!stash.admitted) {
    runtime.earlyReturn({ skipped: true });
  }
  const ask = stash.ask;
  const input = {
    identity: { tenantId: ask.tenantId, userId: ask.userId, username: ask.username },
    request: { answerId: ask.answerId, question: ask.question, conversationId: ask.conversationId },
    slot: stash.slot,
    // When the question was admitted and when the verified token expires: ValidateContext skips the
    // user-pool lookup for a fresh ask (tasks/validate-context.ts isFreshAsk). Absent without `exp`.
    asked: ask.tokenExpiresAt === null ? undefined : { at: Math.floor(stash.nowMs / 1000), tokenExpiresAt: ask.tokenExpiresAt },
  };
  return {
    method: 'POST',
    resourcePath: '/',
    params: {
      headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'AWSStepFunctions.StartExecution' },
      body: JSON.stringify({ stateMachineArn: ctx.env.STATE_MACHINE_ARN, input: JSON.stringify(input) }),
    },
  };
}

export function response(ctx: Context) {
  const stash = ctx.stash as AskStash;
  if (ctx.error) {
    stash.startError = { message: ctx.error.message, type: ctx.error.type, statusCode: null };
  } else {
    const result = ctx.result as { statusCode: number; body: string };
    if (result.statusCode !== 200) {
      stash.startError = { message: 'The assistant could not start answering; please try again.', type: 'StartExecutionFailed', statusCode: result.statusCode };
    } else {
      const body = JSON.parse(result.body) as { executionArn: string };
      stash.started = { answerId: stash.ask.answerId, executionId: body.executionArn };
    }
  }
  if (stash.startError) {
    // Nothing started: the slot goes back (ReleaseUnstarted). The windows keep the count: the ask was admitted.
    stash.slotsToDelete = [stash.slot];
  }
  return stash.started;
}
