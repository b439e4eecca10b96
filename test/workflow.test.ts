/**
 * The workflow end to end on the local stack: StartExecution -> ValidateContext -> MintCredentials
 * -> InvokeAgent (local agent, return of control, tools with scoped credentials) -> PublishAnswer,
 * and the failure path RecordFailure -> PublishFailure, with retries and replays.
 */
import { AdminCreateUserCommand, CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatExecution, showExecution } from '../client/executions.ts';
import { replayExecution } from '../client/replay.ts';
import type { AnswerEventRecord } from '../infra/local/services/appsync/graphql.ts';
import { localEnvOf } from '../infra/local/local-env.ts';
import { ordersCommand } from '../infra/local/cli/orders.ts';
import { localTaskConfig } from '../infra/local/services/lambda/functions.ts';
import { startLocalStack, type LocalStack } from '../infra/local/stack.ts';
import { AGENT_RUNTIMES } from '../tasks/config.ts';
import { ErrorName } from '../tasks/errors.ts';
import { ask, historyOf, isTerminal, recordEvents, run, statesEntered, workflowInput } from './workflow-helpers.ts';

// Both agent runtime adapters must pass the same suite.
describe.each(AGENT_RUNTIMES)('with the %s agent runtime', (agentRuntime) => {
  let stack: LocalStack;
  let events: AnswerEventRecord[];

  beforeAll(async () => {
    // The default seed: users start with no orders (the "no orders" answer below depends on it).
    stack = await startLocalStack({ port: 0, retryIntervalOverrides: 0, agentRuntime });
    events = recordEvents(stack);
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const replay = (executionArn: string) => {
    const config = stack.clientConfig('operator');
    const sfn = new SFNClient(config);
    const dynamodb = new DynamoDBClient(config);
    return replayExecution({ sfn, dynamodb }, { stateMachineArn: stack.iam.resources.stateMachineArn, runsTable: stack.tables.runs, executionArn }).finally(() => {
      sfn.destroy();
      dynamodb.destroy();
    });
  };

  describe('a question from each seeded user', () => {
    it.each([
      ['tenant1-user', 10],
      ['tenant1-user2', 10],
      ['tenant2-user', 20],
      ['tenant3-user', 30],
    ])('%s gets their store\'s return policy (%i days) as exactly one DONE event', async (username, days) => {
      const asked = await ask(stack, events, username, "What's your return policy?");
      expect(asked.status).toBe('SUCCEEDED');
      expect(asked.events).toEqual([expect.objectContaining({ status: 'DONE', userId: stack.user(username).sub, text: `You can return items within ${days} days.` })]);
    });

    it('answers "no orders" first, then lists exactly the orders added with npm run orders', async () => {
      const before = await ask(stack, events, 'tenant3-user', 'Which orders did I place?');
      expect(before.events.map((e) => e.text)).toEqual(['You have not placed any orders yet.']);
      const added = await ordersCommand(localEnvOf(stack, false), 'tenant3-user', 'add', 2);
      const after = await ask(stack, events, 'tenant3-user', 'Which orders did I place?');
      expect(after.events).toHaveLength(1);
      for (const order of added.orders) expect(after.events[0]!.text).toContain(order.orderId);
      // The other users' answers do not change: orders are per user.
      const other = await ask(stack, events, 'tenant1-user', 'Which orders did I place?');
      expect(other.events[0]!.text).toBe('You have not placed any orders yet.');
    });
  });

  describe('validation ends in one FAILED event with a clear reason', () => {
    it('rejects an answerId that does not belong to the asker', async () => {
      const input = workflowInput(stack, 'tenant1-user', 'What is your return policy?');
      const victim = stack.user('tenant1-user2');
      input.request.answerId = `${victim.sub}.stolen`;
      const asked = await run(stack, events, input);
      expect(asked.status).toBe('FAILED');
      expect(asked.error).toBe(ErrorName.InvalidRequest);
      expect(asked.events).toEqual([expect.objectContaining({ status: 'FAILED', error: expect.stringContaining('answerId') })]);
    });

    it.each([
      ['an empty question', '   '],
      ['a question with control characters', 'What\u0007 is your return policy?'],
      ['a question over 2000 characters', 'x'.repeat(2001)],
    ])('rejects %s', async (_label, question) => {
      const asked = await ask(stack, events, 'tenant2-user', question);
      expect(asked.error).toBe(ErrorName.InvalidRequest);
      expect(asked.events).toHaveLength(1);
      expect(asked.events[0]!.status).toBe('FAILED');
    });

    it('rejects a tenant the asker does not belong to', async () => {
      const input = workflowInput(stack, 'tenant1-user', 'What is your return policy?');
      input.identity.tenantId = 'tenant2';
      const asked = await run(stack, events, input);
      expect(asked.error).toBe(ErrorName.InvalidRequest);
      // As on AWS, the Cause is the function's error document; the asker reads its message only.
      expect(JSON.parse(asked.cause!)).toMatchObject({ errorType: ErrorName.InvalidRequest, errorMessage: 'The asker does not belong to this store.' });
      expect(asked.events.map((e) => [e.status, e.error])).toEqual([['FAILED', 'The asker does not belong to this store.']]);
    });

    it('refuses a suspended store\'s asker with "This store\'s assistant is suspended", minting and invoking nothing; answers after resume', async () => {
      const doc = DynamoDBDocumentClient.from(new DynamoDBClient(stack.clientConfig('operator')));
      const setStatus = (status: string) =>
        doc.send(new UpdateCommand({ TableName: stack.tables.config, Key: { tenantId: 'tenant3' }, UpdateExpression: 'SET #s = :s', ExpressionAttributeNames: { '#s': 'status' }, ExpressionAttributeValues: { ':s': status } }));
      // Counted at the stand-ins: the tenant access sessions STS granted for tenant3, and the model calls.
      const tenant3Sessions = () => stack.sts.assumedRoles(stack.iam.resources.tenantAccessRoleArn).filter((r) => r.tags.TenantId === 'tenant3').length;
      const modelCalls = () => stack.bedrock.calls().length;
      const before = { sessions: tenant3Sessions(), model: modelCalls() };
      await setStatus('SUSPENDED');
      try {
        const asked = await ask(stack, events, 'tenant3-user', 'What is your return policy?');
        expect(asked.status).toBe('FAILED');
        expect(asked.error).toBe(ErrorName.TenantUnavailable);
        expect(asked.events.map((e) => [e.status, e.error])).toEqual([['FAILED', "This store's assistant is suspended"]]);
        expect(statesEntered(await historyOf(stack, asked.executionArn))).not.toContain('MintCredentials');
        expect({ sessions: tenant3Sessions(), model: modelCalls() }).toEqual(before);
      } finally {
        await setStatus('ACTIVE');
      }
      // Control: resumed, the same asker is answered, which mints (a tenant3 session: a new one, or the
      // warm function's session of this asker, still valid) and calls the model.
      const resumed = await ask(stack, events, 'tenant3-user', 'What is your return policy?');
      expect(resumed.events).toEqual([expect.objectContaining({ status: 'DONE', text: 'You can return items within 30 days.' })]);
      expect(statesEntered(await historyOf(stack, resumed.executionArn))).toContain('MintCredentials');
      expect(modelCalls()).toBeGreaterThan(before.model);
    });

    it.each(['CREATING', 'FAILED'])('refuses a %s store as one that does not exist', async (status) => {
      const doc = DynamoDBDocumentClient.from(new DynamoDBClient(stack.clientConfig('operator')));
      const setStatus = (value: string) =>
        doc.send(new UpdateCommand({ TableName: stack.tables.config, Key: { tenantId: 'tenant2' }, UpdateExpression: 'SET #s = :s', ExpressionAttributeNames: { '#s': 'status' }, ExpressionAttributeValues: { ':s': value } }));
      await setStatus(status);
      try {
        const asked = await ask(stack, events, 'tenant2-user', 'What is your return policy?');
        expect(asked.events.map((e) => [e.status, e.error])).toEqual([['FAILED', 'The store tenant2 does not exist.']]);
      } finally {
        await setStatus('ACTIVE');
      }
      expect((await ask(stack, events, 'tenant2-user', 'What is your return policy?')).status).toBe('SUCCEEDED');
    });

    it('derives different agent sessions for different users of the same conversation id', async () => {
      const sessionOf = async (username: string) => {
        const asked = await run(stack, events, workflowInput(stack, username, 'What is your return policy?', { conversationId: 'shared-conversation' }));
        const exited = (await historyOf(stack, asked.executionArn)).find((e) => e.stateExitedEventDetails?.name === 'ValidateContext');
        return (JSON.parse(exited!.stateExitedEventDetails!.output!) as { context: { sessionId: string } }).context.sessionId;
      };
      const [a, b, a2] = [await sessionOf('tenant1-user'), await sessionOf('tenant1-user2'), await sessionOf('tenant1-user')];
      expect(a).toMatch(/^s-[0-9a-f]{48}$/);
      expect(a2).toBe(a); // the same user continues the same conversation
      expect(b).not.toBe(a);
      if (agentRuntime === 'bedrock-agent') expect(stack.bedrock.lastCall()?.sessionId).toBe(a);
    });
  });

  describe('faults', () => {
    it('retries agent throttling and then answers', async () => {
      stack.bedrock.injectFault({ kind: 'throttle', times: 2 });
      const asked = await ask(stack, events, 'tenant2-user', "What's your return policy?");
      stack.bedrock.clearFaults();
      expect(asked.status).toBe('SUCCEEDED');
      // What an operator sees: the retries of InvokeAgent, in order, with their errors.
      const sfn = new SFNClient(stack.clientConfig('operator'));
      const detail = await showExecution(sfn, asked.executionArn);
      sfn.destroy();
      expect(detail.states.map((st) => st.name)).toEqual(['ValidateContext', 'MintCredentials', 'InvokeAgent', 'PublishAnswer']);
      expect(detail.states[2]).toMatchObject({ attempts: 3, failures: [{ error: ErrorName.Throttled }, { error: ErrorName.Throttled }] });
      expect(formatExecution(detail)).toContain('InvokeAgent');
      expect(formatExecution(detail)).toContain('attempts: 3');
      expect(asked.events.map((e) => e.status)).toEqual(['DONE']);
      const history = await historyOf(stack, asked.executionArn);
      const invokeFailures = history.filter((e) => (e.taskFailedEventDetails ?? e.lambdaFunctionFailedEventDetails)?.error === ErrorName.Throttled);
      expect(invokeFailures).toHaveLength(2);
    });

    it('a permanent agent error ends in RecordFailure and PublishFailure; a replay succeeds once it is gone', async () => {
      stack.bedrock.injectFault({ kind: 'fail', times: 1 });
      const asked = await ask(stack, events, 'tenant1-user', "What's your return policy?");
      expect(asked.status).toBe('FAILED');
      expect(asked.error).toBe(ErrorName.AgentFailed);
      expect(asked.events.map((e) => e.status)).toEqual(['FAILED']);
      expect(statesEntered(await historyOf(stack, asked.executionArn))).toEqual(['ValidateContext', 'MintCredentials', 'InvokeAgent', 'RecordFailure', 'PublishFailure', 'Failed']);

      const replayed = await replay(asked.executionArn);
      const detail = await stack.states.waitForExecution(replayed.executionArn);
      expect(detail.status).toBe('SUCCEEDED');
      const history = await historyOf(stack, replayed.executionArn);
      expect(statesEntered(history)).toEqual(['ValidateContext', 'MintCredentials', 'InvokeAgent', 'PublishAnswer']);
      // A replay is a new ask of the same user, linked to the failed run: its own answerId, replayOf the failed execution.
      const replayInput = JSON.parse(history[0]!.executionStartedEventDetails!.input!) as { replayOf: string; request: { answerId: string } };
      expect(replayInput.replayOf).toBe(asked.executionArn);
      expect(replayInput.request.answerId).toBe(replayed.answerId);
      expect(replayed.answerId).toMatch(new RegExp(`^${stack.user('tenant1-user').sub}\\.replay-[0-9a-f-]{36}$`));
      expect(events.filter((e) => e.answerId === asked.answerId && isTerminal(e)).map((e) => e.status)).toEqual(['FAILED']);
      expect(events.filter((e) => e.answerId === replayed.answerId && isTerminal(e)).map((e) => e.status)).toEqual(['DONE']);
    });

    it('an STS failure ends in RecordFailure and PublishFailure; a replay succeeds once it is gone', async () => {
      // An asker no function holds a session for (the warm mint-credentials function reuses a
      // (tenant, user) session): a new user of tenant2, so that MintCredentials calls STS.
      const cognito = new CognitoIdentityProviderClient(stack.clientConfig('operator'));
      const created = await cognito.send(
        new AdminCreateUserCommand({ UserPoolId: localTaskConfig(stack.iam, '', agentRuntime).userPoolId, Username: `sts-fault-${agentRuntime}`, MessageAction: 'SUPPRESS', UserAttributes: [{ Name: 'custom:tenantId', Value: 'tenant2' }] }),
      );
      cognito.destroy();
      const sub = created.User!.Attributes!.find((a) => a.Name === 'sub')!.Value!;
      stack.edge.injectFault({ service: 'sts', code: 'RegionDisabledException', status: 403, times: 1 });
      const asked = await run(stack, events, { identity: { tenantId: 'tenant2', userId: sub, username: `sts-fault-${agentRuntime}` }, request: { answerId: `${sub}.sts-fault`, question: "What's your return policy?" } });
      expect(asked.error).toBe(ErrorName.CredentialsFailed);
      expect(asked.events.map((e) => e.status)).toEqual(['FAILED']);
      const replayed = await replay(asked.executionArn);
      expect((await stack.states.waitForExecution(replayed.executionArn)).status).toBe('SUCCEEDED');
      expect(events.filter((e) => e.answerId === asked.answerId && isTerminal(e)).map((e) => e.text ?? e.error)).toEqual([
        expect.stringContaining(ErrorName.CredentialsFailed),
      ]);
      expect(events.filter((e) => e.answerId === replayed.answerId && isTerminal(e)).map((e) => e.text ?? e.error)).toEqual(['You can return items within 20 days.']);
    });

    it('a publish failure ends in RecordFailure and PublishFailure (publishing works again); a replay succeeds', async () => {
      stack.appsync.injectFault({ status: 400, errorType: 'BadRequestException', times: 1, statuses: ['DONE'] });
      const asked = await ask(stack, events, 'tenant3-user', "What's your return policy?");
      expect(asked.error).toBe(ErrorName.PublishFailed);
      expect(statesEntered(await historyOf(stack, asked.executionArn))).toEqual(
        ['ValidateContext', 'MintCredentials', 'InvokeAgent', 'PublishAnswer', 'RecordFailure', 'PublishFailure', 'Failed'],
      );
      expect(asked.events.map((e) => e.status)).toEqual(['FAILED']);
      const replayed = await replay(asked.executionArn);
      expect((await stack.states.waitForExecution(replayed.executionArn)).status).toBe('SUCCEEDED');
      // Answered, not ended as a duplicate (AlreadyAnswered also SUCCEEDS).
      expect(statesEntered(await historyOf(stack, replayed.executionArn))).toEqual(['ValidateContext', 'MintCredentials', 'InvokeAgent', 'PublishAnswer']);
      expect(events.filter((e) => e.answerId === replayed.answerId && isTerminal(e)).map((e) => e.status)).toEqual(['DONE']);
    });

    it('a replay of a tampered record fails validation again', async () => {
      stack.bedrock.injectFault({ kind: 'fail', times: 1 });
      const asked = await ask(stack, events, 'tenant1-user', "What's your return policy?");
      // An operator (or an attacker with table access) edits the recorded run to ask as another user.
      const other = stack.user('tenant1-user2');
      const doc = DynamoDBDocumentClient.from(new DynamoDBClient(stack.clientConfig('operator')));
      await doc.send(
        new UpdateCommand({
          TableName: stack.tables.runs,
          Key: { tenantId: 'tenant1', answerId: asked.answerId },
          UpdateExpression: 'SET userId = :u',
          ExpressionAttributeValues: { ':u': other.sub },
        }),
      );
      const replayed = await replay(asked.executionArn);
      const detail = await stack.states.waitForExecution(replayed.executionArn);
      expect(detail.status).toBe('FAILED');
      expect(detail.error).toBe(ErrorName.InvalidRequest);
    });

    it('a replay of a user who was removed since fails validation again', async () => {
      stack.bedrock.injectFault({ kind: 'fail', times: 1 });
      const asked = await ask(stack, events, 'tenant1-user2', "What's your return policy?");
      expect(asked.status).toBe('FAILED');
      await stack.cognito.deleteUser('tenant1-user2');
      const replayed = await replay(asked.executionArn);
      const detail = await stack.states.waitForExecution(replayed.executionArn);
      expect(detail.status).toBe('FAILED');
      expect(JSON.parse(detail.cause!)).toMatchObject({ errorType: ErrorName.InvalidRequest, errorMessage: 'The asker is not a user of this service.' });
    });
  });
});
