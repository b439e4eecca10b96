import { describe, expect, it } from 'vitest';
import { executionArnPattern, KEY_ADMINISTRATION_ACTIONS, RESOURCELESS_PREFLIGHT_ACTIONS, modelInvokeStatement, operatorPolicy, PUBLISH_ROLE_ASSUMERS, publishRoleTrustPolicy, sealKeyPolicy, taskRolePolicies, tenantAccessRolePolicy, tenantAccessRoleTrustPolicy, tenantIsolationPolicy, type PolicyDocument, type PolicyResources } from './policies.ts';
import { modelInvokeArns } from './models.ts';
import { TASK_NAMES } from './task-names.ts';
import { TableNames } from './tables.ts';
import { OPERATOR_SECRET_ACTIONS, OPERATOR_TENANT_TABLE_ACTIONS, OPERATOR_USER_ACTIONS } from './operator-admin-policy.ts';

const res: PolicyResources = {
  location: { partition: 'aws', region: 'eu-west-1', accountId: '111122223333' },
  tables: new TableNames('prod-'),
  tenantAccessRoleArn: 'arn:aws:iam::111122223333:role/tenant-access',
  mintCredentialsRoleArn: 'arn:aws:iam::111122223333:role/mint',
  invokeAgentRoleArn: 'arn:aws:iam::111122223333:role/invoke',
  validateContextRoleArn: 'arn:aws:iam::111122223333:role/validate',
  publishRoleArn: 'arn:aws:iam::111122223333:role/publish',
  accountRootArn: 'arn:aws:iam::111122223333:root',
  sealKeyArn: 'arn:aws:kms:eu-west-1:111122223333:key/k',
  graphqlApiArn: 'arn:aws:appsync:eu-west-1:111122223333:apis/api1',
  agentRuntime: 'bedrock-agent',
  agentAliasArn: 'arn:aws:bedrock:eu-west-1:111122223333:agent-alias/AGENT/ALIAS',
  modelId: 'anthropic.claude-x',
  stateMachineArn: 'arn:aws:states:eu-west-1:111122223333:stateMachine:assistant',
  userPoolArn: 'arn:aws:cognito-idp:eu-west-1:111122223333:userpool/eu-west-1_AbCdEf123',
  userSecretNamePrefix: 'Prod/seed-users/',
};

const allDocuments = (): [string, PolicyDocument][] => [
  ['isolation', tenantIsolationPolicy(res, 'tenant1', 'user-1')],
  ['tenant-access', tenantAccessRolePolicy(res)],
  ['trust', tenantAccessRoleTrustPolicy(res)],
  ['publish-trust', publishRoleTrustPolicy(res)],
  ['operator', operatorPolicy(res)],
  ...Object.entries(taskRolePolicies(res)),
];

