/**
 * PublishAnswer and PublishFailure: the terminal event to the asker, as the IAM-signed GraphQL
 * mutation `publishAnswer` (AppSync delivers it to the asker's `onAnswer` subscription). The same
 * function serves both states: with a caught error in the state it publishes FAILED, else DONE.
 * Either way the answer has ended: first it releases the ask's concurrency slot
 * (tasks/release-slot.ts), so that the asker who reads the terminal event may ask again at once.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import * as z from 'zod/mini';
import { PUBLISH_ANSWER, TERMINAL_SEQ, type AnswerEventInput } from './answer-events.ts';
import { dynamoConfig, type ClientOptions, type TaskConfig } from './config.ts';
import { ErrorName, WorkflowError } from './errors.ts';
import { GraphqlRequestError, IamGraphqlClient } from './graphql-client.ts';
import type { TaskLog } from './handler.ts';
import { parseCause } from './lambda-error.ts';
import { releaseSlot, type ReleaseSlotDeps } from './release-slot.ts';
import { AnswerSchema, CaughtErrorSchema, IdentitySchema, RequestSchema } from './workflow-input.ts';
import './zod-locale.ts';

/** Errors whose Cause is written for the asker (it names what was wrong with their request). */
const USER_FACING: readonly string[] = [ErrorName.InvalidRequest, ErrorName.TenantUnavailable, ErrorName.QuotaExceeded];

/** What the asker reads for errors that are not theirs but have a reason worth saying (the Cause stays with the operators). */
const FAILURE_MESSAGES: Readonly<Record<string, string>> = {
  [ErrorName.ModelUnavailable]: "The assistant's language model is not available (it was retired or is not callable as configured). The operators have to change it; please try again later.",
  [ErrorName.ModelTimedOut]: 'The assistant took too long to answer. Please try again.',
  [ErrorName.Throttled]: 'The assistant is busy right now. Please try again in a minute.',
};

export interface PublishAnswerDeps {
  graphql: Pick<IamGraphqlClient, 'request'>;
  /** Absent in tests that publish only; an execution with a slot then fails (nothing releases it). */
  release?: ReleaseSlotDeps;
  log?: TaskLog;
}

const StateSchema = z.object({
  identity: z.extend(z.pick(IdentitySchema, { userId: true }), { tenantId: z.optional(z.string()) }),
  slot: z.optional(z.string()),
  request: z.pick(RequestSchema, { answerId: true }),
  answer: z.optional(z.pick(AnswerSchema, { text: true })),
  error: z.optional(CaughtErrorSchema),
});

/** The terminal event: after every other event of the answer (seq TERMINAL_SEQ). */
export interface PublishedEvent extends AnswerEventInput {
  status: 'DONE' | 'FAILED';
}

/**
 * What the asker reads when their question failed: the reason if it is theirs (the error's message,
 * never the Cause itself: on AWS that is the function's JSON error document with its stack trace),
 * else a reference.
 */
export function failureMessage(error: { Error: string; Cause?: string | undefined }): string {
  const { errorMessage } = parseCause(error);
  if (USER_FACING.includes(error.Error) && errorMessage) return errorMessage.slice(0, 500);
  return FAILURE_MESSAGES[error.Error] ?? `The assistant could not answer this question (${error.Error}). Please try again later.`;
}

export async function publishAnswer(input: unknown, deps: PublishAnswerDeps): Promise<PublishedEvent> {
  const parsed = StateSchema.safeParse(input);
  if (!parsed.success) {
    // Without the asker's ids there is no one to publish to; the execution fails visibly instead.
    throw new WorkflowError(ErrorName.PublishFailed, 'The state holds no answerId and userId to publish to.');
  }
  const { identity, request, answer, error, slot } = parsed.data;
  const event: PublishedEvent = error
    ? { answerId: request.answerId, userId: identity.userId, status: 'FAILED', seq: TERMINAL_SEQ, text: null, error: failureMessage(error), step: 'PublishFailure' }
    : { answerId: request.answerId, userId: identity.userId, status: 'DONE', seq: TERMINAL_SEQ, text: answer?.text ?? '', error: null, step: 'PublishAnswer' };
  if (!error && !answer) throw new WorkflowError(ErrorName.PublishFailed, 'The state holds neither an answer nor an error.');
  // Only this answer's own slot (ValidateContext refused any other; a failed validation still ends here).
  if (slot && identity.tenantId && slot.endsWith(`#${request.answerId}`)) await release({ tenantId: identity.tenantId, userId: identity.userId }, slot, deps);
  try {
    await deps.graphql.request(PUBLISH_ANSWER, { ...event });
  } catch (err) {
    const status = err instanceof GraphqlRequestError ? err.status : 0;
    const name = status === 429 || status >= 500 || status === 0 ? ErrorName.ServiceUnavailable : ErrorName.PublishFailed;
    throw new WorkflowError(name, `Publishing the ${event.status} event failed: ${(err as Error).message}`, { cause: err });
  }
  return event;
}

/**
 * Releases the slot; a release that fails does not cost the asker their terminal event: it is
 * logged, and the slot expires SLOT_TTL_SECONDS after admission (tasks/plans.ts).
 */
async function release(owner: { tenantId: string; userId: string }, slot: string, deps: PublishAnswerDeps): Promise<void> {
  if (!deps.release) throw new WorkflowError(ErrorName.PublishFailed, 'The state holds a concurrency slot and nothing can release it.');
  try {
    await releaseSlot(owner, slot, deps.release);
  } catch (err) {
    deps.log?.({ level: 'warn', msg: 'slot.release.failed', error: (err as Error).name });
  }
}

export function publishAnswerDeps(config: TaskConfig, clients: ClientOptions, log?: TaskLog): PublishAnswerDeps {
  return {
    graphql: new IamGraphqlClient({ url: config.graphqlUrl, region: clients.region, credentials: clients.credentials ?? defaultProvider() }),
    release: { dynamodb: new DynamoDBClient(dynamoConfig(clients)), tables: config.tables },
    ...(log ? { log } : {}),
  };
}
