/**
 * The policy evaluator's memo: a decision is reused only for requests that the policies cannot tell
 * apart. Context keys no policy reads (a KMS encryption context's answerId) do not split the cache;
 * keys a policy reads, as a condition key or as a policy variable, always do.
 */
import { describe, expect, it } from 'vitest';
import { SESSION_TAG_KEYS, sealKeyPolicy, tenantIsolationPolicy } from '../../../tasks/policies.ts';
import { tableArn } from '../../../tasks/tables.ts';
import { PolicyEvaluator, type AuthorizationRequest } from './evaluator.ts';
import { LocalIam, SEAL_KEY_ID, TENANT_ACCESS_ROLE, type Principal } from './principals.ts';
import { modelResourceArn } from '../../../tasks/models.ts';

const iam = new LocalIam();
const now = new Date();
const principalOf = (who: 'mint-credentials' | 'invoke-agent') => iam.resolve(iam.credentials(who).accessKeyId, undefined, now).principal;
const keyArn = `arn:aws:kms:us-east-1:000000000000:key/${SEAL_KEY_ID}`;

function encrypt(principal: Principal, context: Record<string, string>): AuthorizationRequest {
  const ctx: Record<string, string | string[]> = { 'kms:EncryptionContextKeys': Object.keys(context) };
  for (const [k, v] of Object.entries(context)) ctx[`kms:EncryptionContext:${k}`] = v;
  return { principal, action: 'kms:Encrypt', resource: keyArn, context: ctx, resourcePolicy: sealKeyPolicy(iam.resources) };
}

/** A tenant access role session, as STS creates it for (tenant, user). */
function tenantSession(tenantId: string, userId: string): Principal {
  const role = iam.roles.get(TENANT_ACCESS_ROLE)!;
  return {
    arn: `arn:aws:sts::000000000000:assumed-role/${role.name}/t-${tenantId}.${userId}`,
    ownerArn: role.arn,
    userId: `${role.roleId}:t-${tenantId}.${userId}`,
    identityPolicies: role.identityPolicies,
    sessionPolicy: tenantIsolationPolicy({ location: iam.location, tables: iam.tables }, tenantId, userId),
    tags: { [SESSION_TAG_KEYS.tenantId]: tenantId, [SESSION_TAG_KEYS.userId]: userId },
  };
}

const getConfigRow = (principal: Principal, leadingKey: string): AuthorizationRequest => ({
  principal,
  action: 'dynamodb:GetItem',
  resource: tableArn(iam.location, iam.tables.config),
  context: { 'dynamodb:LeadingKeys': [leadingKey] },
});

describe('policy decision cache', () => {
  it('reuses a decision across values of a context key that no policy reads', async () => {
    const evaluator = new PolicyEvaluator();
    const mint = principalOf('mint-credentials');
    const first = await evaluator.evaluate(encrypt(mint, { tenantId: 'tenant1', userId: 'u1', answerId: 'u1.a' }));
    const second = await evaluator.evaluate(encrypt(mint, { tenantId: 'tenant1', userId: 'u1', answerId: 'u1.b' }));
    expect(first).toEqual({ allowed: true });
    expect(second).toEqual({ allowed: true });
    expect(evaluator.stats).toEqual({ evaluations: 1, cacheHits: 1 });
  });

  it('keeps decisions apart when a key the policies read differs (the set of encryption context keys)', async () => {
    const evaluator = new PolicyEvaluator();
    const mint = principalOf('mint-credentials');
    expect(await evaluator.evaluate(encrypt(mint, { tenantId: 'tenant1', userId: 'u1', answerId: 'u1.a' }))).toEqual({ allowed: true });
    const extra = await evaluator.evaluate(encrypt(mint, { tenantId: 'tenant1', userId: 'u1', answerId: 'u1.a', other: 'x' }));
    expect(extra.allowed).toBe(false);
    expect(evaluator.stats.evaluations).toBe(2);
  });

  it('keeps decisions apart when a condition key value differs (dynamodb:LeadingKeys)', async () => {
    const evaluator = new PolicyEvaluator();
    const session = tenantSession('tenant1', 'u1');
    expect(await evaluator.evaluate(getConfigRow(session, 'tenant1'))).toEqual({ allowed: true });
    expect((await evaluator.evaluate(getConfigRow(session, 'tenant2'))).allowed).toBe(false);
    expect(await evaluator.evaluate(getConfigRow(session, 'tenant1'))).toEqual({ allowed: true });
    expect(evaluator.stats).toEqual({ evaluations: 2, cacheHits: 1 });
  });

  it('keeps decisions apart when a value read through a policy variable differs (aws:PrincipalTag)', async () => {
    const evaluator = new PolicyEvaluator();
    const session = tenantSession('tenant1', 'u1');
    // The role policy reads ${aws:PrincipalTag/TenantId}: the same session with another tag value
    // (and nothing else changed) must be evaluated, and denied by the role policy.
    const retagged: Principal = { ...session, tags: { ...session.tags, [SESSION_TAG_KEYS.tenantId]: 'tenant2' } };
    expect(await evaluator.evaluate(getConfigRow(session, 'tenant1'))).toEqual({ allowed: true });
    const denied = await evaluator.evaluate(getConfigRow(retagged, 'tenant1'));
    expect(denied).toMatchObject({ allowed: false, deniedBy: 'identity-based policy' });
    expect(evaluator.stats.evaluations).toBe(2);
  });
});

