/**
 * An execution's history: its events as stored, as GetExecutionHistory sends them, as the log
 * delivery (`onExecutionEnded`) receives them, and the event families of task resources (Lambda
 * functions, activities, service integrations), each of which AWS names and details differently.
 */

/** An execution's or a task's error and cause, as the history and DescribeExecution report them. */
export interface Failure {
  error: string;
  cause: string;
}

/** A history event as stored: `timestamp` in epoch milliseconds, details under their AWS field name. */
export interface StoredEvent {
  id: number;
  previousEventId: number;
  timestamp: number;
  type: string;
  detailsKey?: string;
  details?: Record<string, unknown>;
}

/** A history event as GetExecutionHistory returns it through the SDK: details under their AWS field name. */
export type HistoryEventView = { id: number; previousEventId: number; timestamp: Date; type: string } & Record<string, unknown>;

/** The JSON protocol's timestamps: epoch seconds, as a number. */
export const epochSeconds = (ms: number) => ms / 1000;

/** Detail members that carry execution data: left out when GetExecutionHistory has includeExecutionData false. */
const DATA_FIELDS = new Set(['input', 'inputDetails', 'output', 'outputDetails', 'parameters']);

/** An event as GetExecutionHistory sends it on the wire. */
export function wireEvent(e: StoredEvent, includeData: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = { timestamp: epochSeconds(e.timestamp), type: e.type, id: e.id, previousEventId: e.previousEventId };
  if (e.detailsKey && e.details) {
    out[e.detailsKey] = includeData ? e.details : Object.fromEntries(Object.entries(e.details).filter(([k]) => !DATA_FIELDS.has(k)));
  }
  return out;
}

/** The whole history as the SDK would read it (for the log delivery of an ended execution). */
export function historyView(events: readonly StoredEvent[]): HistoryEventView[] {
  return events.map((e) => ({
    id: e.id,
    previousEventId: e.previousEventId,
    timestamp: new Date(e.timestamp),
    type: e.type,
    ...(e.detailsKey ? { [e.detailsKey]: e.details } : {}),
  }));
}

// ---------------------------------------------------------------------------------------------
// History events for task resources: Lambda functions, service integrations, activities.

/** An event to record: its type, and its details under their AWS field name (if it has any). */
export type EventRecord = [type: string, detailsKey?: string, details?: Record<string, unknown>];

export interface TaskEventFamily {
  scheduled(parameters: string, timeoutInSeconds: number | undefined): EventRecord;
  started(): EventRecord;
  succeeded(output: string): EventRecord;
  failed(f: Failure): EventRecord;
  /** A state's TimeoutSeconds ran out: AWS records the error (States.Timeout) and no cause. */
  timedOut(f: Pick<Failure, 'error'>): EventRecord;
}

const detailsKeyOf = (type: string) => `${type[0]!.toLowerCase()}${type.slice(1)}EventDetails`;
const ev = (type: string, details: Record<string, unknown>): EventRecord => [type, detailsKeyOf(type), details];
const withTimeout = (d: Record<string, unknown>, t: number | undefined) => (t === undefined ? d : { ...d, timeoutInSeconds: t });

/** The events a Task state with this `Resource` records, as AWS names them for that kind of resource. */
export function taskEventFamily(resource: string, region: string): TaskEventFamily {
  const parts = resource.split(':');
  if (parts[2] === 'lambda' && parts[5] === 'function') {
    return {
      scheduled: (input, t) => ev('LambdaFunctionScheduled', withTimeout({ resource, input, inputDetails: { truncated: false } }, t)),
      started: () => ['LambdaFunctionStarted'],
      succeeded: (output) => ev('LambdaFunctionSucceeded', { output, outputDetails: { truncated: false } }),
      failed: (f) => ev('LambdaFunctionFailed', { ...f }),
      timedOut: (f) => ev('LambdaFunctionTimedOut', { ...f }),
    };
  }
  if (parts[2] === 'states' && parts[5] === 'activity') {
    return {
      scheduled: (input, t) => ev('ActivityScheduled', withTimeout({ resource, input, inputDetails: { truncated: false } }, t)),
      started: () => ev('ActivityStarted', { workerName: 'local' }),
      succeeded: (output) => ev('ActivitySucceeded', { output, outputDetails: { truncated: false } }),
      failed: (f) => ev('ActivityFailed', { ...f }),
      timedOut: (f) => ev('ActivityTimedOut', { ...f }),
    };
  }
  // Service integrations: arn:aws:states:::lambda:invoke, arn:aws:states:::aws-sdk:dynamodb:getItem, ...
  let resourceType = parts[5] ?? resource;
  let action = parts.slice(6).join(':');
  if (resourceType === 'aws-sdk' && parts.length > 7) {
    resourceType = `aws-sdk:${parts[6]}`;
    action = parts.slice(7).join(':');
  }
  const base = { resourceType, resource: action };
  return {
    scheduled: (parameters, t) => ev('TaskScheduled', withTimeout({ ...base, region, parameters }, t)),
    started: () => ev('TaskStarted', { ...base }),
    succeeded: (output) => ev('TaskSucceeded', { ...base, output, outputDetails: { truncated: false } }),
    failed: (f) => ev('TaskFailed', { ...base, ...f }),
    timedOut: (f) => ev('TaskTimedOut', { ...base, ...f }),
  };
}
