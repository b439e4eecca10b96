import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  AdminGetUserCommand,
  CognitoIdentityProviderClient,
  GetUserCommand,
  InitiateAuthCommand,
  RespondToAuthChallengeCommand,
  UpdateUserAttributesCommand,
  type AuthenticationResultType,
} from '@aws-sdk/client-cognito-identity-provider';
import { decodeJwt, decodeProtectedHeader, generateKeyPair, importJWK, SignJWT, type JWK, type JWTPayload } from 'jose';
import {
  COGNITO_STATE_FILE,
  CognitoService,
  LOCAL_APP_CLIENT_ID,
  writeLocalUsers,
  type LocalUser,
} from './service.ts';
import { localJwtVerifiers } from './verifiers.ts';
import { LOCAL_USERS_FILE, type LocalUsersFile } from '../../../../client/cli/targets.ts';
import { Edge } from '../../edge/edge.ts';
import { PolicyEvaluator } from '../../iam/evaluator.ts';
import { KmsService } from '../kms/service.ts';
import type { Logger } from '../../edge/log.ts';
import { LocalIam, type LocalPrincipalName } from '../../iam/principals.ts';

const iam = new LocalIam();
const evaluator = new PolicyEvaluator();

/** Everything any component logged; checked at the end for secrets. */
const logs: { msg: string; fields?: Record<string, unknown> }[] = [];
const logger: Logger = { log: (_level, msg, fields) => void logs.push({ msg, ...(fields ? { fields } : {}) }) };
/** Passwords, sessions and tokens seen by the tests: none may appear in a log or in the state file's clear text. */
const secrets = new Set<string>();
const keep = <T extends string | undefined>(s: T): T => {
  if (s) secrets.add(s);
  return s;
};

/** The pool's clock runs `offsetMs` ahead of real time (session and token expiry); the edge's is real (SigV4). */
let offsetMs = 0;
const poolClock = () => new Date(Date.now() + offsetMs);

const USERS: LocalUser[] = [
  { username: 'tenant1-user', tenantId: 'tenant1', sub: randomUUID() },
  { username: 'tenant1-user2', tenantId: 'tenant1', sub: randomUUID() },
  { username: 'tenant2-user', tenantId: 'tenant2', sub: randomUUID() },
  { username: 'tenant2-leaver', tenantId: 'tenant2', sub: randomUUID() },
  { username: 'tenant1-keeper', tenantId: 'tenant1', sub: randomUUID() },
];
const user = (name: string) => USERS.find((u) => u.username === name)!;

const STRONG = 'Correct-Horse-42-Battery';

let dataDir: string;
let cognito: CognitoService;
let edge: Edge;
let endpoint: string;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'cognito-test-'));
  cognito = await CognitoService.create({ location: iam.location, evaluator, users: USERS, dataDir, clock: poolClock, logger });
  edge = new Edge({
    iam,
    services: { 'cognito-idp': cognito, kms: new KmsService(iam.location, evaluator, [KmsService.newKey('k1', [])], {}) },
    clock: () => new Date(),
    logger,
  });
  endpoint = await edge.listen(0);
  cognito.setIssuerBase(endpoint);
  for (const p of Object.values(cognito.temporaryPasswords())) keep(p);
});

afterAll(async () => {
  await edge.close();
  await cognito.flush();
  await rm(dataDir, { recursive: true, force: true });
});

beforeEach(() => {
  offsetMs = 0;
});

/** End users have no AWS credentials: the SDK must not ask for any on the public operations. */
const noCredentials = () => Promise.reject(new Error('test: the SDK asked for AWS credentials'));
const publicClient = (url = endpoint) => new CognitoIdentityProviderClient({ endpoint: url, region: 'us-east-1', credentials: noCredentials, maxAttempts: 1 });
const adminClient = (who: LocalPrincipalName) =>
  new CognitoIdentityProviderClient({ endpoint, region: iam.location.region, credentials: iam.credentials(who), maxAttempts: 1 });

async function failure(promise: Promise<unknown>): Promise<{ name: string; message: string; status?: number }> {
  try {
    await promise;
  } catch (err) {
    const e = err as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.name, message: e.message, ...(e.$metadata?.httpStatusCode ? { status: e.$metadata.httpStatusCode } : {}) };
  }
  throw new Error('expected a failure');
}

function passwordAuth(username: string, password: string, client = publicClient()) {
  return client.send(
    new InitiateAuthCommand({ AuthFlow: 'USER_PASSWORD_AUTH', ClientId: LOCAL_APP_CLIENT_ID, AuthParameters: { USERNAME: username, PASSWORD: password } }),
  );
}

