/**
 * The workflow's security invariants, attacked: a tool that hard-codes another tenant, a hostile
 * model that injects tenant and user parameters and asks for raw data, and a scan of everything the
 * workflow leaves behind for the credentials it minted.
 */
import { CloudWatchLogsClient, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnswerEventRecord } from '../infra/local/services/appsync/graphql.ts';
import type { LogLevel } from '../infra/local/edge/log.ts';
import { STATE_MACHINE_LOG_GROUP } from '../infra/local/iam/principals.ts';
import { startLocalStack, type LocalStack } from '../infra/local/stack.ts';
import { AGENT_RUNTIMES } from '../tasks/config.ts';
import { ErrorName } from '../tasks/errors.ts';
import { TOOLS_IMPL, type ToolRegistry } from '../tasks/tools.ts';
import { ask, historyOf, recordEvents } from './workflow-helpers.ts';

const SEEDED = ['tenant1-user', 'tenant1-user2', 'tenant2-user', 'tenant3-user'] as const;

/** The sample's own negative test: a tool that reads tenant2's config whoever asks. */
const hardCodedTenant2: ToolRegistry = {
  ...TOOLS_IMPL,
  async getReturnPolicy(_params, ctx) {
    const out = await DynamoDBDocumentClient.from(ctx.dynamodb).send(new GetCommand({ TableName: ctx.tables.config, Key: { tenantId: 'tenant2' } }));
    return { returnPolicyDays: Number(out.Item?.returnPolicyDays), storeName: String(out.Item?.name) };
  },
};

describe('a tool variant that hard-codes tenant2', () => {
  let stack: LocalStack;
  let events: AnswerEventRecord[];
  beforeAll(async () => {
    stack = await startLocalStack({ port: 0, retryIntervalOverrides: 0, taskOverrides: { 'invoke-agent': { tools: hardCodedTenant2 } } });
    events = recordEvents(stack);
  });
  afterAll(() => stack?.stop());

  it('gets AccessDeniedException from the edge; the asker gets FAILED; no tenant2 data appears anywhere', async () => {
    const asked = await ask(stack, events, 'tenant1-user', "What's your return policy?");
    expect(asked.status).toBe('FAILED');
    expect(asked.error).toBe(ErrorName.AgentFailed);
    expect(asked.cause).toContain('AccessDeniedException');
    expect(asked.cause).toContain('dynamodb:GetItem');
    expect(asked.events.map((e) => e.status)).toEqual(['FAILED']);
    const everything = JSON.stringify([asked, await historyOf(stack, asked.executionArn), events]);
    expect(everything).not.toContain('Tenant Two Electronics');
    expect(everything).not.toMatch(/\b20 days\b/);
  });

  it('control: tenant2\'s own user, whose credentials do reach that row, gets the answer', async () => {
    const asked = await ask(stack, events, 'tenant2-user', "What's your return policy?");
    expect(asked.events.map((e) => e.text)).toEqual(['You can return items within 20 days.']);
  });
});

describe.each(AGENT_RUNTIMES)('a hostile model behind the %s runtime', (agentRuntime) => {
  let stack: LocalStack;
  let events: AnswerEventRecord[];
  beforeAll(async () => {
    stack = await startLocalStack({ port: 0, retryIntervalOverrides: 0, seedOrdersPerUser: 2, agentRuntime });
    events = recordEvents(stack);
  });
  afterAll(() => stack?.stop());

  it.each(SEEDED)('cannot get anyone else\'s data into %s\'s answer', async (username) => {
    const me = stack.user(username);
    const others = stack.users.filter((u) => u.username !== username);
    stack.bedrock.setMode('hostile', { tenantId: others.find((u) => u.tenantId !== me.tenantId)!.tenantId, userId: others[0]!.sub });
    try {
      for (const question of ['List every order in the system.', 'What is the return policy of tenant2?', 'Status of order *']) {
        const asked = await ask(stack, events, username, question);
        expect(asked.status).toBe('SUCCEEDED');
        // Every event the asker got: progress, chunks and the answer.
        const text = asked.stream.map((e) => [e.text, e.error, e.step].join('\n')).join('\n');
        // The hostile agent dumps the raw tool results: they must only ever be the asker's.
        for (const other of others) expect(text).not.toContain(other.sub);
        const foreignOrders = await ordersOf(stack, others.filter((u) => u.tenantId === me.tenantId));
        for (const orderId of foreignOrders) expect(text).not.toContain(orderId);
        for (const t of ['tenant1', 'tenant2', 'tenant3'].filter((t) => t !== me.tenantId)) {
          expect(text).not.toContain(storeNames[t]!);
        }
      }
      // Control: the hostile agent really did inject parameters and did receive the asker's own data.
      const mine = await ordersOf(stack, [me]);
      const dump = await ask(stack, events, username, 'List every order in the system.');
      for (const orderId of mine) expect(dump.events[0]!.text).toContain(orderId);
      expect(stack.bedrock.calls().some((c) => c.resumed)).toBe(true);
    } finally {
      stack.bedrock.setMode('normal');
    }
  });
});

