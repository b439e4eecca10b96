/**
 * A restart gives back the admission slots of the runs a stopped process cut off (issue 19; the
 * twin's own crash recovery, infra/local/cut-off-runs.ts). The crash is made in the data directory
 * as a kill -9 leaves it: a run's record RUNNING in InvokeAgent, its slot in its asker's INFLIGHT
 * set. Each asker's set is full (the plan's concurrency limit), so an asker whose slot is not given
 * back is refused Throttled: the control (a user whose run completed normally) shows it.
 */
import { recordFile } from '../infra/local/services/stepfunctions/recovery-fixture.ts';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { DynamoDBClient, GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, describe, expect, it } from 'vitest';
import { AssistantApi, refusalOf } from '../client/api.ts';
import { signIn } from '../client/auth.ts';
import { startLocalStack, type LocalStack } from '../infra/local/stack.ts';
import type { StoredExecution } from '../infra/local/services/stepfunctions/execution.ts';
import { PLANS, SLOT_TTL_SECONDS } from '../tasks/plans.ts';
import { SEED_TENANTS } from '../tasks/seed.ts';
import { INFLIGHT_SORT_KEY, slotElement, userPartition } from '../tasks/usage.ts';

const NEW_PASSWORD = 'Correct-Horse-Battery-9!';
const QUESTION = "What's your return policy?";
const CUT_OFF = 'tenant1-user';
const CONTROL = 'tenant1-user2';
const LIMIT = PLANS[SEED_TENANTS.find((t) => t.tenantId === 'tenant1')!.plan].concurrentAnswersPerUser;

