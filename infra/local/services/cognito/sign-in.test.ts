/**
 * The sign-in limits of the local user pool, as Cognito documents them: the lockout after failed
 * password attempts, temporary passwords that expire, and password hashing that waits its turn.
 * The pool's clock is the test's (advanced by hand; nothing waits for wall-clock time); the edge's is
 * real (SigV4), and sign-ins are unsigned anyway.
 */
import { randomBytes, randomUUID, scryptSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CognitoIdentityProviderClient, InitiateAuthCommand } from '@aws-sdk/client-cognito-identity-provider';
import { USER_POOL_PASSWORD_POLICY } from '../../../../tasks/user-pool-policy.ts';
import { AwsError } from '../../edge/aws-error.ts';
import { Edge } from '../../edge/edge.ts';
import { silentLogger } from '../../edge/log.ts';
import { PolicyEvaluator } from '../../iam/evaluator.ts';
import { LocalIam } from '../../iam/principals.ts';
import { hashPassword, HashingQueue, HashingQueueFull, verifyPassword } from './passwords.ts';
import { CognitoService, LOCAL_APP_CLIENT_ID, type LocalUser } from './service.ts';

const iam = new LocalIam();
const evaluator = new PolicyEvaluator();
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const DAY = 24 * 60 * MINUTE;
const WRONG = 'Not-The-Password-1!';

const opened: { edge: Edge; cognito: CognitoService; client: CognitoIdentityProviderClient }[] = [];
const dirs: string[] = [];

