/**
 * An answer is done once. Asynchronous Express executions are at-least-once on AWS, so the local
 * Step Functions can start every execution twice (`duplicateExecutions`); ValidateContext claims
 * the answerId with a conditional write, and the execution that loses ends in AlreadyAnswered.
 * End to end, through the real client (AppSync, the realtime WebSocket), with both agent runtimes:
 * N questions are N agent invocations, N terminal events and no repeated text on the client, and
 * 2N executions of which N end AlreadyAnswered. Also: the claim itself against the local DynamoDB
 * (condition, retry, expiry) and the validate-context role's least privilege on the claims table.
 */
import { randomUUID } from 'node:crypto';
import { DeleteItemCommand, DynamoDBClient, GetItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { DescribeExecutionCommand, ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { makeRoom } from './admission-room.ts';
import { PLANS } from '../tasks/plans.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ASK, AssistantApi, ON_ANSWER, type AnswerEvent } from '../client/api.ts';
import { signIn } from '../client/auth.ts';
import type { RealtimeConnection } from '../client/realtime.ts';
import type { AnswerEventRecord } from '../infra/local/services/appsync/graphql.ts';
import { startLocalStack, type LocalStack } from '../infra/local/stack.ts';
import { AGENT_RUNTIMES } from '../tasks/config.ts';
import { ErrorName } from '../tasks/errors.ts';
import { CLAIM_TTL_SECONDS } from '../tasks/tables.ts';
import { claimAnswer } from '../tasks/validate-context.ts';
import { failure } from './aws-failure.ts';
import { historyOf, isTerminal, recordEvents, statesEntered } from './workflow-helpers.ts';

const N = 5;
const NEW_PASSWORD = 'Correct-Horse-Battery-9!';
const QUESTIONS = ["What's your return policy?", 'Which orders did I place?'];
const ANSWERED = ['ValidateContext', 'MintCredentials', 'InvokeAgent', 'PublishAnswer'];
const DUPLICATE = ['ValidateContext', 'AlreadyAnswered'];

/** The frames the client's subscriptions receive, per answerId, raw (no reordering, no de-duplication). */
class Frames {
  private readonly byAnswer = new Map<string, AnswerEvent[]>();
  private waiters: { check: () => boolean; resolve: () => void }[] = [];

  add(event: AnswerEvent): void {
    const list = this.byAnswer.get(event.answerId) ?? [];
    list.push(event);
    this.byAnswer.set(event.answerId, list);
    this.waiters = this.waiters.filter((w) => (w.check() ? (w.resolve(), false) : true));
  }

  of(answerId: string): AnswerEvent[] {
    return this.byAnswer.get(answerId) ?? [];
  }

  /** Resolves once `check` holds, checked now and at every frame (never on a timer). */
  until(check: () => boolean): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ check, resolve }));
  }
}