describe('policy documents', () => {
  it('use no wildcard actions and no wildcard or prefix resources', () => {
    for (const [name, policy] of allDocuments()) {
      for (const st of policy.Statement) {
        for (const action of [st.Action].flat()) expect(action, `${name}: ${action}`).not.toMatch(/\*/);
        // The wildcards: the executions of our own state machine, whose ids are minted per run (the
        // `:` after the name keeps `assistant` from matching `assistant2`); the bootstrap version of
        // any qualifier, for the preflight; `*` for the preflight's reads IAM allows on `*` only; and
        // the operator's one table-name pattern (tenants' orders tables, created at runtime) with
        // their backups, and its users' secrets under the stack's `<stack>/seed-users/` path.
        if ([st.Action].flat().every((a) => (RESOURCELESS_PREFLIGHT_ACTIONS as readonly string[]).includes(a))) {
          expect(st.Resource, name).toBe('*');
          continue;
        }
        // And, for the operator only, every tenant's orders table, present or future (`<prefix>*-orders`), its backups, the users' secrets.
        const allowed = [
          executionArnPattern(res.stateMachineArn),
          `arn:aws:ssm:eu-west-1:111122223333:parameter/cdk-bootstrap/*/version`,
          ...(name === 'operator'
            ? [
                'arn:aws:dynamodb:eu-west-1:111122223333:table/prod-*-orders',
                'arn:aws:dynamodb:eu-west-1:111122223333:table/prod-*-orders/backup/*',
                'arn:aws:secretsmanager:eu-west-1:111122223333:secret:Prod/seed-users/*',
              ]
            : []),
        ];
        for (const resource of [st.Resource ?? []].flat().filter((r) => !allowed.includes(r))) {
          expect(resource, `${name}: ${resource}`).not.toMatch(/\*/);
        }
      }
    }
  });

  it('let the operator administer users on the pool, tenants\' orders tables by pattern and its users\' secrets; no task role any of it', () => {
    const operator = operatorPolicy(res).Statement;
    const resourcesOf = (action: string) => operator.filter((s) => [s.Action].flat().includes(action)).flatMap((s) => [s.Resource ?? []].flat());
    for (const a of OPERATOR_USER_ACTIONS) expect(resourcesOf(a), a).toEqual([res.userPoolArn]);
    for (const a of OPERATOR_TENANT_TABLE_ACTIONS.filter((x) => x !== 'dynamodb:CreateTable' && x !== 'dynamodb:DescribeTable')) {
      expect(resourcesOf(a), a).toEqual(['arn:aws:dynamodb:eu-west-1:111122223333:table/prod-*-orders']);
    }
    expect(resourcesOf('dynamodb:DescribeBackup')).toEqual(['arn:aws:dynamodb:eu-west-1:111122223333:table/prod-*-orders/backup/*']);
    for (const a of OPERATOR_SECRET_ACTIONS) expect(resourcesOf(a), a).toEqual(['arn:aws:secretsmanager:eu-west-1:111122223333:secret:Prod/seed-users/*']);
    // Without a secret prefix, no secrets statement.
    const { userSecretNamePrefix: _none, ...noPrefix } = res;
    expect(operatorPolicy(noPrefix).Statement.some((s) => [s.Action].flat().some((a) => a.startsWith('secretsmanager:')))).toBe(false);
    // The task roles: validate-context keeps AdminGetUser only; none may create tables, manage users or read secrets.
    for (const [task, policy] of Object.entries(taskRolePolicies(res))) {
      const actions = policy.Statement.flatMap((s) => [s.Action].flat());
      const admin = [...OPERATOR_USER_ACTIONS, ...OPERATOR_TENANT_TABLE_ACTIONS, 'dynamodb:DescribeBackup', ...OPERATOR_SECRET_ACTIONS].filter((a) => actions.includes(a));
      expect(admin, task).toEqual(task === 'validate-context' ? ['cognito-idp:AdminGetUser'] : []);
    }
  });

  it('give the key policy `*` only as "this key", and admit exactly the seal and unseal roles to use it', () => {
    const policy = sealKeyPolicy(res);
    const users = policy.Statement.filter((s) => [s.Action].flat().some((a) => a === 'kms:Encrypt' || a === 'kms:Decrypt'));
    expect(users.map((s) => [s.Principal, s.Action])).toEqual([
      [{ AWS: res.mintCredentialsRoleArn }, 'kms:Encrypt'],
      [{ AWS: res.invokeAgentRoleArn }, 'kms:Decrypt'],
    ]);
    for (const st of policy.Statement) for (const a of [st.Action].flat()) expect(a).not.toMatch(/\*/);
  });

  it('let the account administer the seal key with every administrative action (CDK\'s key administrator patterns, expanded), and never use it', () => {
    const admin = sealKeyPolicy(res).Statement.find((s) => s.Sid === 'AdministerKey')!;
    expect(admin.Principal).toEqual({ AWS: res.accountRootArn });
    const actions = [admin.Action].flat();
    expect(actions).toEqual([...KEY_ADMINISTRATION_ACTIONS]);
    // CDK's Key.grantAdmin patterns (aws-kms ADMIN_ACTIONS), each of which the list expands.
    const cdkAdmin = ['Create*', 'Describe*', 'Enable*', 'List*', 'Put*', 'Update*', 'Revoke*', 'Disable*', 'Get*', 'Delete*', 'TagResource', 'UntagResource', 'ScheduleKeyDeletion', 'CancelKeyDeletion'];
    const matches = (pattern: string, action: string) => new RegExp(`^kms:${pattern.replace('*', '.*')}$`).test(action);
    for (const pattern of cdkAdmin) expect(actions.some((a) => matches(pattern, a)), pattern).toBe(true);
    // Nothing outside those patterns but on-demand rotation (the console's key administrator statement).
    expect(actions.filter((a) => !cdkAdmin.some((p) => matches(p, a)))).toEqual(['kms:RotateKeyOnDemand']);
    // What a CloudFormation update of the key calls, the actions the old policy lacked among them.
    for (const a of ['UpdateKeyDescription', 'DisableKeyRotation', 'EnableKeyRotation', 'EnableKey', 'DisableKey', 'ListResourceTags', 'TagResource', 'UntagResource', 'PutKeyPolicy', 'GetKeyPolicy', 'DescribeKey', 'ScheduleKeyDeletion']) {
      expect(actions).toContain(`kms:${a}`);
    }
    // Control: no cryptographic action.
    for (const a of ['Encrypt', 'Decrypt', 'ReEncryptFrom', 'ReEncryptTo', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext', 'GenerateDataKeyPair', 'Sign', 'Verify', 'GenerateMac', 'VerifyMac', 'DeriveSharedSecret']) {
      expect(actions).not.toContain(`kms:${a}`);
    }
  });

  it('scope a tenant session to its config row and its own orders partition, read-only', () => {
    const policy = tenantIsolationPolicy(res, 'tenant1', 'user-1');
    expect(policy.Statement).toEqual([
      expect.objectContaining({
        Action: ['dynamodb:GetItem', 'dynamodb:Query'],
        Resource: 'arn:aws:dynamodb:eu-west-1:111122223333:table/prod-tenant-config',
        Condition: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['tenant1'] }, Null: { 'dynamodb:LeadingKeys': 'false' } },
      }),
      expect.objectContaining({
        Action: ['dynamodb:GetItem', 'dynamodb:Query'],
        Resource: 'arn:aws:dynamodb:eu-west-1:111122223333:table/prod-tenant1-orders',
        Condition: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['user-1'] }, Null: { 'dynamodb:LeadingKeys': 'false' } },
      }),
      expect.objectContaining({
        Action: ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem'],
        Resource: 'arn:aws:dynamodb:eu-west-1:111122223333:table/prod-conversations',
        Condition: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['tenant1#user-1'] }, Null: { 'dynamodb:LeadingKeys': 'false' } },
      }),
    ]);
    // STS rejects inline session policies over 2048 characters.
    expect(JSON.stringify(tenantIsolationPolicy(res, 'a-tenant-with-a-long-name-00001', 'x'.repeat(128))).length).toBeLessThan(2048);
  });

  it('key the tenant access role on session tags, and trust only the mint-credentials role', () => {
    const text = JSON.stringify(tenantAccessRolePolicy(res));
    expect(text).toContain('table/prod-${aws:PrincipalTag/TenantId}-orders');
    expect(text).toContain('"dynamodb:LeadingKeys":["${aws:PrincipalTag/UserId}"]');
    expect(text).toContain('"dynamodb:LeadingKeys":["${aws:PrincipalTag/TenantId}#${aws:PrincipalTag/UserId}"]');
    const trust = tenantAccessRoleTrustPolicy(res);
    expect(new Set(trust.Statement.map((s) => JSON.stringify(s.Principal)))).toEqual(new Set([JSON.stringify({ AWS: res.mintCredentialsRoleArn })]));
  });

  it('define one policy per task, none of which can write orders or read other tables', () => {
    const policies = taskRolePolicies(res);
    expect(Object.keys(policies).sort()).toEqual([...TASK_NAMES].sort());
    const dynamoGrants = Object.values(policies).flatMap((p) => p.Statement.filter((s) => [s.Action].flat().some((a) => a.startsWith('dynamodb:'))));
    for (const st of dynamoGrants) {
      for (const r of [st.Resource ?? []].flat()) expect(r).not.toMatch(/-orders$/);
    }
  });

  it('give the claims table to validate-context alone, PutItem only; the operator administers it like the other tables', () => {
    const policies = taskRolePolicies(res);
    const claimsArn = 'arn:aws:dynamodb:eu-west-1:111122223333:table/prod-answer-claims';
    const grants = Object.entries(policies).flatMap(([task, p]) => p.Statement.filter((s) => [s.Resource].flat().includes(claimsArn)).map((s) => [task, s.Action]));
    expect(grants).toEqual([['validate-context', 'dynamodb:PutItem']]);
    // Control: the operator's statement names it, so the local stack can create it.
    expect(operatorPolicy(res).Statement[0]!.Resource).toContain(claimsArn);
  });

  it("let invoke-agent meter tokens with UpdateItem on the usage table's tenant partitions only; no tenant session names the usage table", () => {
    const usageArn = 'arn:aws:dynamodb:eu-west-1:111122223333:table/prod-usage';
    const grants = taskRolePolicies(res)['invoke-agent'].Statement.filter((s) => [s.Resource].flat().includes(usageArn));
    expect(grants).toEqual([
      {
        Sid: 'MeterTenantTokens',
        Effect: 'Allow',
        Action: 'dynamodb:UpdateItem',
        Resource: usageArn,
        Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['TENANT#*'] }, Null: { 'dynamodb:LeadingKeys': 'false' } },
      },
    ]);
    for (const doc of [tenantIsolationPolicy(res, 'tenant1', 'user-1'), tenantAccessRolePolicy(res)]) {
      expect(JSON.stringify(doc)).not.toContain('usage');
      // Control: the same documents name the tables they do grant.
      expect(JSON.stringify(doc)).toContain('prod-conversations');
    }
  });

  it('write nothing but the asker\'s own conversation turns: PutItem only there, no update, delete, scan or PartiQL anywhere in a tenant session', () => {
    for (const policy of [tenantIsolationPolicy(res, 'tenant1', 'user-1'), tenantAccessRolePolicy(res)]) {
      const writes = policy.Statement.filter((s) => [s.Action].flat().some((a) => !['dynamodb:GetItem', 'dynamodb:Query'].includes(a)));
      expect(writes.map((s) => [s.Action, s.Resource])).toEqual([
        [['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem'], 'arn:aws:dynamodb:eu-west-1:111122223333:table/prod-conversations'],
      ]);
      // Every statement of a tenant session is keyed by LeadingKeys, Null false included.
      for (const st of policy.Statement) expect(st.Condition?.Null).toEqual({ 'dynamodb:LeadingKeys': 'false' });
    }
    // Control: no task role touches the conversations table; the tenant session is the only way in.
    const conversationsArn = 'arn:aws:dynamodb:eu-west-1:111122223333:table/prod-conversations';
    const taskGrants = Object.values(taskRolePolicies(res)).flatMap((p) => p.Statement.filter((s) => [s.Resource].flat().includes(conversationsArn)));
    expect(taskGrants).toEqual([]);
    expect(operatorPolicy(res).Statement[0]!.Resource).toContain(conversationsArn);
  });

  it('give appsync:GraphQL (on publishAnswer only) to the publish role alone; the other publishers may only assume it', () => {
    const policies = taskRolePolicies(res);
    const holders = Object.entries(policies).filter(([, p]) => p.Statement.some((s) => [s.Action].flat().includes('appsync:GraphQL')));
    expect(holders.map(([task]) => task)).toEqual(['publish-answer']);
    expect(policies['publish-answer'].Statement).toEqual([
      { Sid: 'PublishAnswer', Effect: 'Allow', Action: 'appsync:GraphQL', Resource: `${res.graphqlApiArn}/types/Mutation/fields/publishAnswer` },
      // It ends answers, so it releases their concurrency slots (tasks/release-slot.ts): UpdateItem on the usage table only.
      {
        Sid: 'ReleaseConcurrencySlot',
        Effect: 'Allow',
        Action: 'dynamodb:UpdateItem',
        Resource: 'arn:aws:dynamodb:eu-west-1:111122223333:table/prod-usage',
        Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['USER#*'] }, Null: { 'dynamodb:LeadingKeys': 'false' } },
      },
    ]);

    const assumers = Object.entries(policies).filter(([, p]) => p.Statement.some((s) => [s.Resource].flat().includes(res.publishRoleArn)));
    expect(assumers.map(([task]) => task).sort()).toEqual([...PUBLISH_ROLE_ASSUMERS].sort());
    for (const [, p] of assumers) {
      expect(p.Statement.filter((s) => [s.Resource].flat().includes(res.publishRoleArn))).toEqual([
        { Sid: 'PublishAsThePublishRole', Effect: 'Allow', Action: 'sts:AssumeRole', Resource: res.publishRoleArn },
      ]);
    }
    // Trusted: its own Lambda function, and exactly those two roles.
    expect(publishRoleTrustPolicy(res).Statement.map((s) => s.Principal)).toEqual([
      { Service: 'lambda.amazonaws.com' },
      { AWS: [res.validateContextRoleArn, res.invokeAgentRoleArn] },
    ]);
  });
});

