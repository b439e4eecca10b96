/**
 * PublishAnswer and PublishFailure: the terminal event to the asker, as the IAM-signed GraphQL
 * mutation `publishAnswer` (AppSync delivers it to the asker's `onAnswer` subscription). The same
 * function serves both states: with a caught error in the state it publishes FAILED, else DONE.
 */
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import * as z from 'zod/mini';
import { PUBLISH_ANSWER, TERMINAL_SEQ, type AnswerEventInput } from './answer-events.ts';
import type { ClientOptions, TaskConfig } from './config.ts';
import { ErrorName, WorkflowError } from './errors.ts';
import { GraphqlRequestError, IamGraphqlClient } from './graphql-client.ts';
import { parseCause } from './lambda-error.ts';
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
}

const StateSchema = z.object({
  identity: z.pick(IdentitySchema, { userId: true }),
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
  const { identity, request, answer, error } = parsed.data;
  const event: PublishedEvent = error
    ? { answerId: request.answerId, userId: identity.userId, status: 'FAILED', seq: TERMINAL_SEQ, text: null, error: failureMessage(error), step: 'PublishFailure' }
    : { answerId: request.answerId, userId: identity.userId, status: 'DONE', seq: TERMINAL_SEQ, text: answer?.text ?? '', error: null, step: 'PublishAnswer' };
  if (!error && !answer) throw new WorkflowError(ErrorName.PublishFailed, 'The state holds neither an answer nor an error.');
  try {
    await deps.graphql.request(PUBLISH_ANSWER, { ...event });
  } catch (err) {
    const status = err instanceof GraphqlRequestError ? err.status : 0;
    const name = status === 429 || status >= 500 || status === 0 ? ErrorName.ServiceUnavailable : ErrorName.PublishFailed;
    throw new WorkflowError(name, `Publishing the ${event.status} event failed: ${(err as Error).message}`, { cause: err });
  }
  return event;
}

export function publishAnswerDeps(config: TaskConfig, clients: ClientOptions): PublishAnswerDeps {
  return {
    graphql: new IamGraphqlClient({ url: config.graphqlUrl, region: clients.region, credentials: clients.credentials ?? defaultProvider() }),
  };
}
