/**
 * The local pool runs its pre token generation trigger (V2_0) as Cognito does: on every flow that
 * issues tokens, with that flow's triggerSource, and applies the answer by Cognito's rules. The
 * pools here run the project's trigger (tasks/pre-token-generation.ts), or a recording, hostile or
 * failing one to show each rule.
 */
import { randomUUID } from 'node:crypto';
import { CognitoIdentityProviderClient, InitiateAuthCommand, RespondToAuthChallengeCommand } from '@aws-sdk/client-cognito-identity-provider';
import { decodeJwt } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { handler as projectTrigger } from '../../../../tasks/pre-token-generation.ts';
import { Edge } from '../../edge/edge.ts';
import { silentLogger } from '../../edge/log.ts';
import { PolicyEvaluator } from '../../iam/evaluator.ts';
import { LocalIam } from '../../iam/principals.ts';
import { customizeClaims, type PreTokenGenerationTrigger } from './pre-token-generation.ts';
import { CognitoService, LOCAL_APP_CLIENT_ID } from './service.ts';

const iam = new LocalIam();
const evaluator = new PolicyEvaluator();
const NEW_PASSWORD = 'Correct-Horse-Battery-9!';
const opened: { edge: Edge; cognito: CognitoService; client: CognitoIdentityProviderClient }[] = [];

afterAll(async () => {
  for (const o of opened) {
    o.client.destroy();
    await o.edge.close();
    await o.cognito.flush();
  }
});

/** A pool with one tenant1 user whose trigger is `trigger`, behind its own edge. */
async function openPool(trigger: PreTokenGenerationTrigger | undefined) {
  const users = [{ username: 'tenant1-user', tenantId: 'tenant1', sub: randomUUID() }];
  const cognito = await CognitoService.create({ location: iam.location, evaluator, users, ...(trigger ? { preTokenGeneration: trigger } : {}) });
  const edge = new Edge({ iam, services: { 'cognito-idp': cognito }, clock: () => new Date(), logger: silentLogger });
  const endpoint = await edge.listen(0);
  cognito.setIssuerBase(endpoint);
  const client = new CognitoIdentityProviderClient({ region: iam.location.region, endpoint, maxAttempts: 1 });
  opened.push({ edge, cognito, client });
  const temporary = cognito.temporaryPasswords()['tenant1-user']!;
  const initiate = (password: string) =>
    client.send(new InitiateAuthCommand({ AuthFlow: 'USER_PASSWORD_AUTH', ClientId: LOCAL_APP_CLIENT_ID, AuthParameters: { USERNAME: 'tenant1-user', PASSWORD: password } }));
  /** The first sign-in: the challenge answered with `clientMetadata`. */
  const firstSignIn = async (clientMetadata?: Record<string, string>) => {
    const challenge = await initiate(temporary);
    const out = await client.send(
      new RespondToAuthChallengeCommand({
        ClientId: LOCAL_APP_CLIENT_ID,
        ChallengeName: 'NEW_PASSWORD_REQUIRED',
        Session: challenge.Session,
        ChallengeResponses: { USERNAME: 'tenant1-user', NEW_PASSWORD },
        ...(clientMetadata ? { ClientMetadata: clientMetadata } : {}),
      }),
    );
    return out.AuthenticationResult!;
  };
  const refresh = async (refreshToken: string) =>
    (await client.send(new InitiateAuthCommand({ AuthFlow: 'REFRESH_TOKEN_AUTH', ClientId: LOCAL_APP_CLIENT_ID, AuthParameters: { REFRESH_TOKEN: refreshToken } }))).AuthenticationResult!;
  return { cognito, firstSignIn, signIn: async () => (await initiate(NEW_PASSWORD)).AuthenticationResult!, refresh };
}

/** A trigger that records each event and answers with the project's trigger. */
function recording() {
  const events: Record<string, unknown>[] = [];
  const trigger: PreTokenGenerationTrigger = (event) => {
    events.push(event as Record<string, unknown>);
    return projectTrigger(event);
  };
  return { events, trigger };
}