const dirs: string[] = [];
const stacks: LocalStack[] = [];
afterAll(async () => {
  for (const s of stacks) await s.stop();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function signedIn(stack: LocalStack, username: string, password?: string): Promise<AssistantApi> {
  const pool = { region: stack.iam.location.region, clientId: stack.cognito.clientId, endpoint: stack.edgeUrl };
  const tokens = password ? await signIn(pool, username, password) : await signIn(pool, username, stack.cognito.temporaryPasswords()[username]!, () => NEW_PASSWORD);
  return new AssistantApi({ graphqlUrl: stack.graphqlUrl, realtimeUrl: stack.realtimeUrl, idToken: tokens.idToken, answerTimeoutMs: 20_000 });
}

async function inflight(stack: LocalStack, username: string): Promise<string[]> {
  const dynamo = new DynamoDBClient(stack.clientConfig('operator'));
  const user = stack.user(username);
  const item = (await dynamo.send(new GetItemCommand({ TableName: stack.tables.usage, Key: { pk: { S: userPartition(user.tenantId, user.sub) }, sk: { S: INFLIGHT_SORT_KEY } }, ConsistentRead: true }))).Item;
  dynamo.destroy();
  return [...(item?.slots?.SS ?? [])].sort();
}

async function ask(api: AssistantApi) {
  try {
    return { final: (await api.ask(QUESTION)).final, refusal: null };
  } catch (err) {
    return { final: null, refusal: refusalOf(err) };
  }
}

describe('a restart after a crash', () => {
  it("releases the slot of a run it ends ABORTED: its asker is admitted at once; an asker whose run completed keeps its slots (refused)", { timeout: 120_000 }, async () => {
    expect(LIMIT).toBeGreaterThan(0);
    const dataDir = await mkdtemp(path.join(tmpdir(), 'assistant-cutoff-'));
    dirs.push(dataDir);
    const first = await startLocalStack({ port: 0, dataDir, seedOrdersPerUser: 0, retryIntervalOverrides: 0 });
    stacks.push(first);
    // Each user asks once, normally (the control's run completes; the other's is cut off below).
    const cutOff = await (await signedIn(first, CUT_OFF)).ask(QUESTION);
    const control = await (await signedIn(first, CONTROL)).ask(QUESTION);
    expect([cutOff.final.status, control.final.status]).toEqual(['DONE', 'DONE']);
    // DONE reaches the asker before PublishAnswer returns: wait for both runs to be recorded
    // SUCCEEDED, or the stop below (graceful: it aborts what still runs) may catch one of them.
    for (const run of [cutOff, control]) expect(await first.states.waitForExecution(run.executionId)).toMatchObject({ status: 'SUCCEEDED' });
    const expiry = Math.floor(Date.now() / 1000) + SLOT_TTL_SECONDS;
    const cutOffSlot = slotElement(expiry, cutOff.answerId);
    // Both INFLIGHT sets full: the cut-off run's slot and others for one user, others only for the control.
    const others = (username: string, n: number) => Array.from({ length: n }, (_, i) => slotElement(expiry, `${first.user(username).sub}.held-${i}`));
    const planted = { [CUT_OFF]: [cutOffSlot, ...others(CUT_OFF, LIMIT - 1)].sort(), [CONTROL]: others(CONTROL, LIMIT).sort() };
    const dynamo = new DynamoDBClient(first.clientConfig('operator'));
    for (const [username, slots] of Object.entries(planted)) {
      const user = first.user(username);
      await dynamo.send(
        new UpdateItemCommand({
          TableName: first.tables.usage,
          Key: { pk: { S: userPartition(user.tenantId, user.sub) }, sk: { S: INFLIGHT_SORT_KEY } },
          UpdateExpression: 'SET #s = :s, #e = :e',
          ExpressionAttributeNames: { '#s': 'slots', '#e': 'expiresAt' },
          ExpressionAttributeValues: { ':s': { SS: slots }, ':e': { N: String(expiry) } },
        }),
      );
    }
    dynamo.destroy();
    await first.stop();
    stacks.splice(0);

    // The record as a kill -9 in InvokeAgent leaves it: RUNNING, the task started, the input holding its slot.
    const file = recordFile(dataDir, cutOff.executionId);
    const record = JSON.parse(await readFile(file, 'utf8')) as StoredExecution;
    const entered = record.events.findIndex((e) => e.type === 'TaskStateEntered' && (e.details as { name?: string }).name === 'InvokeAgent');
    const scheduled = record.events.findIndex((e, i) => i > entered && e.type === 'LambdaFunctionScheduled');
    expect(entered).toBeGreaterThan(0);
    expect(scheduled).toBeGreaterThan(entered);
    const input = { ...(JSON.parse(record.input) as object), slot: cutOffSlot };
    const { stopDate: _stopDate, output: _output, ...running } = record as StoredExecution & { stopDate?: number; output?: string };
    await writeFile(file, JSON.stringify({ ...running, status: 'RUNNING', input: JSON.stringify(input), events: record.events.slice(0, scheduled + 1), rev: (record.rev ?? 0) + 1 }));

    const second = await startLocalStack({ port: 0, dataDir, retryIntervalOverrides: 0 });
    stacks.push(second);
    const sfn = new SFNClient(second.clientConfig('operator'));
    try {
      expect(await sfn.send(new DescribeExecutionCommand({ executionArn: cutOff.executionId }))).toMatchObject({ status: 'ABORTED', error: 'States.Runtime' });
      expect(await sfn.send(new DescribeExecutionCommand({ executionArn: control.executionId }))).toMatchObject({ status: 'SUCCEEDED' });
      // Only the cut-off run's slot went; the control's set is as planted.
      expect(await inflight(second, CUT_OFF)).toEqual(planted[CUT_OFF]!.filter((s) => s !== cutOffSlot));
      expect(await inflight(second, CONTROL)).toEqual(planted[CONTROL]);
      // The cut-off asker is admitted at once; the control (set full) is refused Throttled.
      expect(await ask(await signedIn(second, CUT_OFF, NEW_PASSWORD))).toMatchObject({ final: { status: 'DONE' }, refusal: null });
      expect(await ask(await signedIn(second, CONTROL, NEW_PASSWORD))).toMatchObject({ final: null, refusal: { errorType: 'Throttled' } });
    } finally {
      sfn.destroy();
    }
  });
});
