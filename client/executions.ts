/**
 * Operator tooling for the assistant's executions: list, show (every state's input, output and
 * timing, like the console's graph view in text) and replay a failed run. It speaks the Step
 * Functions and DynamoDB APIs only, so the same code serves the local stack and a deployment.
 * Express executions on AWS have no history API (ListExecutions, DescribeExecution and
 * GetExecutionHistory refuse them): there `list` and `show` read the state machine's CloudWatch
 * log group instead (`*FromLogs` below). Replaying a run is client/replay.ts.
 */
import {
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  type ExecutionStatus,
  type HistoryEvent,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import { FilterLogEventsCommand, type CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { parseCause } from './caught-error.ts';

export interface ExecutionRow {
  executionArn: string;
  name: string;
  status: string;
  startDate?: Date;
  stopDate?: Date;
}

/** One listing: its rows, newest first, and how to go on when more exist. */
export interface ExecutionPage {
  rows: ExecutionRow[];
  /** ListExecutions' token for the rows after these (local stack); set only when more exist. */
  nextToken?: string;
  /** How many more matched but were left out (log-based listing on AWS, which reads them all). */
  more?: number;
}

/**
 * Up to `limit` executions (newest first), from `nextToken` when given: ListExecutions pages of
 * `maxResults` = min(limit, 1000), the same on every call as the API asks ("keep all other
 * arguments unchanged"). A page may hold fewer than asked; rows are never dropped between tokens, so
 * a short page can make the listing a few rows longer than `limit`.
 */
export async function listExecutionsPage(
  sfn: SFNClient,
  stateMachineArn: string,
  options: { status?: ExecutionStatus; limit?: number; nextToken?: string } = {},
): Promise<ExecutionPage> {
  const limit = options.limit ?? 50;
  const rows: ExecutionRow[] = [];
  let nextToken = options.nextToken;
  do {
    const page = await sfn.send(
      new ListExecutionsCommand({ stateMachineArn, ...(options.status ? { statusFilter: options.status } : {}), maxResults: Math.min(1000, limit), nextToken }),
    );
    for (const e of page.executions ?? []) {
      rows.push({ executionArn: e.executionArn!, name: e.name!, status: e.status!, ...(e.startDate ? { startDate: e.startDate } : {}), ...(e.stopDate ? { stopDate: e.stopDate } : {}) });
    }
    nextToken = page.nextToken;
  } while (nextToken && rows.length < limit);
  return { rows, ...(nextToken ? { nextToken } : {}) };
}

export async function listExecutions(sfn: SFNClient, stateMachineArn: string, status?: ExecutionStatus, limit = 50): Promise<ExecutionRow[]> {
  return (await listExecutionsPage(sfn, stateMachineArn, { ...(status ? { status } : {}), limit })).rows.slice(0, limit);
}

export interface StateRun {
  name: string;
  enteredAt: Date;
  exitedAt?: Date;
  input?: string;
  output?: string;
  /** Task attempts (1 + retries). */
  attempts: number;
  /** Every failed attempt, whatever the kind of failure (failed, timed out, not started). */
  failures: Failure[];
}

/** A failure as the history records it; `message` is what its cause says (a function's errorMessage, never its trace). */
export interface Failure {
  error?: string;
  cause?: string;
  message?: string;
}

/**
 * The answer's token usage, as the InvokeAgent state returned it (`$.answer.usage`): for operators
 * and metering, never sent to the asker. The client's own copy of the tasks' TokenUsage
 * (test/client-schema.test.ts checks they agree).
 */
export interface AnswerUsage {
  modelId: string;
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
  costUsd?: number;
}

/** The state that asks the model (states/definition.ts STATE_NAMES.invoke; the client imports nothing of the workflow's). */
const INVOKE_STATE = 'InvokeAgent';

function isUsage(value: unknown): value is AnswerUsage {
  const u = value as Partial<AnswerUsage> | null | undefined;
  return (
    typeof u === 'object' && u !== null && typeof u.modelId === 'string' &&
    [u.inputTokens, u.outputTokens, u.totalTokens].every((n) => typeof n === 'number') &&
    (u.costUsd === undefined || typeof u.costUsd === 'number')
  );
}

/** The usage the last completed InvokeAgent visit reported; undefined when none did (or its output was cut short in the log). */
export function usageOf(states: readonly StateRun[]): AnswerUsage | undefined {
  const visit = states.findLast((s) => s.name === INVOKE_STATE && s.output !== undefined);
  if (!visit) return undefined;
  let output: { answer?: { usage?: unknown } } | undefined;
  try {
    output = JSON.parse(visit.output!) as typeof output;
  } catch {
    return undefined;
  }
  const usage = output?.answer?.usage;
  return isUsage(usage) ? usage : undefined;
}

/** An answer's usage in words: `1234 (input 1000, output 234) on <model>`, and its cost where priced. */
export function tokensText(u: AnswerUsage): string {
  const cost = u.costUsd !== undefined ? `, $${u.costUsd.toFixed(6)}` : '';
  return `${u.totalTokens} (input ${u.inputTokens}, output ${u.outputTokens}) on ${u.modelId}${cost}`;
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
  /** What the cause says (the errorMessage of a function's error document). */
  message?: string;
  /** The answer's tokens (operators only). */
  usage?: AnswerUsage;
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

/**
 * The history events that end a task attempt in failure, each with the error it stands for when it
 * names none: a Lambda function, an activity or a service integration that failed, timed out
 * (the state's TimeoutSeconds or HeartbeatSeconds), or could not be scheduled or started.
 */
const FAILURE_EVENTS: readonly [keyof HistoryEvent, string | undefined][] = [
  ['lambdaFunctionFailedEventDetails', undefined],
  ['lambdaFunctionTimedOutEventDetails', 'States.Timeout'],
  ['lambdaFunctionStartFailedEventDetails', undefined],
  ['lambdaFunctionScheduleFailedEventDetails', undefined],
  ['taskFailedEventDetails', undefined],
  ['taskTimedOutEventDetails', 'States.Timeout'],
  ['taskStartFailedEventDetails', undefined],
  ['taskSubmitFailedEventDetails', undefined],
  ['activityFailedEventDetails', undefined],
  ['activityTimedOutEventDetails', 'States.Timeout'],
  ['activityScheduleFailedEventDetails', undefined],
];
const SCHEDULED_EVENTS = new Set(['TaskScheduled', 'LambdaFunctionScheduled', 'ActivityScheduled']);

/** A failure from its error and cause, with the message its cause carries. */
export function failureOf(error: string | undefined, cause: string | undefined): Failure {
  return {
    ...(error ? { error } : {}),
    ...(cause ? { cause, message: parseCause({ Error: error ?? '', Cause: cause }).errorMessage } : {}),
  };
}

function failureIn(e: HistoryEvent): Failure | undefined {
  for (const [key, fallback] of FAILURE_EVENTS) {
    const d = e[key] as { error?: string; cause?: string } | undefined;
    if (d) return failureOf(d.error ?? fallback, d.cause);
  }
  return undefined;
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
    } else if (current && e.type && SCHEDULED_EVENTS.has(e.type)) {
      current.attempts++;
    } else if (current) {
      const failure = failureIn(e);
      if (failure) current.failures.push(failure);
    }
  }
  return runs;
}

/** An execution with every state's run, from its history alone (the same reading as the log records'). */
export async function showExecution(sfn: SFNClient, executionArn: string): Promise<ExecutionDetail> {
  return executionDetailOf(executionArn, await history(sfn, executionArn));
}

const ms = (a?: Date, b?: Date) => (a && b ? `${b.getTime() - a.getTime()} ms` : '-');

/** The text form of `show`: one block per state, like the console's graph view. */
export function formatExecution(d: ExecutionDetail): string {
  const lines = [
    `${d.executionArn}`,
    `  status:  ${d.status}${d.error ? ` (${d.error}${d.message ? `: ${d.message}` : ''})` : ''}`,
    `  started: ${d.startDate?.toISOString() ?? '-'}  duration: ${ms(d.startDate, d.stopDate)}`,
    `  input:   ${d.input ?? '-'}`,
  ];
  if (d.usage) lines.push(`  tokens:  ${tokensText(d.usage)}`);
  for (const s of d.states) {
    lines.push(`  ${s.name}  ${ms(s.enteredAt, s.exitedAt)}${s.attempts > 1 ? `  attempts: ${s.attempts}` : ''}`);
    for (const f of s.failures) lines.push(`    failed: ${f.error ?? '?'}${f.message ? `: ${f.message}` : ''}`);
    lines.push(`    input:  ${s.input ?? '-'}`);
    lines.push(`    output: ${s.output ?? '(none)'}`);
  }
  if (d.output) lines.push(`  output:  ${d.output}`);
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Express executions on AWS: the state machine's log group (logging level ALL, execution data
// included) is their only history. FilterLogEvents rather than Logs Insights: it answers in one
// synchronous, paginated call with the exact events (no query to start and poll, no per-GB scan
// charge on top of the storage), and its JSON filter patterns select by `execution_arn` or `type`
// on the server.

/** One record as Step Functions writes it to CloudWatch Logs (every scalar is a string). */
export interface ExpressLogRecord {
  id: string;
  type: string;
  details: Record<string, unknown>;
  previous_event_id?: string;
  event_timestamp: string;
  execution_arn: string;
  redrive_count?: string;
}

const EXECUTION_END_STATUS: Readonly<Record<string, string>> = {
  ExecutionSucceeded: 'SUCCEEDED',
  ExecutionFailed: 'FAILED',
  ExecutionTimedOut: 'TIMED_OUT',
  ExecutionAborted: 'ABORTED',
};
const EXECUTION_EVENT_TYPES = ['ExecutionStarted', ...Object.keys(EXECUTION_END_STATUS)];

/** A log event's message as a Step Functions record, or undefined when it is not one. */
export function parseExpressLogRecord(message: string | undefined): ExpressLogRecord | undefined {
  if (!message) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(message);
  } catch {
    return undefined;
  }
  const r = value as Partial<ExpressLogRecord> | null;
  if (!r || typeof r !== 'object' || typeof r.type !== 'string' || typeof r.execution_arn !== 'string' || typeof r.event_timestamp !== 'string') return undefined;
  const details = r.details && typeof r.details === 'object' ? r.details : {};
  return { ...(r as ExpressLogRecord), details };
}

/** The history event a record stands for (`TaskStateEntered` -> `stateEnteredEventDetails`, ...). */
export function historyEventOf(record: ExpressLogRecord): HistoryEvent {
  const key = /StateEntered$/.test(record.type)
    ? 'stateEnteredEventDetails'
    : /StateExited$/.test(record.type)
      ? 'stateExitedEventDetails'
      : `${record.type[0]!.toLowerCase()}${record.type.slice(1)}EventDetails`;
  return {
    timestamp: new Date(Number(record.event_timestamp)),
    type: record.type as HistoryEvent['type'],
    id: Number(record.id),
    ...(record.previous_event_id !== undefined ? { previousEventId: Number(record.previous_event_id) } : {}),
    [key]: record.details,
  } as HistoryEvent;
}

/** The execution's name: the segment after the state machine's (`...:express:<machine>:<name>:<id>`). */
export function executionNameOf(executionArn: string): string {
  return executionArn.split(':')[7] ?? executionArn;
}

const quoted = (s: string) => JSON.stringify(s);

async function filterRecords(
  logs: CloudWatchLogsClient,
  input: { logGroupName: string; filterPattern: string; startTime?: number },
): Promise<ExpressLogRecord[]> {
  const records: ExpressLogRecord[] = [];
  let nextToken: string | undefined;
  do {
    const page = await logs.send(new FilterLogEventsCommand({ ...input, nextToken }));
    for (const e of page.events ?? []) {
      const record = parseExpressLogRecord(e.message);
      if (record) records.push(record);
    }
    nextToken = page.nextToken;
  } while (nextToken);
  return records;
}

export interface LogQueryWindow {
  /** Oldest execution start to consider. @default 24 hours ago */
  since?: Date;
  limit?: number;
}

/**
 * The executions whose start or end was logged since `window.since`, newest first. An execution
 * with a start and no end event is RUNNING (or its end is not delivered yet: log delivery lags by
 * seconds).
 */
export async function listExecutionsFromLogs(
  logs: CloudWatchLogsClient,
  logGroupName: string,
  status?: ExecutionStatus,
  window: LogQueryWindow = {},
): Promise<ExecutionPage> {
  const since = window.since ?? new Date(Date.now() - 24 * 3600_000);
  const filterPattern = `{ ${EXECUTION_EVENT_TYPES.map((t) => `($.type = ${quoted(t)})`).join(' || ')} }`;
  const records = await filterRecords(logs, { logGroupName, filterPattern, startTime: since.getTime() });
  const rows = new Map<string, ExecutionRow>();
  for (const r of records) {
    const row = rows.get(r.execution_arn) ?? { executionArn: r.execution_arn, name: executionNameOf(r.execution_arn), status: 'RUNNING' };
    const at = new Date(Number(r.event_timestamp));
    if (r.type === 'ExecutionStarted') row.startDate = at;
    else if (EXECUTION_END_STATUS[r.type]) {
      row.status = EXECUTION_END_STATUS[r.type]!;
      row.stopDate = at;
    }
    rows.set(r.execution_arn, row);
  }
  const time = (r: ExecutionRow) => (r.startDate ?? r.stopDate)?.getTime() ?? 0;
  const matching = [...rows.values()].filter((r) => !status || r.status === status).sort((a, b) => time(b) - time(a));
  const limit = window.limit ?? 50;
  return { rows: matching.slice(0, limit), ...(matching.length > limit ? { more: matching.length - limit } : {}) };
}

/** Thrown when the log group holds no record of an execution (wrong ARN, outside retention, not delivered yet). */
export class ExecutionNotFoundError extends Error {
  constructor(executionArn: string, logGroupName: string) {
    super(`No log events for ${executionArn} in ${logGroupName} (a wrong ARN, older than the log retention, or not delivered yet: try again in a few seconds).`);
    this.name = 'ExecutionNotFoundError';
  }
}

/** `show` for an Express execution: its records, in event order, folded like a history. */
export async function showExecutionFromLogs(
  logs: CloudWatchLogsClient,
  logGroupName: string,
  executionArn: string,
  since?: Date,
): Promise<ExecutionDetail> {
  const records = await filterRecords(logs, {
    logGroupName,
    filterPattern: `{ $.execution_arn = ${quoted(executionArn)} }`,
    ...(since ? { startTime: since.getTime() } : {}),
  });
  if (records.length === 0) throw new ExecutionNotFoundError(executionArn, logGroupName);
  const events = records.map(historyEventOf).sort((a, b) => (a.id ?? 0) - (b.id ?? 0));
  return executionDetailOf(executionArn, events);
}

/** An execution's summary and state visits from its (complete or partial) history. */
export function executionDetailOf(executionArn: string, events: HistoryEvent[]): ExecutionDetail {
  const started = events.find((e) => e.type === 'ExecutionStarted');
  const ended = events.find((e) => e.type !== undefined && EXECUTION_END_STATUS[e.type] !== undefined);
  const input = started?.executionStartedEventDetails?.input;
  const output = ended?.executionSucceededEventDetails?.output;
  const failure = ended?.executionFailedEventDetails ?? ended?.executionTimedOutEventDetails ?? ended?.executionAbortedEventDetails;
  const states = statesFromHistory(events);
  const usage = usageOf(states);
  return {
    executionArn,
    status: ended ? EXECUTION_END_STATUS[ended.type!]! : 'RUNNING',
    ...(started?.timestamp ? { startDate: started.timestamp } : {}),
    ...(ended?.timestamp ? { stopDate: ended.timestamp } : {}),
    ...(input !== undefined ? { input } : {}),
    ...(output !== undefined ? { output } : {}),
    ...failureOf(failure?.error, failure?.cause),
    ...(usage ? { usage } : {}),
    states,
  };
}
