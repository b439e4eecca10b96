/**
 * The state machine's input, built by the GraphQL resolver from the verified token only (and by
 * `replay` from a recorded run), and the shapes that travel between states.
 */
import * as z from 'zod/mini';
import { ErrorName, WorkflowError } from './errors.ts';
import './zod-locale.ts';
import { TENANT_ID_PATTERN } from './tables.ts';

/** The Cognito `sub` (a UUID), or a local user id: letters, digits, `-` and `_`. */
export const USER_ID_PATTERN = /^[\w-]{1,128}$/;

export const IdentitySchema = z.object({
  tenantId: z.string().check(z.regex(TENANT_ID_PATTERN, 'tenantId must be a lowercase tenant slug')),
  userId: z.string().check(z.regex(USER_ID_PATTERN, 'userId must be a token subject')),
  username: z.string().check(z.minLength(1), z.maxLength(128)),
});
export type Identity = z.infer<typeof IdentitySchema>;

export const MAX_QUESTION_CHARS = 2000;
/** The longest answerId and conversationId (UTF-16 code units, as `string.length` counts): Mutation.ask refuses longer ones. */
export const MAX_ANSWER_ID_CHARS = 256;
export const MAX_CONVERSATION_ID_CHARS = 128;

/**
 * C0 and C1 control characters other than tab and line breaks, and bidirectional overrides: not
 * allowed in questions, and removed from answers.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
export const CONTROL_CHARACTERS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]/g;

export const RequestSchema = z.object({
  answerId: z.string().check(z.minLength(3), z.maxLength(MAX_ANSWER_ID_CHARS)),
  question: z.string(),
  conversationId: z.nullish(z.string().check(z.maxLength(MAX_CONVERSATION_ID_CHARS))),
});

/**
 * An admitted ask's concurrency slot (tasks/usage.ts slotElement: `<expiresAtEpochSeconds>#<answerId>`),
 * which the workflow releases when the answer ends. parseWorkflowInput checks that it names the
 * request's answerId.
 */
export const SlotSchema = z.string().check(z.maxLength(MAX_ANSWER_ID_CHARS + 16), z.regex(/^\d{1,12}#./, 'slot must be <expiry>#<answerId>'));

/** The state machine's TimeoutSeconds (states/definition.ts): no execution, and so no fresh ask, lives longer. */
export const WORKFLOW_TIMEOUT_SECONDS = 300;

const EpochSeconds = z.number().check(z.int(), z.nonnegative());

/**
 * When Mutation.ask admitted the question, and when the token it verified expires (its `exp` claim),
 * both epoch seconds, from the resolver's clock and the verified claims only. ValidateContext skips
 * the user-pool lookup for a fresh ask (tasks/validate-context.ts isFreshAsk).
 */
export const AskedSchema = z.object({ at: EpochSeconds, tokenExpiresAt: EpochSeconds });
export type Asked = z.infer<typeof AskedSchema>;

export const WorkflowInputSchema = z.object({
  identity: IdentitySchema,
  request: RequestSchema,
  /** Absent for a replay (its slot, if any, was released with the original run). */
  slot: z.optional(SlotSchema),
  /** Set by Mutation.ask only; absent for a replay. */
  asked: z.optional(AskedSchema),
  /** The execution this one replays, for operators. */
  replayOf: z.nullish(z.string().check(z.maxLength(2048))),
});
export type WorkflowInput = z.infer<typeof WorkflowInputSchema>;

/** What ValidateContext adds to the state: `$.context`. */
export const ContextSchema = z.object({
  sessionId: z.string(),
  storeName: z.string(),
  /** The seq of the next event to the asker (tasks/answer-events.ts): the counter travels in the state. */
  nextSeq: z.number().check(z.int(), z.positive()),
});
export type ValidatedContext = z.infer<typeof ContextSchema>;

/** What MintCredentials adds to the state: `$.sealed`. Only ciphertext. */
export const SealedSchema = z.object({
  sealedCredentials: z.string().check(z.minLength(1)),
  expiration: z.string(),
});
export type Sealed = z.infer<typeof SealedSchema>;

const Count = z.number().check(z.int(), z.nonnegative());

/** The model's tokens for one answer, as Bedrock reported them, for metering (and its cost where the models table has a price). */
export const TokenUsageSchema = z.object({
  modelId: z.string(),
  inputTokens: Count,
  outputTokens: Count,
  totalTokens: Count,
  /** USD at the models table's on-demand price; absent when the table has no price for the model. */
  costUsd: z.optional(z.number().check(z.nonnegative())),
});
export type TokenUsage = z.infer<typeof TokenUsageSchema>;

/** What InvokeAgent adds to the state: `$.answer`. */
export const AnswerSchema = z.object({
  text: z.string(),
  toolCalls: Count,
  /** The seq of the next event after the answer's progress and chunks. */
  nextSeq: z.number().check(z.int(), z.positive()),
  /** Absent when the runtime reported no usage. */
  usage: z.optional(TokenUsageSchema),
});
export type Answer = z.infer<typeof AnswerSchema>;

/** The Catch's error output: `$.error`. */
export const CaughtErrorSchema = z.object({ Error: z.string(), Cause: z.optional(z.string()) });

/** Names the failing fields, never their values (they may hold anything a client sent). */
export function describeIssues(error: z.core.$ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; ');
}

/**
 * The parsed workflow input, or InvalidRequest naming what is wrong. Here, not in
 * validate-context.ts, so that the tasks that parse it again do not bundle that task's clients.
 */
export function parseWorkflowInput(input: unknown): WorkflowInput {
  const parsed = WorkflowInputSchema.safeParse(input);
  if (!parsed.success) throw new WorkflowError(ErrorName.InvalidRequest, `The request is malformed: ${describeIssues(parsed.error)}`);
  const { slot, request } = parsed.data;
  if (slot !== undefined && !slot.endsWith(`#${request.answerId}`)) {
    throw new WorkflowError(ErrorName.InvalidRequest, "The request is malformed: slot: slot must name the request's answerId");
  }
  return parsed.data;
}