describe('the invoke-agent role, by agent runtime', () => {
  const bedrockActions = (runtime: PolicyResources['agentRuntime']) =>
    taskRolePolicies({ ...res, agentRuntime: runtime })['invoke-agent'].Statement.flatMap((st) => [st.Action].flat().filter((a) => a.startsWith('bedrock:')).map((a) => `${a} ${String(st.Resource)}`));

  it('may call InvokeAgent on the alias only with bedrock-agent, and InvokeModel on the model only with converse', () => {
    expect(bedrockActions('bedrock-agent')).toEqual([`bedrock:InvokeAgent ${res.agentAliasArn}`]);
    const model = 'arn:aws:bedrock:eu-west-1::foundation-model/anthropic.claude-x';
    expect(bedrockActions('converse')).toEqual([`bedrock:InvokeModel ${model}`, `bedrock:InvokeModelWithResponseStream ${model}`]);
  });

  it('with an inference profile, converse may call the profile and its model in each destination Region (models table), nothing else', () => {
    const profile = 'eu.anthropic.claude-haiku-4-5-20251001-v1:0';
    const statement = taskRolePolicies({ ...res, agentRuntime: 'converse', modelId: profile })['invoke-agent'].Statement.find((st) => st.Sid === 'ConverseWithTheModel')!;
    expect(statement).toEqual(modelInvokeStatement('ConverseWithTheModel', profile, res.location));
    expect(statement.Resource).toEqual(modelInvokeArns(profile, res.location));
    expect(statement.Resource).toContain(`arn:aws:bedrock:eu-west-1:111122223333:inference-profile/${profile}`);
    expect(statement.Resource).toContain('arn:aws:bedrock:eu-north-1::foundation-model/anthropic.claude-haiku-4-5-20251001-v1:0');
    // Control: a bare id stays one foundation-model ARN in the deploy Region.
    expect(modelInvokeStatement('S', 'anthropic.claude-haiku-4-5-20251001-v1:0', res.location).Resource).toEqual(['arn:aws:bedrock:eu-west-1::foundation-model/anthropic.claude-haiku-4-5-20251001-v1:0']);
  });
});
