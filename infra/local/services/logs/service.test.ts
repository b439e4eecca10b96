/**
 * The local CloudWatch Logs stand-in, over the wire with the unchanged SDK client: FilterLogEvents
 * with the JSON filter patterns the executions tooling sends, time windows, pagination, and AWS's
 * errors for what it does not serve.
 */
import { CloudWatchLogsClient, FilterLogEventsCommand, PutLogEventsCommand, type FilterLogEventsCommandInput, type FilteredLogEvent } from '@aws-sdk/client-cloudwatch-logs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Edge } from '../../edge/edge.ts';
import { silentLogger } from '../../edge/log.ts';
import { LogsService, parseFilterPattern } from './service.ts';
import { PolicyEvaluator } from '../../iam/evaluator.ts';
import { LocalIam, STATE_MACHINE_LOG_GROUP } from '../../iam/principals.ts';

/** A group the local operator may read (its policy names the account's Step Functions vended log groups). */
const GROUP = STATE_MACHINE_LOG_GROUP;
const iam = new LocalIam();
const logs = new LogsService(iam.location, new PolicyEvaluator(), { pageSize: 2 });
const edge = new Edge({ iam, services: { logs }, clock: () => new Date(), logger: silentLogger });
let client: CloudWatchLogsClient;
let endpoint: string;

const record = (type: string, executionArn: string, at: number) => ({ timestamp: at, message: JSON.stringify({ id: '1', type, details: {}, event_timestamp: String(at), execution_arn: executionArn }) });

beforeAll(async () => {
  endpoint = await edge.listen(0);
  client = new CloudWatchLogsClient({ endpoint, region: iam.location.region, credentials: iam.credentials('operator'), maxAttempts: 1 });
  logs.createLogGroup(GROUP);
  logs.deliver(GROUP, 'states/a', [record('ExecutionStarted', 'arn:a', 1000), record('TaskStateEntered', 'arn:a', 1001), record('ExecutionSucceeded', 'arn:a', 1005)]);
  logs.deliver(GROUP, 'states/b', [record('ExecutionStarted', 'arn:b', 2000), record('ExecutionFailed', 'arn:b', 2003), { timestamp: 2004, message: 'START RequestId: not json' }]);
});
afterAll(async () => {
  client?.destroy();
  await edge.close();
});