describe('the local pool runs the pre token generation trigger (V2_0) on every flow', () => {
  it('with the flow\'s triggerSource, the user\'s attributes, and ClientMetadata only from RespondToAuthChallenge', async () => {
    const { events, trigger } = recording();
    const pool = await openPool(trigger);
    const first = await pool.firstSignIn({ purpose: 'test' });
    const again = await pool.signIn();
    await pool.refresh(first.RefreshToken!);
    expect(events.map((e) => e.triggerSource)).toEqual(['TokenGeneration_NewPasswordChallenge', 'TokenGeneration_Authentication', 'TokenGeneration_RefreshTokens']);
    expect(events[0]).toMatchObject({
      version: '2',
      userName: 'tenant1-user',
      callerContext: { clientId: LOCAL_APP_CLIENT_ID },
      request: { userAttributes: { 'custom:tenantId': 'tenant1', 'cognito:user_status': 'CONFIRMED' }, clientMetadata: { purpose: 'test' } },
      response: { claimsAndScopeOverrideDetails: null },
    });
    expect((events[1]!.request as Record<string, unknown>).clientMetadata).toBeUndefined();
    // Each flow's access token carries the tenant; the ID token has it as before.
    for (const result of [first, again, await pool.refresh(first.RefreshToken!)]) {
      expect(decodeJwt(result.AccessToken!)).toMatchObject({ 'custom:tenantId': 'tenant1', token_use: 'access', client_id: LOCAL_APP_CLIENT_ID });
      expect(decodeJwt(result.IdToken!)).toMatchObject({ 'custom:tenantId': 'tenant1', token_use: 'id' });
    }
  });

  it('ClientMetadata naming another tenant changes nothing: the tenant comes from the attribute', async () => {
    const pool = await openPool(projectTrigger);
    const result = await pool.firstSignIn({ 'custom:tenantId': 'tenant2', tenantId: 'tenant2' });
    expect(decodeJwt(result.AccessToken!)['custom:tenantId']).toBe('tenant1');
    expect(decodeJwt(result.IdToken!)['custom:tenantId']).toBe('tenant1');
  });

  it('control: a pool without the trigger issues access tokens without the tenant claim', async () => {
    const pool = await openPool(undefined);
    const result = await pool.firstSignIn();
    expect(decodeJwt(result.AccessToken!)['custom:tenantId']).toBeUndefined();
    expect(decodeJwt(result.IdToken!)['custom:tenantId']).toBe('tenant1');
  });

  it('a trigger that fails fails the sign-in with UserLambdaValidationException, and issues no refresh token', async () => {
    let fail = false;
    const pool = await openPool((event) => (fail ? Promise.reject(new Error('boom')) : projectTrigger(event)));
    const first = await pool.firstSignIn();
    fail = true;
    await expect(pool.signIn()).rejects.toMatchObject({ name: 'UserLambdaValidationException', message: 'PreTokenGeneration failed with error boom.' });
    await expect(pool.refresh(first.RefreshToken!)).rejects.toMatchObject({ name: 'UserLambdaValidationException' });
    fail = false;
    // Control: the same pool signs in again once the trigger works.
    expect(decodeJwt((await pool.signIn()).AccessToken!)['custom:tenantId']).toBe('tenant1');
  });

  it('a trigger that answers something that is not a V2_0 response fails the sign-in too', async () => {
    const pool = await openPool((event) => Promise.resolve({ ...(event as object), response: { claimsAndScopeOverrideDetails: { accessTokenGeneration: { claimsToSuppress: 'all' } } } }));
    await expect(pool.firstSignIn()).rejects.toMatchObject({ name: 'UserLambdaValidationException', message: 'PreTokenGeneration failed with error Invalid lambda response.' });
  });
});

describe("applying the trigger's answer (Cognito's rules)", () => {
  const request = { triggerSource: 'TokenGeneration_Authentication', region: 'us-east-1', userPoolId: 'p', clientId: 'c', userName: 'u', userAttributes: {} } as const;
  const claims = {
    id: { sub: 's', aud: 'c', token_use: 'id', 'cognito:username': 'u', email_verified: false, name: 'N' },
    access: { sub: 's', client_id: 'c', token_use: 'access', scope: 'aws.cognito.signin.user.admin', username: 'u' },
  };
  const answering = (details: unknown): PreTokenGenerationTrigger => (event) => Promise.resolve({ ...(event as object), response: { claimsAndScopeOverrideDetails: details } });

  it('adds and overrides claims in each token, and suppresses them; a claim both suppressed and added is suppressed', async () => {
    const out = await customizeClaims(
      answering({
        idTokenGeneration: { claimsToAddOrOverride: { name: 'M', plan: 'gold' }, claimsToSuppress: ['email_verified'] },
        accessTokenGeneration: { claimsToAddOrOverride: { 'custom:tenantId': 't1', both: 'x' }, claimsToSuppress: ['both'] },
      }),
      request,
      claims,
    );
    expect(out.id).toEqual({ sub: 's', aud: 'c', token_use: 'id', 'cognito:username': 'u', name: 'M', plan: 'gold' });
    expect(out.access).toEqual({ ...claims.access, 'custom:tenantId': 't1' });
  });

  it('keeps the claims the trigger may not change (sub, aud, token_use, client_id, username, scope …), whatever it answers', async () => {
    const out = await customizeClaims(
      answering({
        idTokenGeneration: { claimsToAddOrOverride: { sub: 'other', aud: 'other', token_use: 'access', 'cognito:username': 'admin', iss: 'x', exp: 1 }, claimsToSuppress: ['sub', 'token_use'] },
        accessTokenGeneration: { claimsToAddOrOverride: { sub: 'other', client_id: 'other', username: 'admin', scope: 'admin', token_use: 'id' }, claimsToSuppress: ['client_id', 'sub'] },
      }),
      request,
      claims,
    );
    expect(out).toEqual(claims);
  });

  it('refuses a complex value for email_verified in the ID token (kept), and accepts one elsewhere', async () => {
    const out = await customizeClaims(answering({ idTokenGeneration: { claimsToAddOrOverride: { email_verified: { a: 1 }, roles: ['a', 'b'] } } }), request, claims);
    expect(out.id).toEqual({ ...claims.id, roles: ['a', 'b'] });
  });

  it('control: no details leaves the tokens as Cognito made them', async () => {
    expect(await customizeClaims(answering(null), request, claims)).toEqual(claims);
  });
});
