/**
 * RecordFailure: writes the failed run to the runs table, for operators to inspect and replay:
 * identity, request, the error's type and message (read from the Cause by tasks/lambda-error.ts:
 * never the function's stack trace), execution ARN and time. Never credentials: the state
 * only ever holds them sealed, and this task does not copy the sealed blob either.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod/mini';
import { dynamoConfig, type ClientOptions, type TaskConfig } from './config.ts';
import { classifyAwsError, ErrorName } from './errors.ts';
import type { TableNames } from './tables.ts';
import { parseCause } from './lambda-error.ts';
import { CaughtErrorSchema } from './workflow-input.ts';
import './zod-locale.ts';

export interface RecordFailureDeps {
  /** Signed with the record-failure role: PutItem on the runs table only. */
  dynamodb: DynamoDBClient;
  tables: TableNames;
  now?: () => Date;
}

/** The runs table's item. Keyed by tenant and answer; `executionArn` links to the history. */
export interface FailedRun {
  tenantId: string;
  answerId: string;
  userId: string;
  username: string;
  question: string;
  conversationId?: string;
  errorType: string;
  errorMessage: string;
  executionArn: string;
  failedAt: string;
  replayOf?: string;
}

const MAX_MESSAGE_CHARS = 2000;
const MAX_QUESTION_CHARS = 4000;

/** Lenient on purpose: a run that failed validation must still be recorded as well as it can be. */
const InputSchema = z.object({
  state: z.object({
    identity: z.optional(z.partial(z.object({ tenantId: z.unknown(), userId: z.unknown(), username: z.unknown() }))),
    request: z.optional(z.partial(z.object({ answerId: z.unknown(), question: z.unknown(), conversationId: z.unknown() }))),
    replayOf: z.optional(z.unknown()),
    error: CaughtErrorSchema,
  }),
  executionArn: z.string(),
});

const text = (v: unknown, fallback: string, max = 256): string => (typeof v === 'string' && v.length > 0 ? v.slice(0, max) : fallback);

export async function recordFailure(input: unknown, deps: RecordFailureDeps): Promise<{ recorded: true; tenantId: string; answerId: string }> {
  const { state, executionArn } = InputSchema.parse(input);
  const caught = parseCause(state.error);
  const run: FailedRun = {
    tenantId: text(state.identity?.tenantId, '(unknown)', 64),
    answerId: text(state.request?.answerId, `(unknown).${executionArn.split(':').pop()}`),
    userId: text(state.identity?.userId, '(unknown)', 128),
    username: text(state.identity?.username, '(unknown)', 128),
    question: text(state.request?.question, '', MAX_QUESTION_CHARS),
    ...(typeof state.request?.conversationId === 'string' ? { conversationId: state.request.conversationId.slice(0, 128) } : {}),
    errorType: caught.errorType.slice(0, 256),
    errorMessage: caught.errorMessage.slice(0, MAX_MESSAGE_CHARS),
    executionArn,
    failedAt: (deps.now?.() ?? new Date()).toISOString(),
    ...(typeof state.replayOf === 'string' ? { replayOf: state.replayOf } : {}),
  };
  try {
    await DynamoDBDocumentClient.from(deps.dynamodb).send(new PutCommand({ TableName: deps.tables.runs, Item: run }));
  } catch (err) {
    throw classifyAwsError(err, ErrorName.ServiceUnavailable, 'Recording the failed run');
  }
  return { recorded: true, tenantId: run.tenantId, answerId: run.answerId };
}

export function recordFailureDeps(config: TaskConfig, clients: ClientOptions): RecordFailureDeps {
  return { dynamodb: new DynamoDBClient(dynamoConfig(clients)), tables: config.tables };
}
