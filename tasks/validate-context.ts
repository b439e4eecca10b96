/**
 * ValidateContext: the first state. Checks the identity and request the resolver built from the
 * verified token (or a replay rebuilt from a recorded run), that the tenant exists and is active,
 * and derives the agent session id server-side, so no client can join another user's session.
 *
 * Before anything else happens, once the answerId is known to be the asker's, it claims the
 * answerId (idempotency, as Powertools' idempotency utility claims its key): a conditional PutItem
 * on the claims table that only one execution wins. The asker and store lookups (reads only) run
 * while the claim is in flight; no event is published and no outcome decided before it is won. Express executions are at-least-once, so the
 * same ask may run twice; the loser fails with Assistant.Duplicate, which the state machine ends
 * quietly (no event, no agent call, no runs record). A retry of this task in the same execution
 * claims again. Then it publishes ACCEPTED and PROGRESS ("checking your account") to the asker of
 * the state input, and returns the next event seq with the context.
 *
 * Input (the state machine's Parameters): `{ input: <the state>, executionArn: $$.Execution.Id }`.
 */
import { createHash } from 'node:crypto';
import { AdminGetUserCommand, CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod/mini';
import { AnswerEvents, answerEventsClient, FIRST_SEQ, type PublishPort } from './answer-events.ts';
import { classifyAwsError, ErrorName, WorkflowError } from './errors.ts';
import { dynamoConfig, sdkConfig, type ClientOptions, type TaskConfig } from './config.ts';
import type { TaskLog } from './handler.ts';
import { CLAIM_EXPIRY_ATTRIBUTE, CLAIM_TTL_SECONDS, CLAIMS_KEYS, type AnswerClaim, type TableNames, type TenantConfig } from './tables.ts';
import { CONTROL_CHARACTERS, describeIssues, MAX_QUESTION_CHARS, parseWorkflowInput, WORKFLOW_TIMEOUT_SECONDS, type ValidatedContext, type WorkflowInput } from './workflow-input.ts';
import './zod-locale.ts';

export interface ValidateContextDeps {
  /** Signed with the validate-context role (GetItem on the config table, PutItem on the claims table). */
  dynamodb: DynamoDBClient;
  tables: TableNames;
  /** Signed with the validate-context role (AdminGetUser on the user pool): for runs that are not fresh asks. */
  cognito: CognitoIdentityProviderClient;
  userPoolId: string;
  /** Signed with the validate-context role (appsync:GraphQL on publishAnswer): ACCEPTED and PROGRESS. */
  events: PublishPort;
  log: TaskLog;
  /** The clock of the claim's expiry and of isFreshAsk. @default the system clock */
  now?: () => Date;
}

/** What the state machine passes: the state, and the execution's id (`$$.Execution.Id`) that claims the answer. */
const TaskInputSchema = z.object({
  input: z.unknown(),
  executionArn: z.string().check(z.minLength(1), z.maxLength(2048)),
});

/**
 * Claims the answerId for this execution: one conditional PutItem. It wins when no claim exists,
 * the claim has expired (DynamoDB's TTL deletes expired items late, so the condition checks the
 * time itself), or the claim is this execution's own (a retry of this task). Otherwise another
 * execution owns the answer: Assistant.Duplicate.
 */
export async function claimAnswer(
  claim: Pick<AnswerClaim, 'answerId' | 'executionArn' | 'tenantId' | 'userId'>,
  deps: Pick<ValidateContextDeps, 'dynamodb' | 'tables' | 'now'>,
): Promise<AnswerClaim> {
  const now = deps.now?.() ?? new Date();
  const nowSeconds = Math.floor(now.getTime() / 1000);
  const item: AnswerClaim = { ...claim, expiresAt: nowSeconds + CLAIM_TTL_SECONDS, claimedAt: now.toISOString() };
  try {
    await DynamoDBDocumentClient.from(deps.dynamodb).send(
      new PutCommand({
        TableName: deps.tables.claims,
        Item: item,
        ConditionExpression: 'attribute_not_exists(#answerId) OR #expiresAt < :now OR #executionArn = :me',
        ExpressionAttributeNames: { '#answerId': CLAIMS_KEYS.partitionKey, '#expiresAt': CLAIM_EXPIRY_ATTRIBUTE, '#executionArn': 'executionArn' },
        ExpressionAttributeValues: { ':now': nowSeconds, ':me': claim.executionArn },
      }),
    );
  } catch (err) {
    if ((err as Error).name === 'ConditionalCheckFailedException') {
      throw new WorkflowError(ErrorName.Duplicate, 'Another execution has claimed this answer: it answers, this one ends here.', { cause: err });
    }
    // Throttling and 5xx are retried; anything else is the service's problem, not the asker's.
    throw classifyAwsError(err, ErrorName.ServiceUnavailable, 'Claiming the answer');
  }
  return item;
}

/** How far the resolver's clock may run ahead of this function's, for `asked.at`. */
const CLOCK_SKEW_SECONDS = 60;

/**
 * A fresh ask: Mutation.ask admitted it (it holds a slot and says when it was asked) less than the
 * workflow's timeout ago, with a token that has not expired yet, and it is not a replay. AppSync
 * verified that token (signature, expiry, audience) when it admitted the ask, and the tenant claim
 * is the user's immutable custom:tenantId: looking the user up again would only repeat that check.
 * Anything else (a replay, an input without `asked`, a record older than the token's life, an
 * input started by hand) is checked against the user pool.
 *
 * What this gives up: a user disabled or removed after signing in can still ask until the token
 * they hold expires (the user pool's ID token validity, 60 minutes by default), as with every API
 * that verifies Cognito tokens without calling Cognito. Their replays, and everything after the
 * token's expiry, are refused here.
 */
export function isFreshAsk(input: WorkflowInput, now: Date): boolean {
  const { asked, slot, replayOf } = input;
  if (!asked || slot === undefined || (replayOf !== undefined && replayOf !== null)) return false;
  const nowSeconds = Math.floor(now.getTime() / 1000);
  if (nowSeconds >= asked.tokenExpiresAt) return false;
  if (asked.at > nowSeconds + CLOCK_SKEW_SECONDS) return false;
  return nowSeconds - asked.at <= WORKFLOW_TIMEOUT_SECONDS;
}

/**
 * The asker must still be an enabled user of the pool whose immutable custom:tenantId is the
 * run's tenant (for runs that are not fresh asks: isFreshAsk). A replay of a user who was removed,
 * disabled or moved, or of a tampered record, fails here.
 */
async function checkAsker(identity: { tenantId: string; userId: string }, deps: ValidateContextDeps): Promise<void> {
  let user;
  try {
    user = await deps.cognito.send(new AdminGetUserCommand({ UserPoolId: deps.userPoolId, Username: identity.userId }));
  } catch (err) {
    if ((err as Error).name === 'UserNotFoundException') throw invalid('The asker is not a user of this service.');
    throw classifyAwsError(err, ErrorName.ServiceUnavailable, 'Looking up the asker');
  }
  const attrs = Object.fromEntries((user.UserAttributes ?? []).map((a) => [a.Name, a.Value]));
  if (user.Enabled === false) throw invalid('The asker\'s account is disabled.');
  if (attrs.sub !== identity.userId || attrs['custom:tenantId'] !== identity.tenantId) {
    throw invalid('The asker does not belong to this store.');
  }
}

/** What the asker of a suspended store reads (its users can still sign in; nothing is minted or invoked). */
export const SUSPENDED_MESSAGE = "This store's assistant is suspended";

const ANSWER_SUFFIX = /^[\w.-]{1,128}$/;

function invalid(reason: string): WorkflowError {
  return new WorkflowError(ErrorName.InvalidRequest, reason);
}

/** The agent session: a function of who asks and which conversation, never of client input alone. */
export function agentSessionId(tenantId: string, userId: string, conversationId: string): string {
  const digest = createHash('sha256').update(`${tenantId}\u0000${userId}\u0000${conversationId}`).digest('hex');
  return `s-${digest.slice(0, 48)}`;
}

/** Why the question cannot be asked, or undefined. */
function questionProblem(text: string): WorkflowError | undefined {
  const question = text.trim();
  if (question.length === 0) return invalid('The question is empty.');
  if ([...question].length > MAX_QUESTION_CHARS) return invalid(`The question is longer than ${MAX_QUESTION_CHARS} characters.`);
  if (new RegExp(CONTROL_CHARACTERS.source).test(question)) return invalid('The question contains control characters.');
  return undefined;
}

async function readTenant(tenantId: string, deps: ValidateContextDeps): Promise<TenantConfig | undefined> {
  try {
    const out = await DynamoDBDocumentClient.from(deps.dynamodb).send(new GetCommand({ TableName: deps.tables.config, Key: { tenantId } }));
    return out.Item as TenantConfig | undefined;
  } catch (err) {
    throw classifyAwsError(err, ErrorName.TenantUnavailable, 'Reading the tenant configuration');
  }
}

export async function validateContext(taskInput: unknown, deps: ValidateContextDeps): Promise<ValidatedContext> {
  const parsedTask = TaskInputSchema.safeParse(taskInput);
  if (!parsedTask.success) throw invalid(`The task input is malformed: ${describeIssues(parsedTask.error)}`);
  const { executionArn } = parsedTask.data;
  const workflowInput = parseWorkflowInput(parsedTask.data.input);
  const { identity, request } = workflowInput;
  const prefix = `${identity.userId}.`;
  if (!request.answerId.startsWith(prefix) || !ANSWER_SUFFIX.test(request.answerId.slice(prefix.length))) {
    throw invalid('The answerId must be "<your user id>.<suffix>" (letters, digits, ".", "_" or "-").');
  }
  // The claim, first: only the execution that wins the answerId publishes, fails or answers. (Only
  // now: an answerId that is not the asker's must not be claimable, or one user could block another's.)
  const claimed = claimAnswer({ answerId: request.answerId, executionArn, tenantId: identity.tenantId, userId: identity.userId }, deps);
  const problem = questionProblem(request.question);
  if (problem) {
    // A duplicate of a run that failed here ends quietly too: the claim decides first.
    await claimed;
    throw problem;
  }
  // The two lookups only read: they run while the claim is in flight (its latency hides behind
  // theirs), and whatever they find counts only once the claim is won.
  const fresh = isFreshAsk(workflowInput, deps.now?.() ?? new Date());
  const lookups = Promise.allSettled([fresh ? Promise.resolve() : checkAsker(identity, deps), readTenant(identity.tenantId, deps)]);
  await claimed;

  // The request is valid and the answer this execution's: the asker hears so while the checks end.
  const events = new AnswerEvents(deps.events, { answerId: request.answerId, userId: identity.userId }, FIRST_SEQ, deps.log);
  events.accepted();
  events.progress('ValidateContext');

  // Report the asker's problem before the store's.
  const [asker, tenantRead] = await lookups;
  // Before any outcome, so that a FAILED event that follows comes after these.
  const nextSeq = await events.flush();
  if (asker.status === 'rejected') throw asker.reason;
  if (tenantRead.status === 'rejected') throw tenantRead.reason;
  const tenant = tenantRead.value;
  if (tenant?.status === 'SUSPENDED') throw new WorkflowError(ErrorName.TenantUnavailable, SUSPENDED_MESSAGE);
  // A tenant being onboarded (CREATING) or whose onboarding failed (FAILED) is no store yet.
  if (tenant?.status !== 'ACTIVE') throw new WorkflowError(ErrorName.TenantUnavailable, `The store ${identity.tenantId} does not exist.`);

  const conversation = request.conversationId ?? request.answerId;
  return { sessionId: agentSessionId(identity.tenantId, identity.userId, conversation), storeName: tenant.name, nextSeq };
}

export function validateContextDeps(config: TaskConfig, clients: ClientOptions, log: TaskLog): ValidateContextDeps {
  return {
    dynamodb: new DynamoDBClient(dynamoConfig(clients)),
    tables: config.tables,
    cognito: new CognitoIdentityProviderClient(sdkConfig(clients)),
    userPoolId: config.userPoolId,
    events: answerEventsClient(config, clients, 'validate-context'),
    log,
  };
}
