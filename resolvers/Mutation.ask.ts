/**
 * Mutation.ask (HTTP data source signed for Step Functions): starts the assistant's execution.
 * The state input is built from the verified token only (`ctx.identity`): sub, username and the
 * immutable custom:tenantId claim. The client chooses only its answerId (which must be its own),
 * the question and the conversation, each bounded here, and the question is sent trimmed: no legal
 * ask comes near Step Functions' 256 KiB payload quota, on any path of the workflow.
 */
import { util, type Context, type HTTPRequest, type AppSyncIdentityCognito } from '@aws-appsync/utils';

type Args = { answerId: string; question: string; conversationId?: string | null };

/**
 * MAX_QUESTION_CHARS, MAX_ANSWER_ID_CHARS, MAX_CONVERSATION_ID_CHARS and CONTROL_CHARACTERS of
 * tasks/workflow-input.ts, which ValidateContext applies again (a resolver imports nothing but
 * @aws-appsync/utils; test/resolvers.test.ts proves the two agree). Checked here too, so that a
 * request the workflow would refuse starts nothing.
 */
const MAX_QUESTION_CHARS = 2000;
const MAX_ANSWER_ID_CHARS = 256;
const MAX_CONVERSATION_ID_CHARS = 128;

/** C0 and C1 controls other than tab and line breaks, and bidirectional overrides (APPSYNC_JS has no regex literals). */
function isControl(ch: string): boolean {
  return (
    (ch <= '\u001f' && ch !== '\t' && ch !== '\n' && ch !== '\r') ||
    (ch >= '\u007f' && ch <= '\u009f') ||
    (ch >= '\u202a' && ch <= '\u202e') ||
    (ch >= '\u2066' && ch <= '\u2069')
  );
}

/** The question's length in characters (code points, as the workflow counts them), and whether it holds a control character. */
function inspect(text: string): { characters: number; control: boolean } {
  let characters = 0;
  let control = false;
  for (const ch of text) {
    characters += 1;
    if (isControl(ch)) control = true;
  }
  return { characters, control };
}

export function request(ctx: Context<Args>): HTTPRequest<string> {
  const identity = ctx.identity as AppSyncIdentityCognito;
  const tenantId = identity && identity.claims ? identity.claims['custom:tenantId'] : undefined;
  if (!identity || !identity.sub || !tenantId) {
    util.unauthorized();
  }
  if (!ctx.args.answerId.startsWith(`${identity.sub}.`)) {
    util.error('answerId must start with your user id followed by a dot', 'Unauthorized');
  }
  if (ctx.args.answerId.length > MAX_ANSWER_ID_CHARS) {
    util.error(`The answerId is longer than ${MAX_ANSWER_ID_CHARS} characters.`, 'BadRequestException');
  }
  const conversationId = ctx.args.conversationId ?? null;
  if (conversationId !== null && conversationId.length > MAX_CONVERSATION_ID_CHARS) {
    util.error(`The conversationId is longer than ${MAX_CONVERSATION_ID_CHARS} characters.`, 'BadRequestException');
  }
  const question = ctx.args.question.trim();
  if (question.length === 0) {
    util.error('The question is empty.', 'BadRequestException');
  }
  const seen = inspect(question);
  if (seen.characters > MAX_QUESTION_CHARS) {
    util.error(`The question is longer than ${MAX_QUESTION_CHARS} characters.`, 'BadRequestException');
  }
  if (seen.control) {
    util.error('The question contains control characters.', 'BadRequestException');
  }
  const input = {
    identity: { tenantId: tenantId, userId: identity.sub, username: identity.username },
    request: { answerId: ctx.args.answerId, question: question, conversationId: conversationId },
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