describe('the invoke-agent role, as the local IAM enforces it per agent runtime', () => {
  const ask = (runtime: 'bedrock-agent' | 'converse') => {
    const local = new LocalIam({ agentRuntime: runtime });
    const principal = local.resolve(local.credentials('invoke-agent').accessKeyId, undefined, now).principal;
    const evaluator = new PolicyEvaluator();
    const decide = (action: string, resource: string) => evaluator.evaluate({ principal, action, resource, context: {} }).then((d) => d.allowed);
    return { invokeAgent: decide('bedrock:InvokeAgent', local.resources.agentAliasArn), converse: decide('bedrock:InvokeModel', modelResourceArn(local.resources.modelId, local.location)) };
  };

  it('bedrock-agent: InvokeAgent on the alias is allowed, InvokeModel denied', async () => {
    const { invokeAgent, converse } = ask('bedrock-agent');
    expect(await invokeAgent).toBe(true);
    expect(await converse).toBe(false);
  });

  it('converse: InvokeModel on the model is allowed, InvokeAgent denied', async () => {
    const { invokeAgent, converse } = ask('converse');
    expect(await invokeAgent).toBe(false);
    expect(await converse).toBe(true);
  });
});

describe('the seal key policy, as the local IAM enforces it: the account administers the key, never uses it', () => {
  // An administrator of the account: an IAM role whose identity policy allows every KMS action.
  const administrator: Principal = {
    arn: 'arn:aws:sts::000000000000:assumed-role/Admin/someone',
    ownerArn: 'arn:aws:iam::000000000000:role/Admin',
    userId: 'AROAADMINISTRATOR:someone',
    identityPolicies: [{ name: 'admin', policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'kms:*', Resource: '*' }] } }],
    tags: {},
  };
  const onKey = (principal: Principal, action: string) =>
    new PolicyEvaluator().evaluate({ principal, action, resource: keyArn, context: {}, resourcePolicy: sealKeyPolicy(iam.resources) }).then((d) => d.allowed);

  it('an account administrator may update the key (description, rotation, tags): the actions a stack update calls', async () => {
    for (const action of ['kms:UpdateKeyDescription', 'kms:DisableKeyRotation', 'kms:EnableKeyRotation', 'kms:ListResourceTags', 'kms:TagResource', 'kms:PutKeyPolicy']) {
      expect(await onKey(administrator, action), action).toBe(true);
    }
  });

  it('the same administrator may not Encrypt or Decrypt (control: mint-credentials may Encrypt with the seal context)', async () => {
    expect(await onKey(administrator, 'kms:Decrypt')).toBe(false);
    expect(await onKey(administrator, 'kms:Encrypt')).toBe(false);
    const sealed = await new PolicyEvaluator().evaluate(encrypt(principalOf('mint-credentials'), { tenantId: 'tenant1', userId: 'u1', answerId: 'u1.a' }));
    expect(sealed).toEqual({ allowed: true });
  });

  it('a role without an identity policy for KMS may not administer it: the key policy delegates to IAM', async () => {
    expect(await onKey({ ...administrator, identityPolicies: [] }, 'kms:UpdateKeyDescription')).toBe(false);
  });
});