describe.each(AGENT_RUNTIMES)('an answer is done once, with the %s agent runtime', (agentRuntime) => {
  let stack: LocalStack;
  let published: AnswerEventRecord[];
  let api: AssistantApi;
  let connection: RealtimeConnection;
  let sfn: SFNClient;
  let sub: string;
  const frames = new Frames();

  beforeAll(async () => {
    stack = await startLocalStack({ port: 0, seedOrdersPerUser: 1, retryIntervalOverrides: 0, agentRuntime, duplicateExecutions: true });
    published = recordEvents(stack);
    const pool = { region: stack.iam.location.region, clientId: stack.cognito.clientId, endpoint: stack.edgeUrl };
    const tokens = await signIn(pool, 'tenant1-user', stack.cognito.temporaryPasswords()['tenant1-user']!, () => NEW_PASSWORD);
    api = new AssistantApi({ graphqlUrl: stack.graphqlUrl, realtimeUrl: stack.realtimeUrl, idToken: tokens.idToken });
    connection = await api.connect();
    sfn = new SFNClient(stack.clientConfig('operator'));
    sub = stack.user('tenant1-user').sub;
  });
  afterAll(async () => {
    connection?.close();
    sfn?.destroy();
    await stack?.stop();
  });

  /** Subscribes (start_ack first), then sends the ask mutation with this answerId, as the client does. */
  async function ask(answerId: string, question: string): Promise<{ executionId: string }> {
    if (frames.of(answerId).length === 0) {
      await connection.subscribe(ON_ANSWER, { answerId }, (data) => frames.add((data as { onAnswer: AnswerEvent }).onAnswer), () => undefined);
    }
    const out = await api.graphql<{ ask: { answerId: string; executionId: string } }>(ASK, { answerId, question, conversationId: null });
    return { executionId: out.ask.executionId };
  }

  /** Waits until every execution has ended and the client has received every event published for these answers. */
  /**
   * Asks at once as many as the user's plan admits (standard: 2 in progress), and waits for them to
   * end before the next wave; the operator frees the user's windows first (admission is not what
   * this suite tests: test/admission.test.ts does).
   */
  async function askInWaves(answerIds: readonly string[]): Promise<void> {
    const wave = PLANS.standard.concurrentAnswersPerUser;
    for (let i = 0; i < answerIds.length; i += wave) {
      const ids = answerIds.slice(i, i + wave);
      await makeRoom(stack, 'tenant1-user');
      await Promise.all(ids.map((id, j) => ask(id, QUESTIONS[(i + j) % QUESTIONS.length]!)));
      await settled(ids);
    }
  }

  async function settled(answerIds: readonly string[]): Promise<void> {
    await stack.states.drain();
    const publishedFor = (id: string) => published.filter((e) => e.answerId === id).length;
    await frames.until(() => answerIds.every((id) => frames.of(id).length === publishedFor(id)));
  }

  /** The executions whose input asks for one of `answerIds`, with the states each entered. */
  async function executionsOf(answerIds: readonly string[]): Promise<{ name: string; status: string; states: string[]; answerId: string }[]> {
    const page = await sfn.send(new ListExecutionsCommand({ stateMachineArn: stack.iam.resources.stateMachineArn, maxResults: 100 }));
    const out = [];
    for (const row of page.executions ?? []) {
      const d = await sfn.send(new DescribeExecutionCommand({ executionArn: row.executionArn! }));
      const answerId = (JSON.parse(d.input!) as { request: { answerId: string } }).request.answerId;
      if (!answerIds.includes(answerId)) continue;
      out.push({ name: row.name!, status: row.status!, states: statesEntered(await historyOf(stack, row.executionArn!)), answerId });
    }
    return out;
  }

  /** Agent invocations (not continuations with tool results) since `from`, at the Bedrock stand-in. */
  const agentInvocations = (from: number) => stack.bedrock.calls().slice(from).filter((c) => !c.resumed).length;

  /** One terminal event, every seq once, the chunks adding up to the answer once, in every answer. */
  function expectAnsweredOnce(answerId: string): AnswerEvent {
    const got = frames.of(answerId);
    const terminal = got.filter(isTerminal);
    expect(terminal, answerId).toHaveLength(1);
    const seqs = got.map((e) => e.seq);
    expect(new Set(seqs).size, `seqs ${seqs.join(',')}`).toBe(seqs.length);
    expect(got.filter((e) => e.status === 'ACCEPTED')).toHaveLength(1);
    if (terminal[0]!.status === 'DONE') {
      const chunks = got.filter((e) => e.status === 'CHUNK').sort((a, b) => a.seq - b.seq);
      expect(chunks.map((e) => e.text).join('')).toBe(terminal[0]!.text);
    }
    return terminal[0]!;
  }

  it(`with duplicate executions: ${N} questions -> ${N} agent invocations, ${N} terminal events, no repeated text; ${2 * N} executions, ${N} AlreadyAnswered`, async () => {
    stack.states.setDuplicateExecutions(true);
    const callsBefore = stack.bedrock.calls().length;
    const answerIds = Array.from({ length: N }, (_, i) => `${sub}.dup-${i}-${randomUUID()}`);
    await askInWaves(answerIds);

    expect(agentInvocations(callsBefore)).toBe(N);
    for (const id of answerIds) expect(expectAnsweredOnce(id).status).toBe('DONE');
    expect(published.filter((e) => answerIds.includes(e.answerId) && isTerminal(e))).toHaveLength(N);

    const executions = await executionsOf(answerIds);
    expect(executions).toHaveLength(2 * N);
    expect(executions.every((e) => e.status === 'SUCCEEDED')).toBe(true);
    expect(executions.filter((e) => e.name.endsWith('-duplicate'))).toHaveLength(N);
    // For each answer, one execution answered and the other (either of the two: they race) stopped at the claim.
    for (const id of answerIds) {
      expect(executions.filter((e) => e.answerId === id).map((e) => e.states).sort()).toEqual([ANSWERED, DUPLICATE].sort());
    }
  });

  it(`control: without the switch, ${N} questions are ${N} executions, none AlreadyAnswered`, async () => {
    stack.states.setDuplicateExecutions(false);
    try {
      const callsBefore = stack.bedrock.calls().length;
      const answerIds = Array.from({ length: N }, (_, i) => `${sub}.once-${i}-${randomUUID()}`);
      await askInWaves(answerIds);
      expect(agentInvocations(callsBefore)).toBe(N);
      for (const id of answerIds) expect(expectAnsweredOnce(id).status).toBe('DONE');
      const executions = await executionsOf(answerIds);
      expect(executions.map((e) => e.states)).toEqual(Array.from({ length: N }, () => ANSWERED));
    } finally {
      stack.states.setDuplicateExecutions(true);
    }
  });

  it('with duplicate executions, a failed answer is one FAILED event and one recorded run', async () => {
    stack.states.setDuplicateExecutions(true);
    stack.bedrock.injectFault({ kind: 'fail', times: 1 });
    const answerId = `${sub}.fails-${randomUUID()}`;
    try {
      await ask(answerId, QUESTIONS[0]!);
      await settled([answerId]);
    } finally {
      stack.bedrock.clearFaults();
    }
    expect(expectAnsweredOnce(answerId)).toMatchObject({ status: 'FAILED', error: expect.stringContaining(ErrorName.AgentFailed) });
    const executions = await executionsOf([answerId]);
    expect(executions.map((e) => e.states).sort()).toEqual([[...ANSWERED.slice(0, 3), 'RecordFailure', 'PublishFailure', 'Failed'], DUPLICATE].sort());
  });

  it('a second ask reusing an answerId gets no second stream, terminal event or agent call', async () => {
    stack.states.setDuplicateExecutions(false);
    try {
      const answerId = `${sub}.reused-${randomUUID()}`;
      await ask(answerId, QUESTIONS[0]!);
      await settled([answerId]);
      const first = expectAnsweredOnce(answerId);
      expect(first.status).toBe('DONE');
      const framesBefore = frames.of(answerId).length;
      const publishedBefore = published.filter((e) => e.answerId === answerId).length;
      const callsBefore = stack.bedrock.calls().length;

      const again = await ask(answerId, 'Which orders did I place?');
      await stack.states.waitForExecution(again.executionId);
      await settled([answerId]);
      expect(statesEntered(await historyOf(stack, again.executionId))).toEqual(DUPLICATE);
      expect(published.filter((e) => e.answerId === answerId)).toHaveLength(publishedBefore);
      expect(frames.of(answerId)).toHaveLength(framesBefore);
      expect(stack.bedrock.calls().length).toBe(callsBefore);
      // Control: a new answerId for the same question is answered.
      const fresh = `${sub}.fresh-${randomUUID()}`;
      await ask(fresh, 'Which orders did I place?');
      await settled([fresh]);
      expect(expectAnsweredOnce(fresh).status).toBe('DONE');
    } finally {
      stack.states.setDuplicateExecutions(true);
    }
  });
});

