/**
 * Replaying a run that ended without an answer: a new execution, with its own answerId, from the
 * identity and request of the run (as RecordFailure recorded it in the runs table, or, for a run
 * the local stack stopped, from the execution's own input). The same code serves the local stack
 * and a deployment (where Express executions have no DescribeExecution: only recorded runs).
 */
import { DescribeExecutionCommand, StartExecutionCommand, type SFNClient } from '@aws-sdk/client-sfn';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';

/**
 * A failed run as RecordFailure writes it to the runs table (the fields replay reads). The client
 * keeps its own copy of this shape and of the state machine's input (client/ depends on nothing
 * but the API's schema); test/client-schema.test.ts checks both against the tasks' own types.
 */
export interface RecordedRun {
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

/** The state machine input a replay starts (the resolver builds the same from a verified token). */
export interface ReplayInput {
  identity: { tenantId: string; userId: string; username: string };
  request: { answerId: string; question: string; conversationId?: string };
  replayOf: string;
}

/** The run recorded by RecordFailure for an execution, if any. */
export async function findFailedRun(ddb: DynamoDBClient, runsTable: string, executionArn: string): Promise<RecordedRun | undefined> {
  const doc = DynamoDBDocumentClient.from(ddb);
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(
      new ScanCommand({ TableName: runsTable, FilterExpression: 'executionArn = :e', ExpressionAttributeValues: { ':e': executionArn }, ExclusiveStartKey }),
    );
    const hit = page.Items?.[0];
    if (hit) return hit as RecordedRun;
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return undefined;
}

export interface ReplayResult {
  executionArn: string;
  /** The replay's own answerId (`<userId>.replay-<uuid>`): the original one is claimed by the run it replays. */
  answerId: string;
  replayOf: string;
  /**
   * Where the identity and request came from: the run RecordFailure recorded, or (for a run the
   * local stack stopped, which never reached RecordFailure) the execution's own input.
   */
  source: 'runs-table' | 'execution-input';
}

/** The identity and request a replay needs, as a recorded run or an execution's input holds them. */
type ReplaySource = Pick<RecordedRun, 'tenantId' | 'userId' | 'username' | 'answerId' | 'question' | 'conversationId'>;

const isText = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

/** The identity and request in an execution's input (what Mutation.ask built from the verified token), if it holds them. */
export function replaySourceOfInput(input: string | undefined): ReplaySource | undefined {
  let value: { identity?: Record<string, unknown>; request?: Record<string, unknown> } | null;
  try {
    value = JSON.parse(input ?? '') as typeof value;
  } catch {
    return undefined;
  }
  const identity = value?.identity;
  const request = value?.request;
  if (!identity || !request || !isText(identity.tenantId) || !isText(identity.userId) || !isText(identity.username)) return undefined;
  if (!isText(request.answerId) || typeof request.question !== 'string') return undefined;
  const conversationId = isText(request.conversationId) ? request.conversationId : undefined;
  return {
    tenantId: identity.tenantId,
    userId: identity.userId,
    username: identity.username,
    answerId: request.answerId,
    question: request.question,
    ...(conversationId ? { conversationId } : {}),
  };
}

/** The statuses of a run that ended without an answer and never reached RecordFailure: replayable from its input. */
const REPLAYABLE_UNRECORDED = ['ABORTED', 'TIMED_OUT'];

/**
 * A run with no record in the runs table: one the local stack stopped (ABORTED: it never reached
 * RecordFailure) is replayed from its own input (DescribeExecution). Express executions on AWS have
 * no DescribeExecution: there only recorded runs can be replayed.
 */
async function unrecordedRun(sfn: SFNClient, executionArn: string): Promise<ReplaySource> {
  const recordedOnly = `No failed run is recorded for ${executionArn}: only runs that reached RecordFailure, or that the local stack stopped (ABORTED), can be replayed.`;
  let described;
  try {
    described = await sfn.send(new DescribeExecutionCommand({ executionArn }));
  } catch (err) {
    const name = (err as Error).name;
    if (name === 'ExecutionDoesNotExist' || name === 'InvalidArn' || name === 'StateMachineTypeNotSupported' || name === 'AccessDeniedException') throw new Error(recordedOnly, { cause: err });
    throw err;
  }
  const status = described.status ?? 'UNKNOWN';
  if (!REPLAYABLE_UNRECORDED.includes(status)) {
    const why = status === 'RUNNING' ? 'it is still running' : status === 'SUCCEEDED' ? 'it answered (SUCCEEDED)' : `it is ${status} and reached no RecordFailure`;
    throw new Error(`${executionArn} cannot be replayed: ${why}. ${recordedOnly}`);
  }
  const source = replaySourceOfInput(described.input);
  if (!source) throw new Error(`${executionArn} is ${status}, but its input holds no identity and request to replay.`);
  return source;
}

/**
 * Starts a new execution from the recorded identity and request of a failed run, linked by
 * `replayOf` (the failed execution's ARN). A replay is a new ask: it has its own answerId, since
 * the failed run's answerId stays claimed by that run (ValidateContext's idempotency claim, 24
 * hours), and an ask reusing it would end in AlreadyAnswered. The new execution validates
 * everything again from scratch (ValidateContext and MintCredentials run again), so a tampered
 * record or a tenant that was suspended since fails. A run the local stack stopped (ABORTED, no
 * runs record) is replayed the same way from its execution's input.
 */
export async function replayExecution(
  clients: { sfn: SFNClient; dynamodb: DynamoDBClient },
  target: { stateMachineArn: string; runsTable: string; executionArn: string },
): Promise<ReplayResult> {
  const recorded = await findFailedRun(clients.dynamodb, target.runsTable, target.executionArn);
  const run: ReplaySource = recorded ?? (await unrecordedRun(clients.sfn, target.executionArn));
  const id = globalThis.crypto.randomUUID();
  // "<userId>.<suffix>", as ValidateContext requires of every answerId. The user id is the one the
  // recorded answerId was made for, not the record's userId field: a record whose userId was
  // changed (to ask as someone else) still fails ValidateContext's "answerId belongs to the user".
  const owner = run.answerId.split('.')[0] ?? '';
  const answerId = `${owner}.replay-${id}`;
  const input: ReplayInput = {
    identity: { tenantId: run.tenantId, userId: run.userId, username: run.username },
    request: { answerId, question: run.question, ...(run.conversationId ? { conversationId: run.conversationId } : {}) },
    replayOf: target.executionArn,
  };
  const started = await clients.sfn.send(new StartExecutionCommand({ stateMachineArn: target.stateMachineArn, name: `replay-${id}`, input: JSON.stringify(input) }));
  return { executionArn: started.executionArn!, answerId, replayOf: target.executionArn, source: recorded ? 'runs-table' : 'execution-input' };
}
