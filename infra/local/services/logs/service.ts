/**
 * CloudWatch Logs (JSON 1.1), the subset the operator's AWS-mode tooling reads: FilterLogEvents
 * over log groups that a log source delivers to in-process, as Step Functions delivers an Express
 * state machine's execution records (vended logs, no PutLogEvents by the caller). Filter patterns
 * are the JSON subset the tooling sends (`{ $.a = "x" || $.b != "y" && ... }`); any other pattern
 * is refused with InvalidParameterException rather than matched loosely.
 *
 * Requests are authenticated by the edge (SigV4, known keys) and authorised here by IAM policy:
 * `logs:FilterLogEvents` on the log group (the local operator's policy grants it on the state
 * machine's group, tasks/policies.ts; no task role has it). A group keeps its newest events only
 * (`maxEventsPerGroup`), as retention would. Groups keep ingestion order; a read sorts what it matches.
 */
import type { HistoryEvent } from '@aws-sdk/client-sfn';
import type { ExpressLogRecord } from '../../../../client/executions.ts';
import { AwsError, jsonResponse, parseJsonBody, type Protocol, type WireResponse } from '../../edge/aws-error.ts';
import { optionalNumber, optionalString, validationError, type Fields } from '../../edge/wire.ts';
import type { EdgeCall } from '../../edge/edge.ts';
import type { PolicyEvaluator } from '../../iam/evaluator.ts';
import type { AwsLocation } from '../../../../tasks/aws-location.ts';

export const LOGS_PROTOCOL: Protocol = { kind: 'json', version: '1.1', errorPrefix: '' };
const TARGET_PREFIX = 'Logs_20140328.';

/** FilterLogEvents' default and maximum page size. */
const MAX_PAGE = 10_000;

/**
 * An event as a source delivers it: a text message, or a JSON record (Step Functions' vended logs),
 * kept as an object and written out only when read, so that delivering costs no serialization and
 * filtering no parsing.
 */
export type LogEvent = { timestamp: number; message: string } | { timestamp: number; json: object };

type StoredEvent = LogEvent & {
  logStreamName: string;
  ingestionTime: number;
  eventId: string;
};

const messageOf = (e: LogEvent) => ('json' in e ? JSON.stringify(e.json) : e.message);

type Comparison = { path: string[]; op: '=' | '!='; value: string };
/** OR of ANDs of comparisons. */
type Pattern = Comparison[][];

const invalidPattern = (detail: string) => new AwsError('InvalidParameterException', `Invalid filter pattern: ${detail}`, 400);

/** Parses the JSON filter-pattern subset; '' matches every event. */
export function parseFilterPattern(text: string): Pattern | undefined {
  const s = text.trim();
  if (s === '') return undefined;
  if (!s.startsWith('{') || !s.endsWith('}')) throw invalidPattern('only JSON patterns ({ ... }) are supported by the local stand-in');
  const term = /^\s*\(?\s*\$((?:\.[A-Za-z_][A-Za-z0-9_]*)+)\s*(!=|=)\s*("(?:[^"\\]|\\.)*")\s*\)?\s*/;
  let rest = s.slice(1, -1);
  const pattern: Pattern = [[]];
  for (;;) {
    const m = term.exec(rest);
    if (!m) throw invalidPattern(`cannot read '${rest.trim().slice(0, 40)}'`);
    pattern.at(-1)!.push({ path: m[1]!.slice(1).split('.'), op: m[2] as '=' | '!=', value: JSON.parse(m[3]!) as string });
    rest = rest.slice(m[0].length);
    if (rest === '') return pattern;
    if (rest.startsWith('||')) pattern.push([]);
    else if (!rest.startsWith('&&')) throw invalidPattern(`expected && or || at '${rest.slice(0, 20)}'`);
    rest = rest.slice(2);
  }
}

function matches(pattern: Pattern | undefined, event: LogEvent): boolean {
  if (!pattern) return true;
  let doc: unknown;
  if ('json' in event) doc = event.json;
  else {
    try {
      doc = JSON.parse(event.message);
    } catch {
      return false; // JSON patterns never match non-JSON events
    }
  }
  const at = (path: string[]) => path.reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), doc);
  return pattern.some((all) =>
    all.every((c) => {
      const v = at(c.path);
      const equal = typeof v === 'string' && v === c.value;
      return c.op === '=' ? equal : v !== undefined && !equal;
    }),
  );
}

export class LogsService {
  readonly protocol = LOGS_PROTOCOL;
  private readonly groups = new Map<string, StoredEvent[]>();
  private nextEventId = 0;

  constructor(
    private readonly location: AwsLocation,
    private readonly evaluator: PolicyEvaluator,
    private readonly options: { clock?: () => Date; pageSize?: number; maxEventsPerGroup?: number } = {},
  ) {}

  logGroupArn(name: string): string {
    return `arn:${this.location.partition}:logs:${this.location.region}:${this.location.accountId}:log-group:${name}`;
  }

  createLogGroup(name: string): void {
    if (!this.groups.has(name)) this.groups.set(name, []);
  }