function newPassword(session: string, username: string, password: string, extra: Record<string, string> = {}, client = publicClient()) {
  return client.send(
    new RespondToAuthChallengeCommand({
      ChallengeName: 'NEW_PASSWORD_REQUIRED',
      ClientId: LOCAL_APP_CLIENT_ID,
      Session: session,
      ChallengeResponses: { USERNAME: username, NEW_PASSWORD: password, ...extra },
    }),
  );
}

function keepTokens(result: AuthenticationResultType | undefined): Required<Pick<AuthenticationResultType, 'IdToken' | 'AccessToken'>> & AuthenticationResultType {
  expect(result?.IdToken).toBeTruthy();
  expect(result?.AccessToken).toBeTruthy();
  keep(result!.IdToken);
  keep(result!.AccessToken);
  keep(result!.RefreshToken);
  return result as Required<Pick<AuthenticationResultType, 'IdToken' | 'AccessToken'>> & AuthenticationResultType;
}

/** Signs in a user of the pool (completing the first-time challenge if needed); returns the tokens. */
async function signIn(username: string, password = STRONG) {
  const temporary = cognito.temporaryPasswords()[username];
  const first = await passwordAuth(username, temporary ?? password);
  if (first.ChallengeName === 'NEW_PASSWORD_REQUIRED') {
    const done = await newPassword(keep(first.Session!), username, keep(password));
    return keepTokens(done.AuthenticationResult);
  }
  return keepTokens(first.AuthenticationResult);
}

async function signingKey(): Promise<{ kid: string; key: Awaited<ReturnType<typeof importJWK>> }> {
  await cognito.flush();
  const state = JSON.parse(await readFile(path.join(dataDir, COGNITO_STATE_FILE), 'utf8')) as { signingKey: { kid: string; privateJwk: JWK } };
  return { kid: state.signingKey.kid, key: await importJWK({ ...state.signingKey.privateJwk, alg: 'RS256' }, 'RS256') };
}

async function rawCall(target: string, body: unknown, headers: Record<string, string> = {}, url = endpoint) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': target, ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as { __type?: string; message?: string } };
}

describe('first sign-in: NEW_PASSWORD_REQUIRED (unsigned calls, no AWS credentials)', () => {
  it('answers the temporary password with the challenge, a session and no tokens', async () => {
    const name = 'tenant1-user';
    const temporary = cognito.temporaryPasswords()[name];
    expect(temporary).toBeTruthy();
    const mark = logs.length;
    const out = await passwordAuth(name, temporary!);
    keep(out.Session);
    expect(out.ChallengeName).toBe('NEW_PASSWORD_REQUIRED');
    expect(out.Session!.length).toBeGreaterThan(64);
    expect(out.AuthenticationResult).toBeUndefined();
    expect(out.ChallengeParameters).toMatchObject({ USER_ID_FOR_SRP: name, requiredAttributes: '[]' });
    expect(JSON.parse(out.ChallengeParameters!.userAttributes!)).toEqual({ 'custom:tenantId': 'tenant1' });
    // It reached the pool unsigned: the edge served it without a principal.
    expect(logs.slice(mark).find((l) => l.msg === 'edge.request')?.fields).toMatchObject({ service: 'cognito-idp', principal: undefined, status: 200 });
  });

  it('refuses weak new passwords (InvalidPasswordException) and a custom:tenantId, then completes with the same session', async () => {
    const name = 'tenant1-user';
    const out = await passwordAuth(name, cognito.temporaryPasswords()[name]!);
    const session = keep(out.Session!);
    const weak: [string, RegExp][] = [
      ['Short-1a', /not long enough/],
      ['no-upper-case-123', /uppercase/],
      ['NO-LOWER-CASE-123', /lowercase/],
      ['No-Digits-Here-At-All', /numeric/],
      ['NoSymbols1234567', /symbol/],
    ];
    for (const [password, why] of weak) {
      const f = await failure(newPassword(session, name, keep(password)));
      expect(f).toMatchObject({ name: 'InvalidPasswordException', status: 400 });
      expect(f.message).toMatch(/^Password did not conform with policy: /);
      expect(f.message).toMatch(why);
    }
    const tenantWrite = await failure(newPassword(session, name, STRONG, { 'userAttributes.custom:tenantId': 'tenant2' }));
    expect(tenantWrite).toMatchObject({ name: 'NotAuthorizedException', message: 'A client attempted to write unauthorized attribute' });

    const done = await newPassword(session, name, keep(STRONG), { 'userAttributes.name': 'Tenant One User' });
    const tokens = keepTokens(done.AuthenticationResult);
    expect(tokens).toMatchObject({ TokenType: 'Bearer', ExpiresIn: 3600 });
    expect(tokens.RefreshToken).toBeTruthy();
    expect(decodeJwt(tokens.IdToken)).toMatchObject({ 'custom:tenantId': 'tenant1', name: 'Tenant One User' });

    // The user is confirmed: the temporary password is gone, the session was used up, the new password works.
    expect(cognito.temporaryPasswords()[name]).toBeUndefined();
    expect(await failure(newPassword(session, name, 'Another-Strong-Pass-7'))).toMatchObject({ name: 'NotAuthorizedException', message: 'Invalid session for the user.' });
    const again = await passwordAuth(name, STRONG);
    expect(again.ChallengeName).toBeUndefined();
    keepTokens(again.AuthenticationResult);
  });

  it('refuses a forged session, an expired one, and one used for another user', async () => {
    expect(await failure(newPassword('forged-session-value', 'tenant1-user2', STRONG))).toMatchObject({
      name: 'NotAuthorizedException',
      message: 'Invalid session for the user.',
    });
    const out = await passwordAuth('tenant1-user2', cognito.temporaryPasswords()['tenant1-user2']!);
    const session = keep(out.Session!);
    expect(await failure(newPassword(session, 'tenant2-user', STRONG))).toMatchObject({ name: 'NotAuthorizedException', message: 'Invalid session for the user.' });
    offsetMs = 181_000; // past Cognito's 3-minute session validity
    expect(await failure(newPassword(session, 'tenant1-user2', STRONG))).toMatchObject({
      name: 'NotAuthorizedException',
      message: 'Invalid session for the user, session is expired.',
    });
    offsetMs = 0;
    // Expired is gone for good, and the user is still to set a password.
    expect(await failure(newPassword(session, 'tenant1-user2', STRONG))).toMatchObject({ message: 'Invalid session for the user.' });
    expect(cognito.temporaryPasswords()['tenant1-user2']).toBeTruthy();
  });
});

