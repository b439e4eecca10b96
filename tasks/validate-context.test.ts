import { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { awsError, FAKE_CLIENT_CONFIG, recordingPublisher, scripted, type FakeReply, rejection } from '../test/fake-aws.ts';
import { ErrorName } from './errors.ts';
import { TableNames, type TenantConfig } from './tables.ts';
import { agentSessionId, isFreshAsk, validateContext, type ValidateContextDeps } from './validate-context.ts';
import { MAX_QUESTION_CHARS, WORKFLOW_TIMEOUT_SECONDS, type WorkflowInput } from './workflow-input.ts';

const POOL = 'us-east-1_LOCALPOOL';
const identity = { tenantId: 'tenant1', userId: 'user-1', username: 'alice' };
const request = { answerId: 'user-1.a1', question: '  What is your return policy?  ' };
const EXECUTION = 'arn:aws:states:us-east-1:000000000000:execution:assistant:run-1';
/** What the state machine passes ValidateContext: the state, and the execution's id. */
const taskInput = (state: unknown) => ({ input: state, executionArn: EXECUTION });
const input = taskInput({ identity, request });

const NOW = new Date('2030-01-02T03:04:05.000Z');
const NOW_SECONDS = Math.floor(NOW.getTime() / 1000);
/** The claim's PutItem, as the document client hands it to the DynamoDB client (before marshalling). */
const claimCall = (answerId = request.answerId) => ({
  command: 'PutItemCommand',
  input: {
    TableName: 'answer-claims',
    Item: { answerId, executionArn: EXECUTION, tenantId: 'tenant1', userId: 'user-1', expiresAt: NOW_SECONDS + 24 * 3600, claimedAt: NOW.toISOString() },
    ConditionExpression: 'attribute_not_exists(#answerId) OR #expiresAt < :now OR #executionArn = :me',
    ExpressionAttributeNames: { '#answerId': 'answerId', '#expiresAt': 'expiresAt', '#executionArn': 'executionArn' },
    ExpressionAttributeValues: { ':now': NOW_SECONDS, ':me': EXECUTION },
  },
});

const tenant: TenantConfig = { tenantId: 'tenant1', name: 'Tenant One Store', status: 'ACTIVE', returnPolicyDays: 10, ordersTable: 'tenant1-orders', plan: 'standard' };
const asker = (over: { enabled?: boolean; sub?: string; tenantId?: string } = {}) => ({
  Username: identity.userId,
  Enabled: over.enabled ?? true,
  UserAttributes: [
    { Name: 'sub', Value: over.sub ?? identity.userId },
    { Name: 'custom:tenantId', Value: over.tenantId ?? identity.tenantId },
  ],
});

/**
 * Deps whose clients answer from a script: the claim gets `claim` when given, then the two lookups
 * get `user` and `config` when given. The claim's reply records whether any event was out before it.
 */
function harness(replies: { claim?: FakeReply; user?: FakeReply; config?: FakeReply } = {}) {
  const cognito = scripted(new CognitoIdentityProviderClient(FAKE_CLIENT_CONFIG));
  const dynamodb = scripted(new DynamoDBClient(FAKE_CLIENT_CONFIG));
  const events = recordingPublisher();
  const publishedBeforeClaim: number[] = [];
  if (replies.claim) {
    const reply = replies.claim;
    dynamodb.on('PutItemCommand', async (call) => {
      publishedBeforeClaim.push(events.published.length);
      return typeof reply === 'function' ? reply(call) : reply;
    });
  }
  if (replies.user) cognito.on('AdminGetUserCommand', replies.user);
  if (replies.config) dynamodb.on('GetItemCommand', replies.config);
  const logs: Record<string, unknown>[] = [];
  const deps: ValidateContextDeps = {
    dynamodb: dynamodb.client,
    tables: new TableNames(),
    cognito: cognito.client,
    userPoolId: POOL,
    events: events.port,
    log: (line) => logs.push(line),
    now: () => NOW,
  };
  return {
    deps,
    cognito,
    dynamodb,
    published: events.published,
    publishedBeforeClaim,
    logs,
    assertDone() {
      cognito.assertDone();
      dynamodb.assertDone();
    },
  };
}

const accepted = [
  { answerId: request.answerId, userId: identity.userId, seq: 1, status: 'ACCEPTED', step: 'ValidateContext', text: 'your question was accepted', error: null },
  { answerId: request.answerId, userId: identity.userId, seq: 2, status: 'PROGRESS', step: 'ValidateContext', text: 'checking your account', error: null },
];

describe('validateContext', () => {
  it('claims the answer first, checks the asker and the store, tells the asker, and derives the session server-side', async () => {
    const h = harness({ claim: {}, user: asker(), config: { Item: tenant } });
    const context = await validateContext(input, h.deps);
    expect(context).toEqual({ sessionId: agentSessionId('tenant1', 'user-1', request.answerId), storeName: 'Tenant One Store', nextSeq: 3 });
    expect(context.sessionId).toMatch(/^s-[0-9a-f]{48}$/);
    expect(h.cognito.calls).toEqual([{ command: 'AdminGetUserCommand', input: { UserPoolId: POOL, Username: 'user-1' } }]);
    expect(h.dynamodb.calls).toEqual([claimCall(), { command: 'GetItemCommand', input: { TableName: 'tenant-config', Key: { tenantId: 'tenant1' } } }]);
    // The claim came before any event.
    expect(h.publishedBeforeClaim).toEqual([0]);
    expect(h.published).toEqual(accepted);
    expect(h.logs).toEqual([]);
    h.assertDone();
  });

  it('takes the session from who asks and the conversation: another asker with the same conversation id gets another session', async () => {
    const withConversation = taskInput({ identity, request: { ...request, conversationId: 'conv-1' } });
    const h = harness({ claim: {}, user: asker(), config: { Item: tenant } });
    const { sessionId } = await validateContext(withConversation, h.deps);
    expect(sessionId).toBe(agentSessionId('tenant1', 'user-1', 'conv-1'));
    expect(sessionId).not.toBe(agentSessionId('tenant1', 'user-2', 'conv-1'));
    expect(sessionId).not.toBe(agentSessionId('tenant2', 'user-1', 'conv-1'));
    expect(sessionId).not.toBe(agentSessionId('tenant1', 'user-1', request.answerId));
    h.assertDone();
  });

  it.each([
    ['no execution id', { input: { identity, request } }],
    ['an execution id that is not a string', { input: { identity, request }, executionArn: 42 }],
    ['no identity', taskInput({ request })],
    ['a tenant id that is not a slug', taskInput({ identity: { ...identity, tenantId: 'Tenant_1' }, request })],
    ['a user id with a dot', taskInput({ identity: { ...identity, userId: 'user.1' }, request: { ...request, answerId: 'user.1.a1' } })],
    ['an answerId of another user', taskInput({ identity, request: { ...request, answerId: 'user-2.a1' } })],
    ['an answerId that only starts like the user id', taskInput({ identity, request: { ...request, answerId: 'user-10.a1' } })],
    ['an answerId whose suffix is not plain', taskInput({ identity, request: { ...request, answerId: 'user-1.a/1' } })],
  ])('refuses %s with InvalidRequest, before the claim, any lookup or event (no one can claim an answerId that is not theirs)', async (_, bad) => {
    const h = harness();
    const err = await rejection(validateContext(bad, h.deps));
    expect(err.name).toBe(ErrorName.InvalidRequest);
    expect(h.published).toEqual([]);
    h.assertDone();
    expect(h.cognito.calls).toEqual([]);
    expect(h.dynamodb.calls).toEqual([]);
  });

  it.each([
    ['an empty question', { ...request, question: ' \n\t ' }],
    ['a question too long', { ...request, question: '🙂'.repeat(MAX_QUESTION_CHARS + 1) }],
    ['a question with a control character', { ...request, question: 'Orders?\u0007' }],
    ['a question with a bidirectional override', { ...request, question: 'Orders \u202Eseditor' }],
  ])('refuses %s with InvalidRequest after the claim (a duplicate fails no second time), before any lookup or event', async (_, badRequest) => {
    const h = harness({ claim: {} });
    const err = await rejection(validateContext(taskInput({ identity, request: badRequest }), h.deps));
    expect(err.name).toBe(ErrorName.InvalidRequest);
    expect(h.published).toEqual([]);
    h.assertDone();
    expect(h.cognito.calls).toEqual([]);
    expect(h.dynamodb.calls.map((c) => c.command)).toEqual(['PutItemCommand']);
  });

  /**
   * A claim that answers only once both lookups have been answered (the lookups run while it is in
   * flight): what was published until then shows whether anything went out before the claim was won.
   */
  function slowClaim(outcome: Record<string, unknown> | Error) {
    let lookupsAnswered!: () => void;
    const answered = new Promise<void>((resolve) => (lookupsAnswered = resolve));
    let publishedAtLookups = -1;
    let pending = 2;
    const lookup = (reply: Record<string, unknown>) => () => {
      if (--pending === 0) lookupsAnswered();
      return reply;
    };
    const h = harness({
      claim: async () => {
        await answered;
        // Let the lookups' replies reach the task before the claim's does.
        await new Promise((resolve) => setImmediate(resolve));
        publishedAtLookups = h.published.length;
        return outcome;
      },
      user: lookup(asker()),
      config: lookup({ Item: tenant }),
    });
    return { h, publishedAtLookups: () => publishedAtLookups };
  }

  it('publishes nothing until the claim is won, even when the lookups were answered first', async () => {
    const { h, publishedAtLookups } = slowClaim({});
    await expect(validateContext(input, h.deps)).resolves.toMatchObject({ storeName: 'Tenant One Store', nextSeq: 3 });
    expect(publishedAtLookups()).toBe(0);
    expect(h.published).toEqual(accepted);
    h.assertDone();
  });

  it('ends with Duplicate when another execution holds the claim: no event, whatever the lookups found', async () => {
    const { h, publishedAtLookups } = slowClaim(awsError('ConditionalCheckFailedException', 400, 'The conditional request failed'));
    const err = await rejection(validateContext(input, h.deps));
    expect(err.name).toBe(ErrorName.Duplicate);
    expect(err.message).toBe('Another execution has claimed this answer: it answers, this one ends here.');
    expect(h.dynamodb.calls[0]).toEqual(claimCall());
    expect(publishedAtLookups()).toBe(0);
    expect(h.published).toEqual([]);
    h.assertDone();
  });

  it.each([
    ['throttled', awsError('ProvisionedThroughputExceededException', 400), ErrorName.Throttled],
    ['down', awsError('InternalServerError', 500), ErrorName.ServiceUnavailable],
    ['refused (a deployment defect, not the asker\'s problem)', awsError('AccessDeniedException', 400), ErrorName.ServiceUnavailable],
  ])('fails without any event when the claim is %s (%s), never as Duplicate', async (_, reply, name) => {
    // The lookups were started beside the claim: wait until both reached the fakes, then check the script.
    let seen = 0;
    let bothSeen!: () => void;
    const lookupsSeen = new Promise<void>((resolve) => (bothSeen = resolve));
    const lookup = (out: Record<string, unknown>) => () => (++seen === 2 && bothSeen(), out);
    const h = harness({ claim: reply, user: lookup(asker()), config: lookup({ Item: tenant }) });
    const err = await rejection(validateContext(input, h.deps));
    expect(err.name).toBe(name);
    await lookupsSeen;
    expect(h.published).toEqual([]);
    h.assertDone();
  });

  it('accepts a question of exactly the limit, counted in characters, not UTF-16 units', async () => {
    const h = harness({ claim: {}, user: asker(), config: { Item: tenant } });
    const long = taskInput({ identity, request: { ...request, question: '🙂'.repeat(MAX_QUESTION_CHARS) } });
    await expect(validateContext(long, h.deps)).resolves.toMatchObject({ storeName: 'Tenant One Store' });
    h.assertDone();
  });

  it.each([
    ['an asker who is not a user of the pool', { user: awsError('UserNotFoundException', 400) }, ErrorName.InvalidRequest, 'not a user'],
    ['an asker whose account is disabled', { user: asker({ enabled: false }) }, ErrorName.InvalidRequest, 'disabled'],
    ['an asker who belongs to another store', { user: asker({ tenantId: 'tenant2' }) }, ErrorName.InvalidRequest, 'does not belong'],
    ['an asker whose sub is another user', { user: asker({ sub: 'user-2' }) }, ErrorName.InvalidRequest, 'does not belong'],
    ['a store that does not exist', { config: {} }, ErrorName.TenantUnavailable, 'does not exist'],
    ['a store that is suspended', { config: { Item: { ...tenant, status: 'SUSPENDED' } } }, ErrorName.TenantUnavailable, "This store's assistant is suspended"],
    ['a store being onboarded', { config: { Item: { ...tenant, status: 'CREATING' } } }, ErrorName.TenantUnavailable, 'does not exist'],
    ['a store whose onboarding failed', { config: { Item: { ...tenant, status: 'FAILED' } } }, ErrorName.TenantUnavailable, 'does not exist'],
    ['a store of an unknown status', { config: { Item: { ...tenant, status: 'ARCHIVED' } } }, ErrorName.TenantUnavailable, 'does not exist'],
    ['a store that cannot be read', { config: awsError('AccessDeniedException', 400) }, ErrorName.TenantUnavailable, 'AccessDeniedException'],
  ])('refuses %s (%s), after ACCEPTED and PROGRESS', async (_, replies, name, reason) => {
    const h = harness({ claim: {}, user: asker(), config: { Item: tenant }, ...replies });
    const err = await rejection(validateContext(input, h.deps));
    expect(err.name).toBe(name);
    expect(err.message).toContain(reason);
    // The FAILED event that follows comes after these: they are out before the task fails.
    expect(h.published).toEqual(accepted);
    h.assertDone();
  });

  it.each([
    ['Cognito throttles', { user: awsError('TooManyRequestsException', 400), config: { Item: tenant } }, ErrorName.Throttled],
    ['Cognito is down', { user: awsError('InternalErrorException', 500), config: { Item: tenant } }, ErrorName.ServiceUnavailable],
    ['DynamoDB throttles', { user: asker(), config: awsError('ProvisionedThroughputExceededException', 400) }, ErrorName.Throttled],
    ['DynamoDB is down', { user: asker(), config: awsError('InternalServerError', 500) }, ErrorName.ServiceUnavailable],
  ])('fails with a transient error (retried by the workflow) when %s', async (_, replies, name) => {
    const h = harness({ claim: {}, ...replies });
    expect((await rejection(validateContext(input, h.deps))).name).toBe(name);
    h.assertDone();
  });

  it("reports the asker's problem before the store's when both lookups fail", async () => {
    const h = harness({ claim: {}, user: awsError('UserNotFoundException', 400), config: {} });
    expect((await rejection(validateContext(input, h.deps))).name).toBe(ErrorName.InvalidRequest);
    h.assertDone();
  });
});

describe('validateContext: fresh asks skip the user-pool lookup, everything else does not', () => {
  const slot = `${NOW_SECONDS + 300}#${request.answerId}`;
  /** As Mutation.ask starts it: a slot, and when it was asked with a token valid until when. */
  const fresh = { identity, request, slot, asked: { at: NOW_SECONDS - 2, tokenExpiresAt: NOW_SECONDS + 3000 } };

  it('a fresh ask: no AdminGetUser, the claim and the store are checked as always', async () => {
    // No Cognito reply is scripted: a lookup would fail the test.
    const h = harness({ claim: {}, config: { Item: tenant } });
    await expect(validateContext(taskInput(fresh), h.deps)).resolves.toMatchObject({ storeName: 'Tenant One Store', nextSeq: 3 });
    expect(h.cognito.calls).toEqual([]);
    expect(h.dynamodb.calls).toEqual([claimCall(), { command: 'GetItemCommand', input: { TableName: 'tenant-config', Key: { tenantId: 'tenant1' } } }]);
    expect(h.published).toEqual(accepted);
    h.assertDone();
  });

  it('a fresh ask of a suspended store is still refused (the store is read on every run)', async () => {
    const h = harness({ claim: {}, config: { Item: { ...tenant, status: 'SUSPENDED' } } });
    expect((await rejection(validateContext(taskInput(fresh), h.deps))).name).toBe(ErrorName.TenantUnavailable);
    expect(h.cognito.calls).toEqual([]);
    h.assertDone();
  });

  it.each<[string, Record<string, unknown>]>([
    ['a replay (replayOf, no slot, no asked)', { identity, request, replayOf: EXECUTION }],
    ['a replay that kept the original asked and slot', { ...fresh, replayOf: EXECUTION }],
    ['an input without asked (started by hand, or by an older API)', { identity, request, slot }],
    ['an input without a slot (not admitted by the API)', { identity, request, asked: fresh.asked }],
    ['a record older than the token: the token has expired', { ...fresh, asked: { at: NOW_SECONDS - 10, tokenExpiresAt: NOW_SECONDS } }],
    ['a record older than the workflow timeout', { ...fresh, asked: { at: NOW_SECONDS - WORKFLOW_TIMEOUT_SECONDS - 1, tokenExpiresAt: NOW_SECONDS + 3000 } }],
    ['an ask dated in the future (beyond the clock skew)', { ...fresh, asked: { at: NOW_SECONDS + 120, tokenExpiresAt: NOW_SECONDS + 3000 } }],
  ])('%s: AdminGetUser runs, and a disabled asker is refused', async (_, state) => {
    const h = harness({ claim: {}, user: asker({ enabled: false }), config: { Item: tenant } });
    const err = await rejection(validateContext(taskInput(state), h.deps));
    expect(err.name).toBe(ErrorName.InvalidRequest);
    expect(err.message).toContain('disabled');
    expect(h.cognito.calls).toEqual([{ command: 'AdminGetUserCommand', input: { UserPoolId: POOL, Username: 'user-1' } }]);
    h.assertDone();
  });

  it('isFreshAsk: the bounds themselves', () => {
    const at = (state: Record<string, unknown>, seconds: number) => isFreshAsk(state as WorkflowInput, new Date(seconds * 1000));
    const asked = { at: NOW_SECONDS, tokenExpiresAt: NOW_SECONDS + 100 };
    const base = { identity, request, slot, asked };
    expect(at(base, NOW_SECONDS)).toBe(true);
    expect(at(base, NOW_SECONDS + 99)).toBe(true);
    expect(at(base, NOW_SECONDS + 100)).toBe(false);
    const long = { ...base, asked: { at: NOW_SECONDS, tokenExpiresAt: NOW_SECONDS + 3600 } };
    expect(at(long, NOW_SECONDS + WORKFLOW_TIMEOUT_SECONDS)).toBe(true);
    expect(at(long, NOW_SECONDS + WORKFLOW_TIMEOUT_SECONDS + 1)).toBe(false);
    expect(at(long, NOW_SECONDS - 60)).toBe(true);
    expect(at(long, NOW_SECONDS - 61)).toBe(false);
    expect(at({ ...long, replayOf: null }, NOW_SECONDS)).toBe(true);
  });
});
