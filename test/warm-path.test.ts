/**
 * Issue 18: a fresh question through the API makes no Cognito and, once the asker's session is
 * warm, no STS call; isolation is unchanged. Counted at the edge (every signed request, by service,
 * operation and signing role) and at the STS stand-in (the tenant access sessions it granted).
 */
import { AdminDisableUserCommand, CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RealtimeConnection } from '../client/realtime.ts';
import type { AnswerEventRecord } from '../infra/local/services/appsync/graphql.ts';
import { localTaskConfig } from '../infra/local/services/lambda/functions.ts';
import { startLocalStack, type LocalStack } from '../infra/local/stack.ts';
import { connectedClient, type BenchClient } from '../bench/clients.ts';
import { RequestCounter } from '../bench/machine.ts';
import { ErrorName } from '../tasks/errors.ts';
import { recordEvents, run, workflowInput } from './workflow-helpers.ts';

let stack: LocalStack;
let events: AnswerEventRecord[];
const counter = new RequestCounter();
const connections: RealtimeConnection[] = [];
const clients = new Map<string, BenchClient>();

beforeAll(async () => {
  stack = await startLocalStack({ port: 0, logger: counter });
  events = recordEvents(stack);
  for (const username of ['tenant1-user', 'tenant1-user2']) clients.set(username, await connectedClient(stack, username, connections));
});
afterAll(async () => {
  for (const c of connections) c.close();
  await stack?.stop();
});

const POLICY = "What's your return policy?";
async function askThroughApi(username: string): Promise<string | undefined> {
  const c = clients.get(username)!;
  const { final } = await c.api.ask(POLICY, { connection: c.connection });
  expect(final.status).toBe('DONE');
  return final.text ?? undefined;
}
/** Edge requests of one operation signed by one role, since the last reset. */
const calls = (service: string, operation: string, role: string) => counter.byOperation.get(`${service}\t${operation}\t${role}`) ?? 0;
/** The tenant access sessions STS granted for a user (by its UserId session tag). */
const sessionsOf = (username: string) => stack.sts.assumedRoles(stack.iam.resources.tenantAccessRoleArn).filter((r) => r.tags.UserId === stack.user(username).sub).length;

describe('the warm path: fresh questions make no Cognito call and reuse the asker\'s scoped session', () => {
  it('two questions by one user: no AdminGetUser, one AssumeRole; another user gets a session of their own', async () => {
    counter.reset();
    const before = { user1: sessionsOf('tenant1-user'), user2: sessionsOf('tenant1-user2') };
    expect(await askThroughApi('tenant1-user')).toBe('You can return items within 10 days.');
    expect(await askThroughApi('tenant1-user')).toBe('You can return items within 10 days.');
    expect(await askThroughApi('tenant1-user2')).toBe('You can return items within 10 days.');
    expect(calls('cognito-idp', 'AdminGetUser', 'validate-context')).toBe(0);
    expect(sessionsOf('tenant1-user') - before.user1).toBe(1);
    // Control: the second user's question is not served with the first user's session.
    expect(sessionsOf('tenant1-user2') - before.user2).toBe(1);
    expect(calls('sts', 'AssumeRole', 'mint-credentials')).toBe(2);
    // Every answer is still sealed on its own (KMS Encrypt by mint-credentials, Decrypt by invoke-agent).
    expect(calls('kms', 'Encrypt', 'mint-credentials')).toBe(3);
    expect(calls('kms', 'Decrypt', 'invoke-agent')).toBe(3);
  });

  it('a run that is not a fresh ask (started by an operator, as replays are) checks the user pool; a disabled user is refused', async () => {
    counter.reset();
    const control = await run(stack, events, workflowInput(stack, 'tenant1-user2', POLICY));
    expect(control.status).toBe('SUCCEEDED');
    expect(calls('cognito-idp', 'AdminGetUser', 'validate-context')).toBe(1);
    const cognito = new CognitoIdentityProviderClient(stack.clientConfig('operator'));
    try {
      await cognito.send(new AdminDisableUserCommand({ UserPoolId: localTaskConfig(stack.iam, '', 'converse').userPoolId, Username: 'tenant1-user2' }));
    } finally {
      cognito.destroy();
    }
    const refused = await run(stack, events, workflowInput(stack, 'tenant1-user2', POLICY));
    expect(refused.status).toBe('FAILED');
    expect(refused.error).toBe(ErrorName.InvalidRequest);
    expect(refused.events).toEqual([expect.objectContaining({ status: 'FAILED', error: expect.stringContaining('disabled') })]);
    expect(calls('cognito-idp', 'AdminGetUser', 'validate-context')).toBe(2);

    // The documented trade-off: the ID token the disabled user already holds is verified without
    // calling Cognito (by AppSync, as by the local AppSync), so their fresh question is still
    // answered until the token expires (signing in again is refused: infra/local/services/cognito/admin.test.ts).
    expect(await askThroughApi('tenant1-user2')).toBe('You can return items within 10 days.');
    expect(calls('cognito-idp', 'AdminGetUser', 'validate-context')).toBe(2);
  });
});
