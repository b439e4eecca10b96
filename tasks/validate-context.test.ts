import { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { awsError, FAKE_CLIENT_CONFIG, recordingPublisher, scripted, type FakeReply, rejection } from '../test/fake-aws.ts';
import { ErrorName } from './errors.ts';
import { TableNames, type TenantConfig } from './tables.ts';
import { agentSessionId, validateContext, type ValidateContextDeps } from './validate-context.ts';
import { MAX_QUESTION_CHARS } from './workflow-input.ts';

const POOL = 'us-east-1_LOCALPOOL';
const identity = { tenantId: 'tenant1', userId: 'user-1', username: 'alice' };
const request = { answerId: 'user-1.a1', question: '  What is your return policy?  ' };
const input = { identity, request };

const tenant: TenantConfig = { tenantId: 'tenant1', name: 'Tenant One Store', status: 'ACTIVE', returnPolicyDays: 10, ordersTable: 'tenant1-orders', quota: 50 };
const asker = (over: { enabled?: boolean; sub?: string; tenantId?: string } = {}) => ({
  Username: identity.userId,
  Enabled: over.enabled ?? true,
  UserAttributes: [
    { Name: 'sub', Value: over.sub ?? identity.userId },
    { Name: 'custom:tenantId', Value: over.tenantId ?? identity.tenantId },
  ],
});

/** Deps whose clients answer from a script; the two lookups get `user` and `config` when given. */
function harness(replies: { user?: FakeReply; config?: FakeReply } = {}) {
  const cognito = scripted(new CognitoIdentityProviderClient(FAKE_CLIENT_CONFIG));
  const dynamodb = scripted(new DynamoDBClient(FAKE_CLIENT_CONFIG));
  if (replies.user) cognito.on('AdminGetUserCommand', replies.user);
  if (replies.config) dynamodb.on('GetItemCommand', replies.config);
  const events = recordingPublisher();
  const logs: Record<string, unknown>[] = [];
  const deps: ValidateContextDeps = {
    dynamodb: dynamodb.client,
    tables: new TableNames(),
    cognito: cognito.client,
    userPoolId: POOL,
    events: events.port,
    log: (line) => logs.push(line),
  };
  return {
    deps,
    cognito,
    dynamodb,
    published: events.published,
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
  it('checks the asker and the store, tells the asker, and derives the session server-side', async () => {
    const h = harness({ user: asker(), config: { Item: tenant } });
    const context = await validateContext(input, h.deps);
    expect(context).toEqual({ sessionId: agentSessionId('tenant1', 'user-1', request.answerId), storeName: 'Tenant One Store', nextSeq: 3 });
    expect(context.sessionId).toMatch(/^s-[0-9a-f]{48}$/);
    expect(h.cognito.calls).toEqual([{ command: 'AdminGetUserCommand', input: { UserPoolId: POOL, Username: 'user-1' } }]);
    expect(h.dynamodb.calls).toEqual([{ command: 'GetItemCommand', input: { TableName: 'tenant-config', Key: { tenantId: 'tenant1' } } }]);
    expect(h.published).toEqual(accepted);
    expect(h.logs).toEqual([]);
    h.assertDone();
  });

  it('takes the session from who asks and the conversation: another asker with the same conversation id gets another session', async () => {
    const withConversation = { identity, request: { ...request, conversationId: 'conv-1' } };
    const h = harness({ user: asker(), config: { Item: tenant } });
    const { sessionId } = await validateContext(withConversation, h.deps);
    expect(sessionId).toBe(agentSessionId('tenant1', 'user-1', 'conv-1'));
    expect(sessionId).not.toBe(agentSessionId('tenant1', 'user-2', 'conv-1'));
    expect(sessionId).not.toBe(agentSessionId('tenant2', 'user-1', 'conv-1'));
    expect(sessionId).not.toBe(agentSessionId('tenant1', 'user-1', request.answerId));
    h.assertDone();
  });

  it.each([
    ['no identity', { request }],
    ['a tenant id that is not a slug', { identity: { ...identity, tenantId: 'Tenant_1' }, request }],
    ['a user id with a dot', { identity: { ...identity, userId: 'user.1' }, request: { ...request, answerId: 'user.1.a1' } }],
    ['an answerId of another user', { identity, request: { ...request, answerId: 'user-2.a1' } }],
    ['an answerId that only starts like the user id', { identity, request: { ...request, answerId: 'user-10.a1' } }],
    ['an answerId whose suffix is not plain', { identity, request: { ...request, answerId: 'user-1.a/1' } }],
    ['an empty question', { identity, request: { ...request, question: ' \n\t ' } }],
    ['a question too long', { identity, request: { ...request, question: '🙂'.repeat(MAX_QUESTION_CHARS + 1) } }],
    ['a question with a control character', { identity, request: { ...request, question: 'Orders?\u0007' } }],
    ['a question with a bidirectional override', { identity, request: { ...request, question: 'Orders \u202Eseditor' } }],
  ])('refuses %s with InvalidRequest, before any lookup or event', async (_, bad) => {
    const h = harness();
    const err = await rejection(validateContext(bad, h.deps));
    expect(err.name).toBe(ErrorName.InvalidRequest);
    expect(h.published).toEqual([]);
    h.assertDone();
    expect(h.cognito.calls).toEqual([]);
    expect(h.dynamodb.calls).toEqual([]);
  });

  it('accepts a question of exactly the limit, counted in characters, not UTF-16 units', async () => {
    const h = harness({ user: asker(), config: { Item: tenant } });
    const long = { identity, request: { ...request, question: '🙂'.repeat(MAX_QUESTION_CHARS) } };
    await expect(validateContext(long, h.deps)).resolves.toMatchObject({ storeName: 'Tenant One Store' });
    h.assertDone();
  });

  it.each([
    ['an asker who is not a user of the pool', { user: awsError('UserNotFoundException', 400) }, ErrorName.InvalidRequest, 'not a user'],
    ['an asker whose account is disabled', { user: asker({ enabled: false }) }, ErrorName.InvalidRequest, 'disabled'],
    ['an asker who belongs to another store', { user: asker({ tenantId: 'tenant2' }) }, ErrorName.InvalidRequest, 'does not belong'],
    ['an asker whose sub is another user', { user: asker({ sub: 'user-2' }) }, ErrorName.InvalidRequest, 'does not belong'],
    ['a store that does not exist', { config: {} }, ErrorName.TenantUnavailable, 'does not exist'],
    ['a store that is suspended', { config: { Item: { ...tenant, status: 'SUSPENDED' } } }, ErrorName.TenantUnavailable, 'not active'],
    ['a store that cannot be read', { config: awsError('AccessDeniedException', 400) }, ErrorName.TenantUnavailable, 'AccessDeniedException'],
  ])('refuses %s (%s), after ACCEPTED and PROGRESS', async (_, replies, name, reason) => {
    const h = harness({ user: asker(), config: { Item: tenant }, ...replies });
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
    const h = harness(replies);
    expect((await rejection(validateContext(input, h.deps))).name).toBe(name);
    h.assertDone();
  });

  it("reports the asker's problem before the store's when both lookups fail", async () => {
    const h = harness({ user: awsError('UserNotFoundException', 400), config: {} });
    expect((await rejection(validateContext(input, h.deps))).name).toBe(ErrorName.InvalidRequest);
    h.assertDone();
  });
});
