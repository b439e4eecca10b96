/**
 * The local STS holds a session only while it is live: expired sessions are swept on the next
 * AssumeRole (at most once a minute of the clock), so the registry stays at the live sessions in
 * steady state. Their credentials are still refused as AWS refuses expired ones, ExpiredToken, and
 * not as unknown keys: the session token carries its own expiry.
 */
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failure } from '../../../../test/aws-failure.ts';
import { assumeTenantRole, type ScopedCredentials } from '../../../../tasks/tenant-credentials.ts';
import { startLocalStack, type LocalStack } from '../../stack.ts';

/** The stand-ins' clock stands still on a whole second; tests move it. */
let now = Math.floor(Date.now() / 1000) * 1000;
let stack: LocalStack;

beforeAll(async () => {
  stack = await startLocalStack({ port: 0, clock: () => new Date(now) });
});
afterAll(async () => {
  await stack?.stop();
});

/** A client that signs at the stand-ins' time, so that only the session's age matters. */
const signingAtStackTime = () => ({ systemClockOffset: now - Date.now() });

function mint(): Promise<ScopedCredentials> {
  return assumeTenantRole(
    { tenantId: 'tenant1', userId: stack.user('tenant1-user').sub },
    {
      sts: new STSClient({ ...stack.clientConfig('mint-credentials'), ...signingAtStackTime() }),
      tenantAccessRoleArn: stack.iam.resources.tenantAccessRoleArn,
      location: stack.iam.location,
      tables: stack.tables,
    },
  );
}

function readConfig(creds: ScopedCredentials) {
  const { accessKeyId, secretAccessKey, sessionToken } = creds;
  const client = new DynamoDBClient({ ...stack.clientConfig({ accessKeyId, secretAccessKey, sessionToken }), ...signingAtStackTime() });
  return client.send(new GetItemCommand({ TableName: stack.tables.config, Key: { tenantId: { S: 'tenant1' } } }));
}

function callerIdentity(creds: ScopedCredentials) {
  const { accessKeyId, secretAccessKey, sessionToken } = creds;
  return new STSClient({ ...stack.clientConfig({ accessKeyId, secretAccessKey, sessionToken }), ...signingAtStackTime() }).send(new GetCallerIdentityCommand({}));
}

const FIFTEEN_MINUTES = 900_000;

describe('STS sessions are kept while live, and refused as expired after', () => {
  let first: ScopedCredentials;
  let second: ScopedCredentials;

  it('holds each new session (control: its credentials work)', async () => {
    const before = stack.iam.sessionCount();
    const minted: ScopedCredentials[] = [];
    for (let i = 0; i < 40; i++) minted.push(await mint());
    [first, second] = minted as [ScopedCredentials, ScopedCredentials];
    expect(stack.iam.sessionCount()).toBe(before + 40);
    expect((await readConfig(first)).Item?.tenantId?.S).toBe('tenant1');
  });

  it('sweeps them once expired: after the next AssumeRole only the live session is held', async () => {
    now += FIFTEEN_MINUTES + 1000;
    const fresh = await mint();
    expect(stack.iam.sessionCount()).toBe(1);
    // Control: the live session works.
    expect((await readConfig(fresh)).Item?.tenantId?.S).toBe('tenant1');
  });

  it('still refuses a swept session as expired: ExpiredTokenException (400) on DynamoDB, ExpiredToken on STS', async () => {
    expect(await failure(readConfig(first))).toMatchObject({ name: 'ExpiredTokenException', status: 400, message: 'The security token included in the request is expired' });
    expect(await failure(callerIdentity(first))).toMatchObject({ name: 'ExpiredToken', status: 400 });
  });

  it('a swept session with an altered token, or another session’s token, is an unknown client (as before its expiry)', async () => {
    const t = first.sessionToken;
    const altered = { ...first, sessionToken: t.slice(0, 20) + (t[20] === 'A' ? 'B' : 'A') + t.slice(21) };
    expect(await failure(readConfig(altered))).toMatchObject({ name: 'UnrecognizedClientException', status: 400 });
    expect(await failure(readConfig({ ...first, sessionToken: second.sessionToken }))).toMatchObject({ name: 'UnrecognizedClientException', status: 400 });
    expect(await failure(readConfig({ ...first, sessionToken: undefined as unknown as string }))).toMatchObject({ name: 'UnrecognizedClientException', status: 400 });
  });

  it('in steady state (sessions minted and expiring round after round) holds no more than one round of sessions', async () => {
    const held: number[] = [];
    for (let round = 0; round < 5; round++) {
      now += FIFTEEN_MINUTES + 1000;
      for (let i = 0; i < 20; i++) await mint();
      held.push(stack.iam.sessionCount());
    }
    expect(held).toEqual([20, 20, 20, 20, 20]);
  });
});
