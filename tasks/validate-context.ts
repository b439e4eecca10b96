/**
 * ValidateContext: the first state. Checks the identity and request the resolver built from the
 * verified token (or a replay rebuilt from a recorded run), that the tenant exists and is active,
 * and derives the agent session id server-side, so no client can join another user's session.
 * Once the request itself is valid it publishes ACCEPTED and PROGRESS ("checking your account") to
 * the asker of the state input, and returns the next event seq with the context.
 */
import { createHash } from 'node:crypto';
import { AdminGetUserCommand, CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { AnswerEvents, answerEventsClient, FIRST_SEQ, type PublishPort } from './answer-events.ts';
import { classifyAwsError, ErrorName, WorkflowError } from './errors.ts';
import { dynamoConfig, sdkConfig, type ClientOptions, type TaskConfig } from './config.ts';
import type { TaskLog } from './handler.ts';
import type { TableNames, TenantConfig } from './tables.ts';
import { CONTROL_CHARACTERS, MAX_QUESTION_CHARS, parseWorkflowInput, type ValidatedContext } from './workflow-input.ts';

export interface ValidateContextDeps {
  /** Signed with the validate-context role (GetItem on the config table). */
  dynamodb: DynamoDBClient;
  tables: TableNames;
  /** Signed with the validate-context role (AdminGetUser on the user pool). */
  cognito: CognitoIdentityProviderClient;
  userPoolId: string;
  /** Signed with the validate-context role (appsync:GraphQL on publishAnswer): ACCEPTED and PROGRESS. */
  events: PublishPort;
  log: TaskLog;
}

/**
 * The asker must still be an enabled user of the pool whose immutable custom:tenantId is the
 * run's tenant. A fresh ask always passes (the token was just verified); a replay of a user who
 * was removed, disabled or moved, or of a tampered record, does not.
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

const ANSWER_SUFFIX = /^[\w.-]{1,128}$/;

function invalid(reason: string): WorkflowError {
  return new WorkflowError(ErrorName.InvalidRequest, reason);
}

/** The agent session: a function of who asks and which conversation, never of client input alone. */
export function agentSessionId(tenantId: string, userId: string, conversationId: string): string {
  const digest = createHash('sha256').update(`${tenantId}\u0000${userId}\u0000${conversationId}`).digest('hex');
  return `s-${digest.slice(0, 48)}`;
}

async function readTenant(tenantId: string, deps: ValidateContextDeps): Promise<TenantConfig | undefined> {
  try {
    const out = await DynamoDBDocumentClient.from(deps.dynamodb).send(new GetCommand({ TableName: deps.tables.config, Key: { tenantId } }));
    return out.Item as TenantConfig | undefined;
  } catch (err) {
    throw classifyAwsError(err, ErrorName.TenantUnavailable, 'Reading the tenant configuration');
  }
}

export async function validateContext(input: unknown, deps: ValidateContextDeps): Promise<ValidatedContext> {
  const { identity, request } = parseWorkflowInput(input);
  const prefix = `${identity.userId}.`;
  if (!request.answerId.startsWith(prefix) || !ANSWER_SUFFIX.test(request.answerId.slice(prefix.length))) {
    throw invalid('The answerId must be "<your user id>.<suffix>" (letters, digits, ".", "_" or "-").');
  }
  const question = request.question.trim();
  if (question.length === 0) throw invalid('The question is empty.');
  if ([...question].length > MAX_QUESTION_CHARS) throw invalid(`The question is longer than ${MAX_QUESTION_CHARS} characters.`);
  if (new RegExp(CONTROL_CHARACTERS.source).test(question)) throw invalid('The question contains control characters.');

  // The request is valid: the asker hears so while their account and store are checked.
  const events = new AnswerEvents(deps.events, { answerId: request.answerId, userId: identity.userId }, FIRST_SEQ, deps.log);
  events.accepted();
  events.progress('ValidateContext');

  // The two lookups are independent: run them together, report the asker's problem first.
  const [asker, tenantRead] = await Promise.allSettled([checkAsker(identity, deps), readTenant(identity.tenantId, deps)]);
  // Before any outcome, so that a FAILED event that follows comes after these.
  const nextSeq = await events.flush();
  if (asker.status === 'rejected') throw asker.reason;
  if (tenantRead.status === 'rejected') throw tenantRead.reason;
  const tenant = tenantRead.value;
  if (!tenant) throw new WorkflowError(ErrorName.TenantUnavailable, `The store ${identity.tenantId} does not exist.`);
  if (tenant.status !== 'ACTIVE') throw new WorkflowError(ErrorName.TenantUnavailable, `The store ${identity.tenantId} is not active.`);

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