describe('the claim on the local DynamoDB, with the validate-context role', () => {
  let stack: LocalStack;
  let claims: DynamoDBClient;

  beforeAll(async () => {
    stack = await startLocalStack({ port: 0, seedOrdersPerUser: 0 });
    claims = new DynamoDBClient(stack.clientConfig('validate-context'));
  });
  afterAll(async () => {
    claims?.destroy();
    await stack?.stop();
  });

  const execution = (name: string) => `${stack.iam.resources.stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
  const claim = (answerId: string, executionArn: string, now = new Date()) =>
    claimAnswer({ answerId, executionArn, tenantId: 'tenant1', userId: 'u' }, { dynamodb: claims, tables: stack.tables, now: () => now });

  it('lets one execution claim an answerId, again on its own retry; another gets Duplicate until the claim expires', async () => {
    const answerId = `u.${randomUUID()}`;
    const [a, b] = [execution('a'), execution('b')];
    const first = await claim(answerId, a);
    expect(first).toMatchObject({ answerId, executionArn: a, tenantId: 'tenant1', userId: 'u' });
    await expect(claim(answerId, b)).rejects.toMatchObject({ name: ErrorName.Duplicate });
    // A retry of ValidateContext in the same execution claims again.
    const retried = await claim(answerId, a);
    expect(retried).toMatchObject({ executionArn: a });
    // Once the claim has expired (DynamoDB's TTL deletes it late, if ever locally), it is free. (The
    // retry renewed the claim, possibly a second later than the first: its expiry is the one that counts.)
    const later = new Date((retried.expiresAt + 1) * 1000);
    await expect(claim(answerId, b, later)).resolves.toMatchObject({ executionArn: b, expiresAt: retried.expiresAt + 1 + CLAIM_TTL_SECONDS });
    // Control: now b owns it, and a is the duplicate.
    await expect(claim(answerId, a, later)).rejects.toMatchObject({ name: ErrorName.Duplicate });
    // Control: another answerId is free.
    await expect(claim(`u.${randomUUID()}`, b)).resolves.toMatchObject({ executionArn: b });
  });

  it('lets the validate-context role PutItem on the claims table and nothing else there, and no PutItem elsewhere', async () => {
    const key = { answerId: { S: `u.${randomUUID()}` } };
    // Control: the claim's own action succeeds.
    await claims.send(new PutItemCommand({ TableName: stack.tables.claims, Item: { ...key, executionArn: { S: execution('c') } } }));
    const invokeAgent = new DynamoDBClient(stack.clientConfig('invoke-agent'));
    const operator = new DynamoDBClient(stack.clientConfig('operator'));
    try {
      const denied: [string, () => Promise<unknown>][] = [
        ['GetItem on the claims table', () => claims.send(new GetItemCommand({ TableName: stack.tables.claims, Key: key }))],
        ['DeleteItem on the claims table', () => claims.send(new DeleteItemCommand({ TableName: stack.tables.claims, Key: key }))],
        [
          'UpdateItem on the claims table',
          () => claims.send(new UpdateItemCommand({ TableName: stack.tables.claims, Key: key, UpdateExpression: 'SET executionArn = :e', ExpressionAttributeValues: { ':e': { S: 'x' } } })),
        ],
        ['PutItem on the runs table', () => claims.send(new PutItemCommand({ TableName: stack.tables.runs, Item: { tenantId: { S: 'tenant1' }, answerId: key.answerId } }))],
        ['PutItem on the config table', () => claims.send(new PutItemCommand({ TableName: stack.tables.config, Item: { tenantId: { S: 'tenant9' } } }))],
        // Another task's role may not claim.
        ['PutItem on the claims table by invoke-agent', () => invokeAgent.send(new PutItemCommand({ TableName: stack.tables.claims, Item: key }))],
      ];
      for (const [what, call] of denied) expect(await failure(call()), what).toMatchObject({ name: 'AccessDeniedException', status: 400 });
      // The denied writes changed nothing: the operator reads the claim as it was put.
      expect((await operator.send(new GetItemCommand({ TableName: stack.tables.claims, Key: key }))).Item?.executionArn).toEqual({ S: execution('c') });
    } finally {
      invokeAgent.destroy();
      operator.destroy();
    }
  });
});