async function all(input: Omit<FilterLogEventsCommandInput, 'nextToken'>): Promise<{ events: FilteredLogEvent[]; pages: number }> {
  const events: FilteredLogEvent[] = [];
  let nextToken: string | undefined;
  let pages = 0;
  do {
    const page = await client.send(new FilterLogEventsCommand({ ...input, nextToken }));
    pages++;
    events.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return { events, pages };
}

const types = (events: FilteredLogEvent[]) => events.map((e) => (JSON.parse(e.message!) as { type: string }).type);

describe('local CloudWatch Logs: FilterLogEvents', () => {
  it('selects by a JSON field across streams, in time order, paginated with nextToken', async () => {
    const { events, pages } = await all({ logGroupName: GROUP, filterPattern: '{ ($.type = "ExecutionStarted") || ($.type = "ExecutionSucceeded") || ($.type = "ExecutionFailed") }' });
    expect(types(events)).toEqual(['ExecutionStarted', 'ExecutionSucceeded', 'ExecutionStarted', 'ExecutionFailed']);
    expect(pages).toBe(2);
    expect(events[0]).toMatchObject({ logStreamName: 'states/a', timestamp: 1000 });
    expect(events.map((e) => e.eventId)).toEqual([...new Set(events.map((e) => e.eventId))]);
  });

  it('selects one execution by its ARN, within a time window, by name or ARN of the group', async () => {
    const byArn = await all({ logGroupIdentifier: `${logs.logGroupArn(GROUP)}:*`, filterPattern: '{ $.execution_arn = "arn:a" }' });
    expect(types(byArn.events)).toEqual(['ExecutionStarted', 'TaskStateEntered', 'ExecutionSucceeded']);
    const window = await all({ logGroupName: GROUP, startTime: 1001, endTime: 2000, filterPattern: '{ $.execution_arn = "arn:a" && $.type != "TaskStateEntered" }' });
    expect(types(window.events)).toEqual(['ExecutionSucceeded']);
    // No pattern: every event, the non-JSON one included.
    expect((await all({ logGroupName: GROUP })).events).toHaveLength(6);
  });

  it('answers AWS errors for an unknown group, an unsupported pattern, a limit out of range and an unknown operation', async () => {
    await expect(client.send(new FilterLogEventsCommand({ logGroupName: '/aws/vendedlogs/states/nope' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    await expect(client.send(new FilterLogEventsCommand({ logGroupName: GROUP, filterPattern: 'ERROR' }))).rejects.toMatchObject({ name: 'InvalidParameterException' });
    await expect(client.send(new FilterLogEventsCommand({ logGroupName: GROUP, filterPattern: '{ $.latency > 5 }' }))).rejects.toMatchObject({ name: 'InvalidParameterException' });
    await expect(client.send(new FilterLogEventsCommand({ logGroupName: GROUP, limit: 10_001 }))).rejects.toMatchObject({
      name: 'InvalidParameterException',
      message: "1 validation error detected: Value '10001' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 10000",
    });
    await expect(client.send(new PutLogEventsCommand({ logGroupName: GROUP, logStreamName: 'x', logEvents: [] }))).rejects.toMatchObject({ name: 'UnknownOperationException' });
  });

  it('refuses unsigned or unknown-key callers at the edge', async () => {
    const stranger = new CloudWatchLogsClient({ endpoint, region: iam.location.region, credentials: { accessKeyId: 'LOCALUNKNOWNKEY', secretAccessKey: 'x' }, maxAttempts: 1 });
    await expect(stranger.send(new FilterLogEventsCommand({ logGroupName: GROUP }))).rejects.toMatchObject({ name: 'UnrecognizedClientException' });
    stranger.destroy();
  });

  it('parses the pattern subset, and nothing looser', () => {
    expect(parseFilterPattern('')).toBeUndefined();
    expect(parseFilterPattern('{ $.a.b = "x:y" || ($.c != "z") }')).toEqual([[{ path: ['a', 'b'], op: '=', value: 'x:y' }], [{ path: ['c'], op: '!=', value: 'z' }]]);
    expect(() => parseFilterPattern('{ $.a = x }')).toThrow(/Invalid filter pattern/);
    expect(() => parseFilterPattern('{ $.a = "x" ; }')).toThrow(/Invalid filter pattern/);
  });
});


describe('authorisation', () => {
  it('refuses FilterLogEvents to a principal whose policies do not grant it (a task role), with AccessDeniedException', async () => {
    const task = new CloudWatchLogsClient({ endpoint, region: iam.location.region, credentials: iam.credentials('invoke-agent'), maxAttempts: 1 });
    try {
      const err = (await task.send(new FilterLogEventsCommand({ logGroupName: GROUP })).catch((e: unknown) => e)) as Error;
      expect(err.name).toBe('AccessDeniedException');
      expect(err.message).toContain('logs:FilterLogEvents');
    } finally {
      task.destroy();
    }
  });

  it("refuses the operator a log group other than the state machine's", async () => {
    logs.createLogGroup('/aws/lambda/someone-else');
    const err = (await client.send(new FilterLogEventsCommand({ logGroupName: '/aws/lambda/someone-else' })).catch((e: unknown) => e)) as Error;
    expect(err.name).toBe('AccessDeniedException');
  });

  it("control: the operator reads the state machine's group", async () => {
    const page = await client.send(new FilterLogEventsCommand({ logGroupName: GROUP, limit: 1 }));
    expect(page.events?.length).toBe(1);
  });
});

describe('delivery order and retention', () => {
  it('returns events in time order when executions end out of start order', async () => {
    const group = '/aws/vendedlogs/states/out-of-order';
    logs.createLogGroup(group);
    // The later-started execution ends first and is delivered first, as under concurrency.
    logs.deliver(group, 'states/late', [record('ExecutionStarted', 'arn:late', 5000), record('ExecutionSucceeded', 'arn:late', 5002)]);
    logs.deliver(group, 'states/early', [record('ExecutionStarted', 'arn:early', 4000), record('ExecutionSucceeded', 'arn:early', 6000)]);
    const { events } = await all({ logGroupName: group });
    expect(events.map((e) => e.timestamp)).toEqual([4000, 5000, 5002, 6000]);
  });

  it('keeps the newest events of a group once it outgrows its limit', async () => {
    const small = new LogsService(iam.location, new PolicyEvaluator(), { maxEventsPerGroup: 10 });
    const smallEdge = new Edge({ iam, services: { logs: small }, clock: () => new Date(), logger: silentLogger });
    const url = await smallEdge.listen(0);
    const reader = new CloudWatchLogsClient({ endpoint: url, region: iam.location.region, credentials: iam.credentials('operator'), maxAttempts: 1 });
    try {
      small.createLogGroup(GROUP);
      for (let i = 0; i < 30; i++) small.deliver(GROUP, `states/${i}`, [record('ExecutionStarted', `arn:${i}`, 1000 + i)]);
      const page = await reader.send(new FilterLogEventsCommand({ logGroupName: GROUP }));
      const kept = (page.events ?? []).map((e) => e.timestamp!);
      expect(kept.length).toBeGreaterThanOrEqual(10);
      expect(kept.length).toBeLessThanOrEqual(11);
      expect(kept.at(-1)).toBe(1029);
      expect(kept[0]).toBe(1030 - kept.length);
    } finally {
      reader.destroy();
      await smallEdge.close();
    }
  });
});