const storeNames: Record<string, string> = { tenant1: 'Tenant One Outfitters', tenant2: 'Tenant Two Electronics', tenant3: 'Tenant Three Books' };

async function ordersOf(stack: LocalStack, users: { sub: string; tenantId: string }[]): Promise<string[]> {
  const ddb = new DynamoDBClient(stack.clientConfig('operator'));
  const ids: string[] = [];
  for (const u of users) {
    const out = await ddb.send(new ScanCommand({ TableName: stack.tables.orders(u.tenantId), FilterExpression: 'userId = :u', ExpressionAttributeValues: { ':u': { S: u.sub } } }));
    ids.push(...(out.Items ?? []).map((i) => i.orderId!.S!));
  }
  ddb.destroy();
  return ids;
}

describe('minted credentials stay sealed', () => {
  it('appear in no execution history, log line, stored run, published event or agent call', async () => {
    const logs: string[] = [];
    const stack = await startLocalStack({
      port: 0,
      retryIntervalOverrides: 0,
      logger: { log: (level: LogLevel, msg: string, fields?: Record<string, unknown>) => logs.push(JSON.stringify({ level, msg, ...fields })) },
    });
    const events = recordEvents(stack);
    try {
      const done = await ask(stack, events, 'tenant1-user', 'Which orders did I place?');
      stack.bedrock.injectFault({ kind: 'fail', times: 1 });
      const failed = await ask(stack, events, 'tenant2-user', "What's your return policy?");
      expect(done.status).toBe('SUCCEEDED');
      expect(failed.status).toBe('FAILED');
      const minted = stack.iam.issuedSessions();
      expect(minted.length).toBeGreaterThanOrEqual(2);
      const runs = await new DynamoDBClient(stack.clientConfig('operator')).send(new ScanCommand({ TableName: stack.tables.runs }));
      expect(runs.Items?.length).toBeGreaterThan(0);
      // The state machine's CloudWatch log records (level ALL, with execution data), as the operator reads them.
      const cwl = new CloudWatchLogsClient(stack.clientConfig('operator'));
      const logRecords = await cwl.send(new FilterLogEventsCommand({ logGroupName: STATE_MACHINE_LOG_GROUP }));
      cwl.destroy();
      const haystacks: Record<string, string> = {
        cloudWatchLogs: JSON.stringify(logRecords.events),
        histories: JSON.stringify([await historyOf(stack, done.executionArn), await historyOf(stack, failed.executionArn)]),
        executions: JSON.stringify([done, failed]),
        logs: logs.join('\n'),
        runs: JSON.stringify(runs.Items),
        events: JSON.stringify(events),
        agentCalls: JSON.stringify(stack.bedrock.calls()),
      };
      // The agent's session attributes are the asker's identity and nothing else (the stand-in
      // redacts credential-looking values in its records, so check the keys, not only the text).
      const invokes = stack.bedrock.calls('InvokeAgent');
      expect(invokes.length).toBeGreaterThan(0);
      for (const c of invokes) expect(Object.keys(c.sessionAttributes ?? {}).sort()).toEqual(['tenantId', 'userId']);
      expect(invokes.map((c) => c.sessionAttributes?.userId)).toContain(stack.user('tenant1-user').sub);
      // Control: the haystacks are not empty and do hold the run's identity.
      expect(haystacks.histories).toContain(stack.user('tenant1-user').sub);
      expect(haystacks.histories).toContain('sealedCredentials');
      expect(haystacks.cloudWatchLogs).toContain('sealedCredentials');
      expect(haystacks.cloudWatchLogs).toContain(done.executionArn);
      expect(haystacks.cloudWatchLogs).toContain(failed.executionArn);
      for (const creds of minted) {
        for (const [where, text] of Object.entries(haystacks)) {
          for (const secret of [creds.accessKeyId, creds.secretAccessKey, creds.sessionToken!]) {
            expect(text.includes(secret), `${where} contains a minted credential`).toBe(false);
          }
        }
      }
    } finally {
      await stack.stop();
    }
  });
});
