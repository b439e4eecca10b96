/**
 * Mutation.ask, a pipeline resolver (APPSYNC_JS): its request handler checks the request (before
 * anything counts: a bad request costs no quota) and puts it in the stash, built from the verified
 * token only (`ctx.identity`: sub, username and the immutable custom:tenantId claim, which the ID
 * token carries from the user attribute and the access token from the pre token generation trigger,
 * tasks/pre-token-generation.ts: either token, the same claim; a token without it is refused); the client
 * chooses only its answerId (which must be its own), the question and the conversation, each
 * bounded here, and the question is sent trimmed: no legal ask comes near Step Functions' 256 KiB
 * payload quota, on any path of the workflow. Then the functions (infra/resolvers.ts):
 *
 *   ReadPlan (config) -> Admit (usage) -> ReadSlots -> PruneSlots -> AdmitAgain -> CountRefusal
 *   -> StartExecution (Step Functions) -> ReleaseUnstarted
 *
 * and its response handler answers with the receipt, or fails with the refusal (`Throttled`,
 * `QuotaExceeded`: which limit, and when to retry, in errorInfo) having started nothing.
 */
import { util, type Context, type AppSyncIdentityCognito } from '@aws-appsync/utils';
import { askSlot, type AskStash } from './ask/admission.ts';

type Args = { answerId: string; question: string; conversationId?: string | null };

/**
 * MAX_QUESTION_CHARS, MAX_ANSWER_ID_CHARS, MAX_CONVERSATION_ID_CHARS and CONTROL_CHARACTERS of
 * tasks/workflow-input.ts, which ValidateContext applies again (copies: the resolvers bundle no
 * module of ours but resolvers/ask/admission.ts, tasks/plans.ts and tasks/usage.ts, and zod's regex
 * is not APPSYNC_JS; test/resolvers.test.ts proves the two agree). Checked here, before admission,
 * so that a request the workflow would refuse starts nothing and costs no quota.
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

export function request(ctx: Context<Args>): Record<string, never> {
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
  const stash = ctx.stash as AskStash;
  const nowMs = util.time.nowEpochMilliSeconds();
  const exp = identity.claims.exp;
  stash.ask = {
    tenantId: tenantId,
    userId: identity.sub,
    username: identity.username,
    answerId: ctx.args.answerId,
    question: question,
    conversationId: conversationId,
    tokenExpiresAt: typeof exp === 'number' ? exp : null,
  };
  stash.nowMs = nowMs;
  stash.nowIso = util.time.epochMilliSecondsToISO8601(nowMs);
  stash.slot = askSlot(nowMs, ctx.args.answerId);
  stash.admitted = false;
  stash.attempts = 0;
  stash.concurrencyOnly = false;
  stash.retry = false;
  stash.slotsToDelete = [];
  stash.earliestLiveSlot = null;
  stash.refusal = null;
  stash.busy = false;
  stash.started = null;
  stash.startError = null;
  return {};
}

export function response(ctx: Context<Args>) {
  const stash = ctx.stash as AskStash;
  const refusal = stash.refusal;
  if (refusal) {
    util.error(refusal.message, refusal.errorType, null, { reason: refusal.reason, retryAfter: refusal.retryAfter });
  }
  if (stash.busy) {
    // Every attempt lost to concurrent asks on the same windows (DynamoDB TransactionConflict): not a limit, not counted.
    util.error('Too many questions at the same moment; please try again.', 'Throttled', null, { reason: 'busy', retryAfter: util.time.epochMilliSecondsToISO8601(stash.nowMs + 1000) });
  }
  const failed = stash.startError;
  if (failed) {
    util.error(failed.message, failed.type, null, failed.statusCode === null ? null : { statusCode: failed.statusCode });
  }
  if (!stash.started) {
    util.error('The assistant could not start answering; please try again.', 'StartExecutionFailed');
  }
  return stash.started;
}