afterAll(async () => {
  for (const o of opened) {
    o.client.destroy();
    await o.edge.close();
    await o.cognito.flush();
  }
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** A pool with users `names`, its own clock (advance with `advance`), behind its own edge. */
async function openPool(names: string[], options: { dataDir?: string; users?: LocalUser[]; startAt?: number } = {}) {
  let now = options.startAt ?? Date.parse('2030-01-01T00:00:00Z');
  const users = options.users ?? names.map((username) => ({ username, tenantId: 'tenant1', sub: randomUUID() }));
  const cognito = await CognitoService.create({ location: iam.location, evaluator, users, dataDir: options.dataDir, clock: () => new Date(now) });
  const edge = new Edge({ iam, services: { 'cognito-idp': cognito }, clock: () => new Date(), logger: silentLogger });
  const endpoint = await edge.listen(0);
  cognito.setIssuerBase(endpoint);
  // No retries: each call is one attempt, and the tests count attempts.
  const client = new CognitoIdentityProviderClient({ region: iam.location.region, endpoint, maxAttempts: 1 });
  opened.push({ edge, cognito, client });
  const passwords = cognito.temporaryPasswords();
  /** One USER_PASSWORD_AUTH: 'ok' (tokens or a challenge), or the error's name and message. */
  const signIn = async (username: string, password: string): Promise<string> => {
    try {
      const out = await client.send(
        new InitiateAuthCommand({ AuthFlow: 'USER_PASSWORD_AUTH', ClientId: LOCAL_APP_CLIENT_ID, AuthParameters: { USERNAME: username, PASSWORD: password } }),
      );
      expect(out.ChallengeName ?? out.AuthenticationResult?.IdToken).toBeTruthy();
      return 'ok';
    } catch (err) {
      const e = err as Error;
      return `${e.name}: ${e.message}`;
    }
  };
  return {
    cognito,
    users,
    password: (name: string) => passwords[name]!,
    signIn,
    advance: (ms: number) => void (now += ms),
    now: () => now,
  };
}

const INCORRECT = 'NotAuthorizedException: Incorrect username or password.';
const EXCEEDED = 'NotAuthorizedException: Password attempts exceeded';

async function fail(signIn: (u: string, p: string) => Promise<string>, username: string, times: number): Promise<string[]> {
  const answers: string[] = [];
  for (let i = 0; i < times; i++) answers.push(await signIn(username, WRONG));
  return answers;
}

describe('lockout after failed sign-ins (Cognito: 5 free failures, then 2^(n-5) s, up to ~15 min)', () => {
  it('control: after four failures, the right password still signs in', async () => {
    const p = await openPool(['four']);
    expect(await fail(p.signIn, 'four', 4)).toEqual(Array(4).fill(INCORRECT));
    expect(await p.signIn('four', p.password('four'))).toBe('ok');
  });

  it('after five failures, the right password is refused with "Password attempts exceeded" until the 1 s lockout ends', async () => {
    const p = await openPool(['five']);
    expect(await fail(p.signIn, 'five', 5)).toEqual(Array(5).fill(INCORRECT));
    expect(await p.signIn('five', p.password('five'))).toBe(EXCEEDED);
    // An attempt during the lockout is not counted: it does not lengthen the lockout.
    expect(await p.signIn('five', WRONG)).toBe(EXCEEDED);
    p.advance(999);
    expect(await p.signIn('five', p.password('five'))).toBe(EXCEEDED);
    p.advance(1);
    expect(await p.signIn('five', p.password('five'))).toBe('ok');
  });

  it('a successful sign-in after the lockout resets the count (four more failures do not lock)', async () => {
    const p = await openPool(['reset']);
    await fail(p.signIn, 'reset', 5);
    expect(await p.signIn('reset', p.password('reset'))).toBe(EXCEEDED);
    p.advance(SECOND);
    expect(await p.signIn('reset', p.password('reset'))).toBe('ok');
    expect(await fail(p.signIn, 'reset', 4)).toEqual(Array(4).fill(INCORRECT));
    expect(await p.signIn('reset', p.password('reset'))).toBe('ok');
  });

  it('each further failure doubles the lockout: the sixth locks for 2 s, the seventh for 4 s', async () => {
    const p = await openPool(['doubling']);
    await fail(p.signIn, 'doubling', 5);
    p.advance(SECOND);
    expect(await p.signIn('doubling', WRONG)).toBe(INCORRECT); // the sixth
    p.advance(2 * SECOND - 1);
    expect(await p.signIn('doubling', p.password('doubling'))).toBe(EXCEEDED);
    p.advance(1);
    expect(await p.signIn('doubling', WRONG)).toBe(INCORRECT); // the seventh
    p.advance(4 * SECOND - 1);
    expect(await p.signIn('doubling', p.password('doubling'))).toBe(EXCEEDED);
    p.advance(1);
    expect(await p.signIn('doubling', p.password('doubling'))).toBe('ok');
  });

  it('the lockout stops growing at 15 minutes', async () => {
    const p = await openPool(['capped']);
    await fail(p.signIn, 'capped', 5);
    // Failures 6..15 would lock for 2^1..2^10 s: the tenth one's 1024 s is capped at 900 s.
    for (let n = 6; n <= 15; n++) {
      p.advance(Math.min(2 ** (n - 6), 900) * SECOND);
      expect(await p.signIn('capped', WRONG)).toBe(INCORRECT);
    }
    p.advance(15 * MINUTE - 1);
    expect(await p.signIn('capped', p.password('capped'))).toBe(EXCEEDED);
    p.advance(1);
    expect(await p.signIn('capped', p.password('capped'))).toBe('ok');
  });

  it('15 minutes without any attempt after a lockout reset the count (control: 14 minutes do not)', async () => {
    const p = await openPool(['idle', 'busy']);
    for (const name of ['idle', 'busy']) await fail(p.signIn, name, 5);
    p.advance(14 * MINUTE);
    // Without the reset, this sixth failure locks for 2 s.
    expect(await p.signIn('busy', WRONG)).toBe(INCORRECT);
    expect(await p.signIn('busy', p.password('busy'))).toBe(EXCEEDED);
    p.advance(MINUTE);
    // 'idle' has had no attempt for 15 minutes: this failure is the first again.
    expect(await p.signIn('idle', WRONG)).toBe(INCORRECT);
    expect(await p.signIn('idle', p.password('idle'))).toBe('ok');
  });

  it('an unknown username gets the same answers as a known one, lockout included (no user enumeration)', async () => {
    const p = await openPool(['known']);
    const known = [...(await fail(p.signIn, 'known', 5)), await p.signIn('known', WRONG)];
    const unknown = [...(await fail(p.signIn, 'nobody-here', 5)), await p.signIn('nobody-here', WRONG)];
    expect(known).toEqual([...Array(5).fill(INCORRECT), EXCEEDED]);
    expect(unknown).toEqual(known);
    // Names are case-insensitive: the lockout is the name's, however it is typed.
    expect(await p.signIn('KNOWN', p.password('known'))).toBe(EXCEEDED);
  });

  it('a lockout is kept with the pool: a restart on the same data dir still refuses', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'cognito-lockout-'));
    dirs.push(dataDir);
    const first = await openPool(['kept'], { dataDir });
    await fail(first.signIn, 'kept', 5);
    await first.cognito.flush();
    const again = await openPool([], { dataDir, users: first.users, startAt: first.now() });
    // The restart made a new temporary password; the name is locked out whatever the password.
    expect(await again.signIn('kept', again.password('kept'))).toBe(EXCEEDED);
    again.advance(SECOND);
    expect(await again.signIn('kept', again.password('kept'))).toBe('ok');
  });
});

