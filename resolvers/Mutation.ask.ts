/**
 * Mutation.ask (HTTP data source signed for Step Functions): starts the assistant's execution.
 * The state input is built from the verified token only (`ctx.identity`): sub, username and the
 * immutable custom:tenantId claim. The client chooses only its answerId (which must be its own),
 * the question and the conversation.
 */
import { util, type Context, type HTTPRequest, type AppSyncIdentityCognito } from '@aws-appsync/utils';

type Args = { answerId: string; question: string; conversationId?: string | null };

export function request(ctx: Context<Args>): HTTPRequest<string> {
  const identity = ctx.identity as AppSyncIdentityCognito;
  const tenantId = identity && identity.claims ? identity.claims['custom:tenantId'] : undefined;
  if (!identity || !identity.sub || !tenantId) {
    util.unauthorized();
  }
  if (!ctx.args.answerId.startsWith(`${identity.sub}.`)) {
    util.error('answerId must start with your user id followed by a dot', 'Unauthorized');
  }
  const input = {
    identity: { tenantId: tenantId, userId: identity.sub, username: identity.username },
    request: { answerId: ctx.args.answerId, question: ctx.args.question, conversationId: ctx.args.conversationId ?? null },
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

export function response(ctx: Context<Args>) {
  if (ctx.error) {
    util.error(ctx.error.message, ctx.error.type);
  }
  const result = ctx.result as { statusCode: number; body: string };
  if (result.statusCode !== 200) {
    util.error('The assistant could not start answering; please try again.', 'StartExecutionFailed', null, { statusCode: result.statusCode });
  }
  const body = JSON.parse(result.body) as { executionArn: string };
  return { answerId: ctx.args.answerId, executionId: body.executionArn };
}
