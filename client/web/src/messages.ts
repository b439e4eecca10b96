/**
 * Errors in words a person understands. The services' codes and messages stay in the details; the
 * sentence shown first says what happened and what to do.
 */

const POLICY_PARTS: [RegExp, string][] = [
  [/not long enough/i, 'at least 12 characters'],
  [/too long/i, 'at most 256 characters'],
  [/uppercase/i, 'an upper-case letter'],
  [/lowercase/i, 'a lower-case letter'],
  [/numeric/i, 'a digit'],
  [/symbol/i, 'a symbol such as ! or -'],
  [/begin or end with a space/i, 'no space at the start or end'],
];

export const PASSWORD_RULES = 'At least 12 characters, with an upper-case and a lower-case letter, a digit and a symbol.';

function codeOf(err: unknown): string {
  const e = err as { code?: unknown; name?: unknown; errorType?: unknown };
  if (typeof e?.code === 'string') return e.code;
  if (typeof e?.errorType === 'string') return e.errorType;
  return typeof e?.name === 'string' ? e.name : 'Error';
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Network failures as fetch reports them in browsers ("Failed to fetch", "NetworkError ..."). */
export function isNetworkError(err: unknown): boolean {
  return err instanceof TypeError && /fetch|network|load failed/i.test(err.message);
}

/** A sign-in or new-password error, for the sign-in form. */
export function signInMessage(err: unknown): string {
  if (isNetworkError(err)) return 'The sign-in service cannot be reached. Check your connection and try again.';
  const code = codeOf(err);
  const message = messageOf(err);
  switch (code) {
    case 'NotAuthorizedException':
      if (/disabled/i.test(message)) return 'This account is disabled. Ask the store for help.';
      if (/refresh token|session/i.test(message)) return 'Your session has ended. Please sign in again.';
      return 'The username or password is wrong. Check both and try again.';
    case 'UserNotFoundException':
      return 'There is no account with that username.';
    case 'InvalidPasswordException': {
      const parts = POLICY_PARTS.filter(([re]) => re.test(message)).map(([, words]) => words);
      return `That new password is too weak: it needs ${parts.length > 0 ? parts.join(' and ') : 'to follow the password rules'}.`;
    }
    case 'PasswordResetRequiredException':
      return 'The password of this account must be reset before you can sign in.';
    case 'UserNotConfirmedException':
      return 'This account is not confirmed yet.';
    case 'TooManyRequestsException':
    case 'LimitExceededException':
    case 'TooManyFailedAttemptsException':
      return 'Too many attempts. Wait a minute, then try again.';
    case 'CodeMismatchException':
    case 'ExpiredCodeException':
      return 'The sign-in took too long. Please start again.';
    case 'InvalidParameterException':
      return 'Please fill in every field.';
    default:
      return `Sign-in failed: ${message}`;
  }
}

/** The session may no longer be valid (the API or the realtime endpoint refused the token). */
export function isAuthError(err: unknown): boolean {
  const e = err as { errorType?: unknown; errorCode?: unknown; status?: unknown };
  return e?.errorType === 'UnauthorizedException' || e?.status === 401 || e?.errorCode === 401;
}

/** What the web UI reads of a cut-off answer (client/api.ts AnswerCutOffError). */
interface CutOff {
  answerId: string;
  executionId: string | null;
}

/**
 * The connection ended after the question was sent and before its answer arrived (the network, or
 * the assistant's service stopped): which answer, which run, and what to do. The run may still have
 * answered; Retry asks again (a new answer), and the operator's Executions view shows and replays it.
 */
export function cutOffMessage(err: CutOff): string {
  const run = err.executionId ? `run ${err.executionId.split(':').pop()}` : 'the run may not have started';
  return `The connection was lost before the answer arrived (answer ${err.answerId}; ${run}). Use Retry to ask again; an operator can look the run up and replay it in Executions.`;
}

/** An error of asking (sending the question or receiving the answer). */
export function askMessage(err: unknown): string {
  if (isNetworkError(err)) return 'The assistant cannot be reached. Check your connection and try again.';
  const code = codeOf(err);
  // A limit of the plan refused the question (nothing started): the API's message names it and when to retry.
  if (code === 'Throttled' || code === 'QuotaExceeded') return messageOf(err);
  if (isAuthError(err)) return 'Your session has ended. Please sign in again.';
  if (code === 'Timeout') return 'No answer arrived in time. Please try again.';
  if (code === 'AnswerCutOff') return cutOffMessage(err as CutOff);
  if (code === 'StartExecutionFailed') return 'The assistant could not start answering. Please try again.';
  return `The question could not be sent: ${messageOf(err)}`;
}

/** An AWS error of an operator's view (executions, tenants); `may` says what only the operator may do. */
export function operatorMessage(err: unknown, may = 'read executions'): string {
  if (isNetworkError(err)) return 'The local stack cannot be reached: is `npm start` running?';
  const code = codeOf(err);
  switch (code) {
    case 'UnrecognizedClientException':
    case 'InvalidClientTokenId':
      return 'The local stack does not know this access key. `npm run creds -- --operator` prints the current operator keys.';
    case 'InvalidSignatureException':
    case 'SignatureDoesNotMatch':
      return 'The secret access key does not match the access key ID.';
    case 'AccessDeniedException':
    case 'AccessDenied':
      return `These credentials may not ${may}: only the local operator may.`;
    case 'ExpiredTokenException':
      return 'These credentials have expired.';
    default:
      return `${code}: ${messageOf(err)}`;
  }
}

/** When a refused question may be asked again, in the reader's own time: `You can ask again at 14:09.` */
export function retryMessage(at: Date, now: Date = new Date()): string {
  const time = at.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hour12: false });
  const sameDay = at.toDateString() === now.toDateString();
  return sameDay ? `You can ask again at ${time}.` : `You can ask again on ${at.toLocaleDateString([], { day: 'numeric', month: 'long' })} at ${time}.`;
}