describe('tokens', () => {
  let tokens: Awaited<ReturnType<typeof signIn>>;
  beforeAll(async () => {
    tokens = await signIn('tenant2-user');
  });

  it('the ID token verifies with the local verifier and carries sub, custom:tenantId, cognito:username', async () => {
    const { idToken } = localJwtVerifiers(cognito);
    const claims = await idToken.verify(tokens.IdToken);
    const u = user('tenant2-user');
    expect(claims).toMatchObject({
      sub: u.sub,
      'custom:tenantId': 'tenant2',
      'cognito:username': 'tenant2-user',
      iss: `${endpoint}/${cognito.poolId}`,
      aud: LOCAL_APP_CLIENT_ID,
      token_use: 'id',
      email_verified: false,
    });
    expect(claims.exp! - claims.iat!).toBe(3600);
    expect(typeof claims.jti).toBe('string');
    expect(claims.origin_jti).toBe(decodeJwt(tokens.AccessToken).origin_jti);
    expect(decodeProtectedHeader(tokens.IdToken)).toEqual({ alg: 'RS256', kid: cognito.jwks().keys[0]!.kid });
    expect(cognito.issuer).toBe(`${endpoint}/${cognito.poolId}`);
    expect(cognito.jwksUri).toBe(`${endpoint}/${cognito.poolId}/.well-known/jwks.json`);
  });

  it('the access token has Cognito access claims and verifies only as an access token', async () => {
    const { idToken, accessToken } = cognito.verifiers();
    const claims = await accessToken.verify(tokens.AccessToken);
    expect(claims).toMatchObject({
      sub: user('tenant2-user').sub,
      client_id: LOCAL_APP_CLIENT_ID,
      token_use: 'access',
      scope: 'aws.cognito.signin.user.admin',
      username: 'tenant2-user',
    });
    expect(claims.aud).toBeUndefined();
    await expect(idToken.verify(tokens.AccessToken)).rejects.toThrow();
    await expect(accessToken.verify(tokens.IdToken)).rejects.toThrow();
  });

  it('the verifier refuses a forged signature, another issuer, another audience, a wrong token_use and an expired token', async () => {
    const { idToken } = localJwtVerifiers(cognito);
    const good = decodeJwt(tokens.IdToken);
    const { kid, key } = await signingKey();
    const sign = (claims: JWTPayload, k: Parameters<SignJWT['sign']>[0] = key) => new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid }).sign(k);
    // Control: the pool's own key and the same claims verify.
    await expect(idToken.verify(await sign(good))).resolves.toMatchObject({ sub: good.sub });

    const other = await generateKeyPair('RS256');
    const now = Math.floor(Date.now() / 1000);
    const bad: [string, string][] = [
      ['forged signature', await sign({ ...good, 'custom:tenantId': 'tenant1' }, other.privateKey)],
      ['other issuer', await sign({ ...good, iss: 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other' })],
      ['other audience', await sign({ ...good, aud: 'someotherclient' })],
      ['access token_use', await sign({ ...good, token_use: 'access' })],
      ['expired', await sign({ ...good, iat: now - 7200, exp: now - 3600 })],
    ];
    for (const [why, jwt] of bad) await expect(idToken.verify(jwt), why).rejects.toThrow();
  });

  it('REFRESH_TOKEN_AUTH issues new ID and access tokens for the same sign-in, without a new refresh token', async () => {
    const out = await publicClient().send(
      new InitiateAuthCommand({ AuthFlow: 'REFRESH_TOKEN_AUTH', ClientId: LOCAL_APP_CLIENT_ID, AuthParameters: { REFRESH_TOKEN: tokens.RefreshToken! } }),
    );
    const refreshed = keepTokens(out.AuthenticationResult);
    expect(refreshed.RefreshToken).toBeUndefined();
    const before = decodeJwt(tokens.IdToken);
    const after = await cognito.verifiers().idToken.verify(refreshed.IdToken);
    expect(after).toMatchObject({ sub: before.sub, 'custom:tenantId': 'tenant2', origin_jti: before.origin_jti, auth_time: before.auth_time });
    expect(after.jti).not.toBe(before.jti);
  });

  it('a forged refresh token fails, and so does a real one for another client', async () => {
    const forged = await failure(
      publicClient().send(new InitiateAuthCommand({ AuthFlow: 'REFRESH_TOKEN_AUTH', ClientId: LOCAL_APP_CLIENT_ID, AuthParameters: { REFRESH_TOKEN: 'eyJforged.refresh.token' } })),
    );
    expect(forged).toMatchObject({ name: 'NotAuthorizedException', message: 'Invalid Refresh Token' });
    const otherClient = await failure(
      publicClient().send(new InitiateAuthCommand({ AuthFlow: 'REFRESH_TOKEN_AUTH', ClientId: 'someotherclient', AuthParameters: { REFRESH_TOKEN: tokens.RefreshToken! } })),
    );
    expect(otherClient).toMatchObject({ name: 'ResourceNotFoundException', message: 'User pool client someotherclient does not exist.' });
  });

  it('a refresh token expires after 30 days', async () => {
    offsetMs = 30 * 24 * 3600 * 1000 + 1000;
    const out = await failure(
      publicClient().send(new InitiateAuthCommand({ AuthFlow: 'REFRESH_TOKEN_AUTH', ClientId: LOCAL_APP_CLIENT_ID, AuthParameters: { REFRESH_TOKEN: tokens.RefreshToken! } })),
    );
    expect(out).toMatchObject({ name: 'NotAuthorizedException', message: 'Refresh Token has expired' });
  });
});

describe('sign-in failures', () => {
  it('a wrong password and an unknown user get the same NotAuthorizedException', async () => {
    await signIn('tenant1-keeper');
    const wrong = await failure(passwordAuth('tenant1-keeper', 'Wrong-Password-123'));
    const unknown = await failure(passwordAuth('nobody-here', 'Wrong-Password-123'));
    const wrongTemporary = await failure(passwordAuth('tenant1-user2', 'Wrong-Password-123'));
    for (const f of [wrong, unknown, wrongTemporary]) expect(f).toEqual({ name: 'NotAuthorizedException', message: 'Incorrect username or password.', status: 400 });
  });

  it('user names are case-insensitive, passwords are not', async () => {
    keepTokens((await passwordAuth('TENANT1-KEEPER', STRONG)).AuthenticationResult);
    expect((await failure(passwordAuth('tenant1-keeper', STRONG.toLowerCase()))).name).toBe('NotAuthorizedException');
  });

  it('answers an unknown client, a flow this client does not allow, and missing parameters as Cognito does', async () => {
    const unknownClient = await failure(
      publicClient().send(new InitiateAuthCommand({ AuthFlow: 'USER_PASSWORD_AUTH', ClientId: 'nosuchclient', AuthParameters: { USERNAME: 'tenant1-user', PASSWORD: STRONG } })),
    );
    expect(unknownClient).toMatchObject({ name: 'ResourceNotFoundException', message: 'User pool client nosuchclient does not exist.' });
    const srp = await failure(
      publicClient().send(new InitiateAuthCommand({ AuthFlow: 'USER_SRP_AUTH', ClientId: LOCAL_APP_CLIENT_ID, AuthParameters: { USERNAME: 'tenant1-user', SRP_A: 'abc' } })),
    );
    expect(srp).toMatchObject({ name: 'InvalidParameterException', message: 'USER_SRP_AUTH flow not enabled for this client' });
    const noPassword = await failure(
      publicClient().send(new InitiateAuthCommand({ AuthFlow: 'USER_PASSWORD_AUTH', ClientId: LOCAL_APP_CLIENT_ID, AuthParameters: { USERNAME: 'tenant1-user' } })),
    );
    expect(noPassword).toMatchObject({ name: 'InvalidParameterException', message: 'Missing required parameter PASSWORD' });
  });

  it("words validation failures as AWS's validation layer does, with Cognito's InvalidParameterException", async () => {
    const target = 'AWSCognitoIdentityProviderService.InitiateAuth';
    const invalid = (message: string) => ({ status: 400, body: { __type: 'InvalidParameterException', message: `1 validation error detected: ${message}` } });
    expect(await rawCall(target, { AuthFlow: 'USER_PASSWORD_AUTH', ClientId: '' })).toEqual(
      invalid("Value null at 'clientId' failed to satisfy constraint: Member must not be null"),
    );
    expect(await rawCall(target, { AuthFlow: 'PASSWORDLESS', ClientId: LOCAL_APP_CLIENT_ID })).toEqual(
      invalid(
        "Value 'PASSWORDLESS' at 'authFlow' failed to satisfy constraint: Member must satisfy enum value set: " +
          '[USER_SRP_AUTH, REFRESH_TOKEN_AUTH, REFRESH_TOKEN, CUSTOM_AUTH, ADMIN_NO_SRP_AUTH, USER_PASSWORD_AUTH, ADMIN_USER_PASSWORD_AUTH, USER_AUTH]',
      ),
    );
    // A member of the wrong JSON type does not deserialize: it never reaches validation.
    const wrongType = await rawCall(target, { AuthFlow: 'USER_PASSWORD_AUTH', ClientId: LOCAL_APP_CLIENT_ID, AuthParameters: { USERNAME: 7 } });
    expect(wrongType).toMatchObject({ status: 400, body: { __type: 'SerializationException' } });
  });
});

describe('GetUser and UpdateUserAttributes (with the access token)', () => {
  let tokens: Awaited<ReturnType<typeof signIn>>;
  beforeAll(async () => {
    tokens = await signIn('tenant1-keeper');
  });

  it('GetUser returns the user and their attributes', async () => {
    const out = await publicClient().send(new GetUserCommand({ AccessToken: tokens.AccessToken }));
    expect(out.Username).toBe('tenant1-keeper');
    expect(out.UserAttributes).toEqual(
      expect.arrayContaining([
        { Name: 'sub', Value: user('tenant1-keeper').sub },
        { Name: 'custom:tenantId', Value: 'tenant1' },
      ]),
    );
  });

  it('GetUser refuses an ID token, a token signed by another key and an expired access token', async () => {
    expect(await failure(publicClient().send(new GetUserCommand({ AccessToken: tokens.IdToken })))).toMatchObject({
      name: 'NotAuthorizedException',
      message: 'Invalid Access Token',
    });
    const other = await generateKeyPair('RS256');
    const forged = await new SignJWT(decodeJwt(tokens.AccessToken))
      .setProtectedHeader({ alg: 'RS256', kid: cognito.jwks().keys[0]!.kid })
      .sign(other.privateKey);
    expect(await failure(publicClient().send(new GetUserCommand({ AccessToken: forged })))).toMatchObject({ name: 'NotAuthorizedException', message: 'Invalid Access Token' });
    offsetMs = 3601_000;
    expect(await failure(publicClient().send(new GetUserCommand({ AccessToken: tokens.AccessToken })))).toMatchObject({
      name: 'NotAuthorizedException',
      message: 'Access Token has expired',
    });
  });

  it('UpdateUserAttributes sets a writable attribute, and the next tokens carry it', async () => {
    await publicClient().send(new UpdateUserAttributesCommand({ AccessToken: tokens.AccessToken, UserAttributes: [{ Name: 'given_name', Value: 'Kee' }] }));
    const out = await publicClient().send(new GetUserCommand({ AccessToken: tokens.AccessToken }));
    expect(out.UserAttributes).toContainEqual({ Name: 'given_name', Value: 'Kee' });
    const refreshed = await publicClient().send(
      new InitiateAuthCommand({ AuthFlow: 'REFRESH_TOKEN_AUTH', ClientId: LOCAL_APP_CLIENT_ID, AuthParameters: { REFRESH_TOKEN: tokens.RefreshToken! } }),
    );
    expect(decodeJwt(keepTokens(refreshed.AuthenticationResult).IdToken)).toMatchObject({ given_name: 'Kee', 'custom:tenantId': 'tenant1' });
  });

  it('custom:tenantId (and sub) are not writable by the user: NotAuthorizedException, nothing changes', async () => {
    for (const attrs of [
      [{ Name: 'custom:tenantId', Value: 'tenant2' }],
      [{ Name: 'family_name', Value: 'Changed' }, { Name: 'custom:tenantId', Value: 'tenant2' }],
      [{ Name: 'sub', Value: randomUUID() }],
    ]) {
      const f = await failure(publicClient().send(new UpdateUserAttributesCommand({ AccessToken: tokens.AccessToken, UserAttributes: attrs })));
      expect(f).toMatchObject({ name: 'NotAuthorizedException', message: 'A client attempted to write unauthorized attribute' });
    }
    const out = await publicClient().send(new GetUserCommand({ AccessToken: tokens.AccessToken }));
    expect(out.UserAttributes).toContainEqual({ Name: 'custom:tenantId', Value: 'tenant1' });
    expect(out.UserAttributes).toContainEqual({ Name: 'sub', Value: user('tenant1-keeper').sub });
    expect(out.UserAttributes!.some((a) => a.Name === 'family_name')).toBe(false);
    const admin = await adminClient('validate-context').send(new AdminGetUserCommand({ UserPoolId: cognito.poolId, Username: 'tenant1-keeper' }));
    expect(admin.UserAttributes).toContainEqual({ Name: 'custom:tenantId', Value: 'tenant1' });
  });

  it('an attribute outside the schema is an InvalidParameterException', async () => {
    const f = await failure(publicClient().send(new UpdateUserAttributesCommand({ AccessToken: tokens.AccessToken, UserAttributes: [{ Name: 'favourite_colour', Value: 'blue' }] })));
    expect(f).toMatchObject({ name: 'InvalidParameterException', message: 'user.favourite_colour: Attribute does not exist in the schema.' });
  });
});

describe('AdminGetUser (IAM-signed, cognito-idp:AdminGetUser on the user pool)', () => {
  it('the validate-context role looks a user up by username or by sub', async () => {
    const u = user('tenant2-user');
    expect(cognito.userPoolArn).toBe(iam.resources.userPoolArn);
    for (const Username of [u.username, u.sub]) {
      const out = await adminClient('validate-context').send(new AdminGetUserCommand({ UserPoolId: cognito.poolId, Username }));
      expect(out).toMatchObject({ Username: u.username, Enabled: true, UserStatus: 'CONFIRMED' });
      expect(out.UserAttributes).toEqual(
        expect.arrayContaining([
          { Name: 'sub', Value: u.sub },
          { Name: 'custom:tenantId', Value: 'tenant2' },
        ]),
      );
      expect(out.UserCreateDate).toBeInstanceOf(Date);
    }
    const pending = await adminClient('validate-context').send(new AdminGetUserCommand({ UserPoolId: cognito.poolId, Username: 'tenant2-leaver' }));
    expect(pending.UserStatus).toBe('FORCE_CHANGE_PASSWORD');
  });

  it('the invoke-agent role is denied (AccessDeniedException), as is validate-context on another pool', async () => {
    const denied = await failure(adminClient('invoke-agent').send(new AdminGetUserCommand({ UserPoolId: cognito.poolId, Username: 'tenant2-user' })));
    expect(denied).toMatchObject({ name: 'AccessDeniedException', status: 400 });
    expect(denied.message).toContain(`is not authorized to perform: cognito-idp:AdminGetUser on resource: ${iam.resources.userPoolArn}`);
    const otherPool = await failure(adminClient('validate-context').send(new AdminGetUserCommand({ UserPoolId: 'us-east-1_OtherPool', Username: 'tenant2-user' })));
    expect(otherPool.name).toBe('AccessDeniedException');
  });

  it('an unknown user is UserNotFoundException, and so is a deleted one (whose refresh tokens stop working)', async () => {
    const unknown = await failure(adminClient('validate-context').send(new AdminGetUserCommand({ UserPoolId: cognito.poolId, Username: randomUUID() })));
    expect(unknown).toMatchObject({ name: 'UserNotFoundException', message: 'User does not exist.' });
    const tokens = await signIn('tenant2-leaver');
    await cognito.deleteUser('tenant2-leaver');
    expect((await failure(adminClient('validate-context').send(new AdminGetUserCommand({ UserPoolId: cognito.poolId, Username: user('tenant2-leaver').sub })))).name).toBe(
      'UserNotFoundException',
    );
    const refresh = await failure(
      publicClient().send(new InitiateAuthCommand({ AuthFlow: 'REFRESH_TOKEN_AUTH', ClientId: LOCAL_APP_CLIENT_ID, AuthParameters: { REFRESH_TOKEN: tokens.RefreshToken! } })),
    );
    expect(refresh).toMatchObject({ name: 'NotAuthorizedException', message: 'Invalid Refresh Token' });
  });

  it('an unsigned AdminGetUser is refused with MissingAuthenticationTokenException', async () => {
    const out = await rawCall('AWSCognitoIdentityProviderService.AdminGetUser', { UserPoolId: cognito.poolId, Username: 'tenant2-user' });
    expect(out).toEqual({ status: 400, body: { __type: 'MissingAuthenticationTokenException', message: 'Request is missing Authentication Token' } });
  });
});

describe('the edge', () => {
  it('serves the pool JWKS unsigned: the public key only', async () => {
    const res = await fetch(cognito.jwksUri);
    expect(res.status).toBe(200);
    const jwks = (await res.json()) as { keys: Record<string, unknown>[] };
    expect(jwks.keys).toHaveLength(1);
    expect(Object.keys(jwks.keys[0]!).sort()).toEqual(['alg', 'e', 'kid', 'kty', 'n', 'use']);
    expect(jwks.keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig', kid: cognito.jwks().keys[0]!.kid });
    expect((await fetch(`${endpoint}/us-east-1_OtherPool/.well-known/jwks.json`)).status).toBe(404);
  });

  it('control: other services still refuse unsigned requests', async () => {
    const kms = await rawCall('TrentService.Encrypt', { KeyId: 'k1', Plaintext: 'aGk=' });
    expect(kms).toEqual({ status: 400, body: { __type: 'MissingAuthenticationTokenException', message: 'Request is missing Authentication Token' } });
    // A Cognito target whose call carries an Authorization header is not anonymous: it must be a valid signature.
    const badAuth = await rawCall('AWSCognitoIdentityProviderService.InitiateAuth', {}, { authorization: 'Bearer whatever' });
    expect(badAuth.body.__type).toBe('IncompleteSignatureException');
    // Without a cognito-idp service, an unsigned Cognito call is refused like any other.
    const bare = new Edge({ iam, services: { kms: new KmsService(iam.location, evaluator, [], {}) }, clock: () => new Date(), logger });
    const url = await bare.listen(0);
    try {
      const out = await rawCall('AWSCognitoIdentityProviderService.InitiateAuth', { AuthFlow: 'USER_PASSWORD_AUTH', ClientId: LOCAL_APP_CLIENT_ID }, {}, url);
      expect(out.body.__type).toBe('MissingAuthenticationTokenException');
      expect((await fetch(`${url}/${cognito.poolId}/.well-known/jwks.json`)).status).toBe(403);
    } finally {
      await bare.close();
    }
  });
});

describe('persistence', () => {
  it('keeps the state in cognito.json (0600): hashes, never the passwords or tokens', async () => {
    await cognito.flush();
    const file = path.join(dataDir, COGNITO_STATE_FILE);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const raw = await readFile(file, 'utf8');
    expect(raw).toContain('scrypt$');
    for (const s of secrets) expect(raw.includes(s), 'a secret in cognito.json').toBe(false);
  });

  it('writes local-users.json (0600) with the temporary passwords of the users yet to set one', async () => {
    const file = await writeLocalUsers(dataDir, cognito);
    expect(path.basename(file)).toBe(LOCAL_USERS_FILE);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const doc = JSON.parse(await readFile(file, 'utf8')) as LocalUsersFile;
    expect(doc).toMatchObject({ region: 'us-east-1', userPoolId: cognito.poolId, clientId: LOCAL_APP_CLIENT_ID, issuer: cognito.issuer });
    const byName = Object.fromEntries(doc.users.map((u) => [u.username, u]));
    expect(byName['tenant1-user2']).toMatchObject({ status: 'FORCE_CHANGE_PASSWORD', temporaryPassword: cognito.temporaryPasswords()['tenant1-user2'], sub: user('tenant1-user2').sub });
    expect(byName['tenant1-user']).toEqual({ username: 'tenant1-user', tenantId: 'tenant1', sub: user('tenant1-user').sub, status: 'CONFIRMED' });
    expect(byName['tenant2-leaver']).toBeUndefined();
  });

  it('a new instance on the same data dir keeps keys, users, passwords and refresh tokens', async () => {
    const before = await signIn('tenant1-user');
    const oldIssuer = cognito.issuer;
    const oldTemporary = cognito.temporaryPasswords()['tenant1-user2']!;
    await cognito.flush();

    const users = USERS.filter((u) => u.username !== 'tenant2-leaver');
    const reborn = await CognitoService.create({ location: iam.location, evaluator, users, dataDir, clock: poolClock, logger });
    const edge2 = new Edge({ iam, services: { 'cognito-idp': reborn }, clock: () => new Date(), logger });
    const url2 = await edge2.listen(0);
    reborn.setIssuerBase(url2);
    try {
      expect([reborn.poolId, reborn.clientId]).toEqual([cognito.poolId, cognito.clientId]);
      expect(reborn.jwks()).toEqual(cognito.jwks());
      // Tokens signed before still verify: same key, served by the new edge (the stack's port, hence issuer, is stable).
      const verifier = localJwtVerifiers({ issuer: oldIssuer, clientId: reborn.clientId, jwksUri: reborn.jwksUri });
      await expect(verifier.idToken.verify(before.IdToken)).resolves.toMatchObject({ sub: user('tenant1-user').sub, 'custom:tenantId': 'tenant1' });

      // The user who set a password keeps it (no challenge), and is not given a temporary one.
      expect(reborn.temporaryPasswords()['tenant1-user']).toBeUndefined();
      const direct = await passwordAuth('tenant1-user', STRONG, publicClient(url2));
      expect(direct.ChallengeName).toBeUndefined();
      const fresh = keepTokens(direct.AuthenticationResult);
      expect(await reborn.verifiers().idToken.verify(fresh.IdToken)).toMatchObject({ sub: user('tenant1-user').sub, iss: `${url2}/${reborn.poolId}` });

      // A user still to set one gets a new temporary password; the old one is void.
      const newTemporary = keep(reborn.temporaryPasswords()['tenant1-user2']);
      expect(newTemporary).toBeTruthy();
      expect(newTemporary).not.toBe(oldTemporary);
      expect((await failure(passwordAuth('tenant1-user2', oldTemporary, publicClient(url2)))).name).toBe('NotAuthorizedException');
      expect((await passwordAuth('tenant1-user2', newTemporary!, publicClient(url2))).ChallengeName).toBe('NEW_PASSWORD_REQUIRED');

      // A refresh token from before the restart still works.
      const refreshed = await publicClient(url2).send(
        new InitiateAuthCommand({ AuthFlow: 'REFRESH_TOKEN_AUTH', ClientId: LOCAL_APP_CLIENT_ID, AuthParameters: { REFRESH_TOKEN: before.RefreshToken! } }),
      );
      expect(decodeJwt(keepTokens(refreshed.AuthenticationResult).IdToken)).toMatchObject({ sub: user('tenant1-user').sub, origin_jti: decodeJwt(before.IdToken).origin_jti });
    } finally {
      await edge2.close();
      await reborn.flush();
    }
  });

  it('without a data dir, the pool lives in memory and has its own key', async () => {
    const memory = await CognitoService.create({ location: iam.location, evaluator, users: USERS.slice(0, 1), clock: poolClock });
    expect(memory.jwks().keys[0]!.kid).not.toBe(cognito.jwks().keys[0]!.kid);
    expect(Object.keys(memory.temporaryPasswords())).toEqual(['tenant1-user']);
  });
});

describe('logs', () => {
  it('never contain a password, a session or a token', () => {
    expect(secrets.size).toBeGreaterThan(20);
    expect(logs.some((l) => l.msg === 'cognito.signed_in')).toBe(true);
    const text = JSON.stringify(logs);
    for (const s of secrets) expect(text.includes(s), 'a secret in the logs').toBe(false);
  });
});
