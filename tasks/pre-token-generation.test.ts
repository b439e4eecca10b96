import { describe, expect, it } from 'vitest';
import { handler, preTokenGeneration, TENANT_CLAIM } from './pre-token-generation.ts';

/** A V2_0 event as Cognito sends it on a password sign-in. */
function event(userAttributes: Record<string, string>, extra: Record<string, unknown> = {}) {
  return {
    version: '2',
    triggerSource: 'TokenGeneration_Authentication',
    region: 'us-east-1',
    userPoolId: 'us-east-1_example',
    userName: 'tenant1-user',
    callerContext: { awsSdkVersion: 'aws-sdk-unknown-unknown', clientId: 'localassistantwebclient001' },
    request: {
      userAttributes: { sub: 'sub-1', 'cognito:user_status': 'CONFIRMED', ...userAttributes },
      groupConfiguration: { groupsToOverride: [], iamRolesToOverride: [], preferredRole: null },
      scopes: ['aws.cognito.signin.user.admin'],
      ...extra,
    },
    response: { claimsAndScopeOverrideDetails: null },
  };
}

describe('pre token generation (V2_0)', () => {
  it('adds the tenant from the custom:tenantId attribute to the access token, and leaves the ID token to Cognito', () => {
    const out = preTokenGeneration(event({ [TENANT_CLAIM]: 'tenant1' }));
    expect(out.response.claimsAndScopeOverrideDetails).toEqual({ accessTokenGeneration: { claimsToAddOrOverride: { 'custom:tenantId': 'tenant1' } } });
    // The rest of the event passes through, as Cognito expects it back.
    expect(out).toMatchObject({ version: '2', userName: 'tenant1-user', callerContext: { clientId: 'localassistantwebclient001' } });
  });

  it('ignores clientMetadata: a client naming another tenant there gets its own tenant only', () => {
    const out = preTokenGeneration(event({ [TENANT_CLAIM]: 'tenant1' }, { clientMetadata: { 'custom:tenantId': 'tenant2', tenantId: 'tenant2' } }));
    expect(out.response.claimsAndScopeOverrideDetails?.accessTokenGeneration?.claimsToAddOrOverride).toEqual({ 'custom:tenantId': 'tenant1' });
  });

  it('gives a user without the attribute no claim, whatever the client sends', () => {
    expect(preTokenGeneration(event({})).response.claimsAndScopeOverrideDetails).toBeNull();
    expect(preTokenGeneration(event({}, { clientMetadata: { 'custom:tenantId': 'tenant2' } })).response.claimsAndScopeOverrideDetails).toBeNull();
    expect(preTokenGeneration(event({ [TENANT_CLAIM]: '' })).response.claimsAndScopeOverrideDetails).toBeNull();
  });

  it('refuses an event that is not V2_0 (a V1_0 event, or no user attributes)', () => {
    expect(() => preTokenGeneration({ ...event({ [TENANT_CLAIM]: 'tenant1' }), version: '1' })).toThrow();
    expect(() => preTokenGeneration({ ...event({}), request: {} })).toThrow();
    expect(() => preTokenGeneration({ ...event({}), triggerSource: 'PreSignUp_SignUp' })).toThrow();
  });

  it('the Lambda entry answers the same', async () => {
    expect(await handler(event({ [TENANT_CLAIM]: 'tenant3' }))).toEqual(preTokenGeneration(event({ [TENANT_CLAIM]: 'tenant3' })));
  });
});