  /** A log source's delivery (Step Functions' vended logs): the group must exist. */
  deliver(logGroupName: string, logStreamName: string, events: readonly LogEvent[]): void {
    const group = this.groups.get(logGroupName);
    if (!group) throw new Error(`No log group ${logGroupName}`);
    const ingestionTime = (this.options.clock?.() ?? new Date()).getTime();
    // Kept in ingestion order (cheap on this hot path: every execution's end delivers); reads sort
    // what they match. Executions end out of start order, so the group is not in time order.
    for (const e of events) group.push({ ...e, logStreamName, ingestionTime, eventId: String(++this.nextEventId).padStart(20, '0') });
    // The oldest deliveries go, a tenth of the limit at a time rather than a few per delivery.
    const max = this.options.maxEventsPerGroup ?? 20_000;
    if (group.length > max + Math.ceil(max / 10)) group.splice(0, group.length - max);
  }

  async handle({ principal, target, body, requestId }: EdgeCall): Promise<WireResponse> {
    // As on AWS, the operation (under the Logs target prefix) is resolved before the body is read.
    const operation = target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : '';
    if (operation !== 'FilterLogEvents') {
      throw new AwsError('UnknownOperationException', `Operation ${operation || target || '(none)'} is not supported by the local CloudWatch Logs.`, 400);
    }
    const input = parseJsonBody(body);
    const name = this.groupNameOf(input);
    await this.evaluator.authorize({ principal, action: 'logs:FilterLogEvents', resource: this.logGroupArn(name) });
    return jsonResponse(LOGS_PROTOCOL, this.filterLogEvents(name, input), requestId);
  }

  private groupNameOf(input: Fields): string {
    const logGroupName = optionalString(input, 'logGroupName');
    const logGroupIdentifier = optionalString(input, 'logGroupIdentifier');
    if (logGroupName !== undefined && logGroupIdentifier !== undefined) {
      throw new AwsError('InvalidParameterException', 'LogGroupName and LogGroupIdentifier are mutually exclusive.', 400);
    }
    const ref = logGroupName ?? logGroupIdentifier;
    if (ref === undefined || ref === '') throw new AwsError('InvalidParameterException', 'Either LogGroupName or LogGroupIdentifier must be specified.', 400);
    const arnPrefix = this.logGroupArn('');
    return ref.startsWith(arnPrefix) ? ref.slice(arnPrefix.length).replace(/:\*$/, '') : ref;
  }

  private filterLogEvents(name: string, input: Fields) {
    const group = this.groups.get(name);
    if (!group) throw new AwsError('ResourceNotFoundException', 'The specified log group does not exist.', 400);
    const pattern = parseFilterPattern(optionalString(input, 'filterPattern') ?? '');
    const start = optionalNumber(input, 'startTime') ?? -Infinity;
    const end = optionalNumber(input, 'endTime') ?? Infinity;
    const limit = optionalNumber(input, 'limit') ?? MAX_PAGE;
    // CloudWatch Logs reports a constraint violation as InvalidParameterException.
    if (limit < 1) throw validationError('limit', 'have value greater than or equal to 1', { value: limit, code: 'InvalidParameterException' });
    if (limit > MAX_PAGE) throw validationError('limit', `have value less than or equal to ${MAX_PAGE}`, { value: limit, code: 'InvalidParameterException' });
    const nextToken = optionalString(input, 'nextToken');
    const offset = nextToken === undefined ? 0 : Number(Buffer.from(nextToken, 'base64url').toString('utf8'));
    if (!Number.isInteger(offset) || offset < 0) throw new AwsError('InvalidParameterException', 'The specified nextToken is invalid.', 400);
    const matched = group
      .filter((e) => e.timestamp >= start && e.timestamp <= end && matches(pattern, e))
      .sort((a, b) => a.timestamp - b.timestamp || a.eventId.localeCompare(b.eventId));
    const size = Math.min(limit, this.options.pageSize ?? MAX_PAGE);
    const page = matched.slice(offset, offset + size);
    const more = offset + size < matched.length;
    return {
      events: page.map((e) => ({ logStreamName: e.logStreamName, timestamp: e.timestamp, message: messageOf(e), ingestionTime: e.ingestionTime, eventId: e.eventId })),
      searchedLogStreams: [],
      ...(more ? { nextToken: Buffer.from(String(offset + size), 'utf8').toString('base64url') } : {}),
    };
  }
}

/**
 * An execution's history as Step Functions writes it to the state machine's log group (level ALL,
 * execution data included): one JSON record per event, every scalar a string.
 */
export function stepFunctionsLogEvents(
  executionArn: string,
  history: readonly (Pick<HistoryEvent, 'id' | 'previousEventId' | 'timestamp'> & { type?: string })[],
): LogEvent[] {
  return history.map((e) => {
    const detailsKey = Object.keys(e).find((k) => k.endsWith('EventDetails'));
    const record: ExpressLogRecord = {
      id: String(e.id),
      type: e.type ?? '',
      details: detailsKey ? ((e as unknown as Record<string, unknown>)[detailsKey] as Record<string, unknown>) : {},
      previous_event_id: String(e.previousEventId ?? 0),
      event_timestamp: String(e.timestamp!.getTime()),
      execution_arn: executionArn,
      redrive_count: '0',
    };
    return { timestamp: e.timestamp!.getTime(), json: record };
  });
}
