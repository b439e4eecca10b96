/**
 * Operator tooling for the assistant's executions: list, show (every state's input, output and
 * timing, like the console's graph view in text) and replay a failed run. It speaks the Step
 * Functions and DynamoDB APIs only, so the same code serves the local stack and a deployment.
 */
import { randomUUID } from 'node:crypto';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  StartExecutionCommand,
  type ExecutionStatus,
  type HistoryEvent,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { FailedRun } from '../tasks/record-failure.ts';
import type { WorkflowInput } from '../tasks/workflow-input.ts';

export interface ExecutionRow {
  executionArn: string;
  name: string;
  status: string;
  startDate?: Date;
  stopDate?: Date;
}

export async function listExecutions(sfn: SFNClient, stateMachineArn: string, status?: ExecutionStatus, limit = 50): Promise<ExecutionRow[]> {
  const rows: ExecutionRow[] = [];
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(
      new ListExecutionsCommand({ stateMachineArn, ...(status ? { statusFilter: status } : {}), maxResults: Math.min(100, limit), nextToken }),
    );
    for (const e of page.executions ?? []) {
      rows.push({ executionArn: e.executionArn!, name: e.name!, status: e.status!, ...(e.startDate ? { startDate: e.startDate } : {}), ...(e.stopDate ? { stopDate: e.stopDate } : {}) });
    }
    nextToken = page.nextToken;
  } while (nextToken && rows.length < limit);
  return rows.slice(0, limit);
}

export interface StateRun {
  name: string;
  enteredAt: Date;
  exitedAt?: Date;
  input?: string;
  output?: string;
  /** Task attempts (1 + retries). */
  attempts: number;
  failures: { error?: string; cause?: string }[];
}

export interface ExecutionDetail {
  executionArn: string;
  status: string;
  startDate?: Date;
  stopDate?: Date;
  input?: string;
  output?: string;
  error?: string;
  cause?: string;
  states: StateRun[];
}

async function history(sfn: SFNClient, executionArn: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(new GetExecutionHistoryCommand({ executionArn, includeExecutionData: true, maxResults: 1000, nextToken }));
    events.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return events;
}

/** Folds the history into one entry per state visit. */
export function statesFromHistory(events: HistoryEvent[]): StateRun[] {
  const runs: StateRun[] = [];
  let current: StateRun | undefined;
  for (const e of events) {
    if (e.stateEnteredEventDetails) {
      current = { name: e.stateEnteredEventDetails.name ?? '?', enteredAt: e.timestamp!, input: e.stateEnteredEventDetails.input, attempts: 0, failures: [] };
      runs.push(current);
    } else if (e.stateExitedEventDetails && current) {
      current.exitedAt = e.timestamp!;
      current.output = e.stateExitedEventDetails.output;
      current = undefined;
    } else if (current && (e.type === 'TaskScheduled' || e.type === 'LambdaFunctionScheduled')) {
      current.attempts++;
    } else if (current && (e.taskFailedEventDetails || e.lambdaFunctionFailedEventDetails)) {
      const d = e.taskFailedEventDetails ?? e.lambdaFunctionFailedEventDetails!;
      current.failures.push({ ...(d.error ? { error: d.error } : {}), ...(d.cause ? { cause: d.cause } : {}) });
    } else if (current && e.taskTimedOutEventDetails) {
      current.failures.push({ error: e.taskTimedOutEventDetails.error ?? 'States.Timeout' });
    }
  }
  return runs;
}

export async function showExecution(sfn: SFNClient, executionArn: string): Promise<ExecutionDetail> {
  const d = await sfn.send(new DescribeExecutionCommand({ executionArn }));
  return {
    executionArn,
    status: d.status ?? 'UNKNOWN',
    ...(d.startDate ? { startDate: d.startDate } : {}),
    ...(d.stopDate ? { stopDate: d.stopDate } : {}),
    ...(d.input ? { input: d.input } : {}),
    ...(d.output ? { output: d.output } : {}),
    ...(d.error ? { error: d.error } : {}),
    ...(d.cause ? { cause: d.cause } : {}),
    states: statesFromHistory(await history(sfn, executionArn)),
  };
}

/** The run recorded by RecordFailure for an execution, if any. */
export async function findFailedRun(ddb: DynamoDBClient, runsTable: string, executionArn: string): Promise<FailedRun | undefined> {
  const doc = DynamoDBDocumentClient.from(ddb);
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(
      new ScanCommand({ TableName: runsTable, FilterExpression: 'executionArn = :e', ExpressionAttributeValues: { ':e': executionArn }, ExclusiveStartKey }),
    );
    const hit = page.Items?.[0];
    if (hit) return hit as FailedRun;
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return undefined;
}

export interface ReplayResult {
  executionArn: string;
  replayOf: string;
  /** Where the identity and request came from. */
  source: 'runs-table';
}

/**
 * Starts a new execution from the recorded identity and request of a failed run, linked by
 * `replayOf`. The new execution validates everything again from scratch (ValidateContext and
 * MintCredentials run again), so a tampered record or a tenant that was suspended since fails.
 */
export async function replayExecution(
  clients: { sfn: SFNClient; dynamodb: DynamoDBClient },
  target: { stateMachineArn: string; runsTable: string; executionArn: string },
): Promise<ReplayResult> {
  const run = await findFailedRun(clients.dynamodb, target.runsTable, target.executionArn);
  if (!run) {
    throw new Error(`No failed run is recorded for ${target.executionArn}: only runs that reached RecordFailure can be replayed.`);
  }
  const input: WorkflowInput = {
    identity: { tenantId: run.tenantId, userId: run.userId, username: run.username },
    request: { answerId: run.answerId, question: run.question, ...(run.conversationId ? { conversationId: run.conversationId } : {}) },
    replayOf: target.executionArn,
  };
  const started = await clients.sfn.send(
    new StartExecutionCommand({ stateMachineArn: target.stateMachineArn, name: `replay-${randomUUID()}`, input: JSON.stringify(input) }),
  );
  return { executionArn: started.executionArn!, replayOf: target.executionArn, source: 'runs-table' };
}

const ms = (a?: Date, b?: Date) => (a && b ? `${b.getTime() - a.getTime()} ms` : '-');

/** The text form of `show`: one block per state, like the console's graph view. */
export function formatExecution(d: ExecutionDetail): string {
  const lines = [
    `${d.executionArn}`,
    `  status:  ${d.status}${d.error ? ` (${d.error}${d.cause ? `: ${d.cause}` : ''})` : ''}`,
    `  started: ${d.startDate?.toISOString() ?? '-'}  duration: ${ms(d.startDate, d.stopDate)}`,
    `  input:   ${d.input ?? '-'}`,
  ];
  for (const s of d.states) {
    lines.push(`  ${s.name}  ${ms(s.enteredAt, s.exitedAt)}${s.attempts > 1 ? `  attempts: ${s.attempts}` : ''}`);
    for (const f of s.failures) lines.push(`    failed: ${f.error ?? '?'}${f.cause ? `: ${f.cause}` : ''}`);
    lines.push(`    input:  ${s.input ?? '-'}`);
    lines.push(`    output: ${s.output ?? '(none)'}`);
  }
  if (d.output) lines.push(`  output:  ${d.output}`);
  return lines.join('\n');
}