describe('temporary passwords expire after TemporaryPasswordValidityDays (one source with the CDK pool)', () => {
  const validity = USER_POOL_PASSWORD_POLICY.temporaryPasswordValidityDays * DAY;

  it('just inside the validity the temporary password works; at its end it has expired', async () => {
    const p = await openPool(['inside', 'expired']);
    p.advance(validity - SECOND);
    expect(await p.signIn('inside', p.password('inside'))).toBe('ok');
    p.advance(SECOND);
    expect(await p.signIn('expired', p.password('expired'))).toBe(
      'NotAuthorizedException: Temporary password has expired and must be reset by an administrator.',
    );
    // A wrong password is still just wrong (the expiry tells nothing to one who does not know the password).
    expect(await p.signIn('expired', WRONG)).toBe(INCORRECT);
  });

  it('the validity counts from when the password was set: a restart sets new ones', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'cognito-temporary-'));
    dirs.push(dataDir);
    const first = await openPool(['renewed'], { dataDir });
    first.advance(validity);
    expect(await first.signIn('renewed', first.password('renewed'))).toMatch(/Temporary password has expired/);
    await first.cognito.flush();
    const again = await openPool([], { dataDir, users: first.users, startAt: first.now() });
    expect(await again.signIn('renewed', again.password('renewed'))).toBe('ok');
  });
});

describe('password hashing waits its turn (HashingQueue)', () => {
  it('new hashes use the cheaper cost; hashes made with the earlier N=2^14 still verify', async () => {
    expect((await hashPassword(WRONG)).split('$').slice(0, 4)).toEqual(['scrypt', '4096', '8', '1']);
    const salt = randomBytes(16);
    const key = scryptSync('Old-Password-42!', salt, 32, { N: 16384, r: 8, p: 1, maxmem: 256 * 16384 * 8 });
    const old = `scrypt$16384$8$1$${salt.toString('base64')}$${key.toString('base64')}`;
    expect(await verifyPassword('Old-Password-42!', old)).toBe(true);
    expect(await verifyPassword('Old-Password-43!', old)).toBe(false);
  });

  /** Work that ends when the test says so, and says when it started. */
  const gate = () => {
    let open!: () => void;
    let started!: () => void;
    const begun = new Promise<void>((resolve) => (started = resolve));
    const done = new Promise<void>((resolve) => (open = resolve));
    return { work: () => (started(), done), begun, open };
  };

  it('runs one at a time, queues up to maxWaiting, and refuses the rest at once', async () => {
    const queue = new HashingQueue(1, 1);
    const [a, b] = [gate(), gate()];
    let bStarted = false;
    void b.begun.then(() => (bStarted = true));
    const ra = queue.run(a.work);
    const rb = queue.run(b.work);
    await a.begun;
    await expect(queue.run(() => Promise.resolve())).rejects.toBeInstanceOf(HashingQueueFull);
    expect(queue.depth).toEqual({ running: 1, waiting: 1 });
    expect(bStarted).toBe(false);
    a.open();
    await ra;
    await b.begun;
    b.open();
    await rb;
    expect(queue.depth).toEqual({ running: 0, waiting: 0 });
    // Control: with the queue empty again, work runs.
    await expect(queue.run(() => Promise.resolve('ran'))).resolves.toBe('ran');
  });

  it("a sign-in that finds the queue full is Cognito's TooManyRequestsException; the next one, in turn, signs in", async () => {
    const users = [{ username: 'queued', tenantId: 'tenant1', sub: randomUUID() }];
    const cognito = await CognitoService.create({ location: iam.location, evaluator, users, hashing: { concurrency: 1, maxWaiting: 1 } });
    cognito.setIssuerBase('http://127.0.0.1:1');
    const password = cognito.temporaryPasswords().queued!;
    const call = (name: string, pw: string) =>
      cognito.handleAnonymous({
        body: Buffer.from(JSON.stringify({ AuthFlow: 'USER_PASSWORD_AUTH', ClientId: LOCAL_APP_CLIENT_ID, AuthParameters: { USERNAME: name, PASSWORD: pw } })),
        headers: {},
        target: 'AWSCognitoIdentityProviderService.InitiateAuth',
        requestId: randomUUID(),
        method: 'POST',
        path: '/',
      });
    // Three at once: one hashes, one waits, the third is refused before any hashing.
    const answers = await Promise.allSettled([call('queued', password), call('queued', WRONG), call('queued', WRONG)]);
    expect(answers[0]!.status).toBe('fulfilled');
    expect((answers[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'NotAuthorizedException', message: 'Incorrect username or password.' });
    const refused = (answers[2] as PromiseRejectedResult).reason as AwsError;
    expect(refused).toBeInstanceOf(AwsError);
    expect({ code: refused.code, message: refused.message, status: refused.status }).toEqual({ code: 'TooManyRequestsException', message: 'Rate exceeded', status: 400 });
    // A refused request is not a failed attempt: with three more failures (four in all), the right password still works.
    for (let i = 0; i < 3; i++) await expect(call('queued', WRONG)).rejects.toMatchObject({ code: 'NotAuthorizedException' });
    await expect(call('queued', password)).resolves.toMatchObject({ status: 200 });
  });
});
