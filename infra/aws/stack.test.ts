/**
 * The synthesized template proves that what is deployed is what the local stack enforces: the same
 * state machine, the same policy documents, the same schema. Synthesis (with esbuild bundling of
 * the five Lambdas) runs once for the whole file.
 */
import { isPipeline, RESOLVERS } from '../resolvers.ts';
import { DEFAULT_REQUESTS_PER_FIVE_MINUTES } from './waf.ts';
import { USAGE_EXPIRY_ATTRIBUTE } from '../../tasks/usage.ts';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { App, RemovalPolicy, Stack, type CfnResource } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import { AwsSolutionsChecks } from 'cdk-nag';
import { buildSchema } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { definition, FUNCTION_ARN_VARIABLES } from '../../states/definition.ts';
import { sealKeyPolicy, PUBLISH_ROLE_ASSUMERS, publishRoleTrustPolicy, taskRolePolicies, tenantAccessRolePolicy, tenantAccessRoleTrustPolicy } from '../../tasks/policies.ts';
import { apiDataSourcePolicy, apiUsageDataSourcePolicy } from '../../tasks/api-policies.ts';
import { FUNCTION_TIMEOUT_SECONDS, TASK_NAMES, type TaskName } from '../../tasks/task-names.ts';
import { SEED_TENANTS, SEED_USERS, tenantConfigItem } from '../../tasks/seed.ts';
import { CLAIM_EXPIRY_ATTRIBUTE, CLAIMS_KEYS, CONFIG_KEYS, CONVERSATION_EXPIRY_ATTRIBUTE, CONVERSATIONS_KEYS, ORDERS_KEYS, RUNS_KEYS } from '../../tasks/tables.ts';
import { TENANT_ATTRIBUTE } from './identity.ts';
import { appClientIdRegex } from '../../tasks/app-client.ts';
import { USER_POOL_PASSWORD_POLICY } from '../../tasks/user-pool-policy.ts';
import { ADMIN_OUTPUTS, ASK_OUTPUTS, EXECUTIONS_OUTPUTS } from '../../client/cli/targets.ts';
import { MultiTenantAiAssistantStack } from './stack.ts';
import { GEOGRAPHY_DESTINATIONS } from '../../tasks/models.ts';
import { LOGGING_POLICY_NAME, TASK_POLICY_NAME } from './workflow.ts';
import { QUERY_DEPTH_LIMIT, RESOLVER_COUNT_LIMIT } from '../../tasks/api-limits.ts';

type Json = Record<string, unknown>;
const HAIKU_45 = 'anthropic.claude-haiku-4-5-20251001-v1:0';
const HAIKU_45_US = `us.${HAIKU_45}`;
interface Resource {
  Type: string;
  Properties: Json;
}

let outdir: string;
let stack: MultiTenantAiAssistantStack;
let template: Template;
let resources: Record<string, Resource>;
let synthMs: number;

beforeAll(() => {
  const started = performance.now();
  outdir = mkdtempSync(path.join(os.tmpdir(), 'cdk-test-'));
  const app = new App({ outdir });
  // bedrock-agent by name (the default is converse: infra/aws/models-iam.test.ts); an environment-agnostic
  // stack names its model (the default model's profile depends on the Region).
  stack = new MultiTenantAiAssistantStack(app, 'AssistantTest', { agentRuntime: 'bedrock-agent', modelId: HAIKU_45_US, removalPolicy: RemovalPolicy.DESTROY });
  template = Template.fromStack(stack);
  resources = template.toJSON().Resources as Record<string, Resource>;
  synthMs = performance.now() - started;
}, 180_000);

afterAll(() => {
  if (outdir) rmSync(outdir, { recursive: true, force: true });
});

const logicalId = (c: { node: { defaultChild?: unknown } }) => stack.getLogicalId(c.node.defaultChild as CfnResource);
const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** A policy document in one comparable shape: Action and Resource as arrays (CDK renders one-element lists as strings). */
function normalise(doc: unknown): unknown {
  const d = doc as { Version: string; Statement: Json[] };
  return {
    Version: d.Version,
    Statement: d.Statement.map((s) => ({
      ...s,
      Action: asArray(s.Action as string | string[]),
      ...(s.Resource === undefined ? {} : { Resource: asArray(s.Resource) }),
    })),
  };
}

const rendered = (doc: unknown) => normalise(stack.resolve(doc));

function policiesOfRole(roleLogicalId: string): Array<{ name: string; document: unknown }> {
  return ofType('AWS::IAM::Policy')
    .filter(([, r]) => asArray(r.Properties.Roles as unknown[]).some((ref) => (ref as { Ref?: string }).Ref === roleLogicalId))
    .map(([, r]) => ({ name: r.Properties.PolicyName as string, document: r.Properties.PolicyDocument }));
}

/** Every identity, trust, key and resource policy statement in the template. */
function allStatements(): Array<{ where: string; statement: Json; identity: boolean }> {
  const out: Array<{ where: string; statement: Json; identity: boolean }> = [];
  const add = (where: string, doc: unknown, identity: boolean) => {
    for (const statement of (doc as { Statement: Json[] }).Statement) out.push({ where, statement, identity });
  };
  for (const [id, r] of Object.entries(resources)) {
    if (r.Type === 'AWS::IAM::Policy') add(id, r.Properties.PolicyDocument, true);
    if (r.Type === 'AWS::IAM::Role') {
      add(id, r.Properties.AssumeRolePolicyDocument, false);
      for (const p of asArray(r.Properties.Policies as Json[])) add(`${id}/${String(p.PolicyName)}`, p.PolicyDocument, true);
    }
    if (r.Type === 'AWS::KMS::Key') add(id, r.Properties.KeyPolicy, false);
  }
  return out;
}

/** A resource value as text, with tokens (Ref, GetAtt, pseudo parameters) shown as `<token>`. */
function resourceText(value: unknown): string {
  if (typeof value === 'string') return value;
  const join = (value as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  if (join) return join[1].map(resourceText).join(join[0]);
  return '<token>';
}

describe('MultiTenantAiAssistantStack (synthesized template)', () => {
  it('synthesizes once, bundling the five task functions', () => {
    process.stdout.write(`cdk synth (with esbuild bundling): ${Math.round(synthMs)} ms\n`);
    const taskFunctions = new Set(TASK_NAMES.map((t) => logicalId(stack.workflow.functions[t])));
    const bundled = ofType('AWS::Lambda::Function').filter(([id]) => taskFunctions.has(id));
    expect(bundled).toHaveLength(TASK_NAMES.length);
  });

  it("bundles the invoke-agent function from its runtime's entry: the Bedrock agent client, not Converse's (control: its own is there)", () => {
    const asset = stack.workflow.functions['invoke-agent'].node.findChild('Code') as s3assets.Asset;
    const bundle = readFileSync(path.join(outdir, asset.assetPath, 'index.mjs'), 'utf8');
    expect(bundle).toContain('"BedrockAgentRuntimeClient"');
    expect(bundle).not.toContain('"BedrockRuntimeClient"');
  });

  it('passes the cdk-nag AwsSolutions checks, with every remaining finding acknowledged', () => {
    const report = new AwsSolutionsChecks().validateScope(stack);
    const errors = report.violations.filter((v) => v.severity !== 'warning');
    expect(errors.map((v) => `${v.ruleName}: ${v.violatingResources.map((r) => r.resourceLogicalId).join(', ')}`)).toEqual([]);
  });

  it('cdk-nag does report a non-compliant resource (the check above is not vacuous)', () => {
    const bad = new Stack(new App(), 'Bad');
    new dynamodb.CfnTable(bad, 'NoPitr', {
      keySchema: [{ attributeName: 'k', keyType: 'HASH' }],
      attributeDefinitions: [{ attributeName: 'k', attributeType: 'S' }],
      billingMode: 'PAY_PER_REQUEST',
    });
    const report = new AwsSolutionsChecks().validateScope(bad);
    expect(report.violations.map((v) => v.ruleName)).toContain('AwsSolutions-DDB3');
  });

  describe('workflow', () => {
    it('is an Express state machine whose definition is states/definition.ts, with the function ARNs substituted', () => {
      const [machine, ...others] = ofType('AWS::StepFunctions::StateMachine');
      expect(others).toEqual([]);
      const props = machine![1].Properties;
      expect(props.StateMachineType).toBe('EXPRESS');
      expect(props.DefinitionString).toBe(JSON.stringify(definition));
      expect(props.DefinitionSubstitutions).toEqual(
        Object.fromEntries(TASK_NAMES.map((t) => [FUNCTION_ARN_VARIABLES[t], { 'Fn::GetAtt': [logicalId(stack.workflow.functions[t]), 'Arn'] }])),
      );
      expect(props.LoggingConfiguration).toMatchObject({ Level: 'ALL', IncludeExecutionData: true });
      expect(props.TracingConfiguration).toEqual({ Enabled: true });
    });

    it('runs each task as a Node.js 22 arm64 function with its own role', () => {
      const roles = new Set<unknown>();
      for (const task of TASK_NAMES) {
        const fn = resources[logicalId(stack.workflow.functions[task])]!.Properties;
        expect(fn.Runtime).toBe('nodejs22.x');
        expect(fn.Architectures).toEqual(['arm64']);
        expect(fn.Role).toEqual({ 'Fn::GetAtt': [logicalId(stack.workflow.taskRoles[task]), 'Arn'] });
        roles.add(JSON.stringify(fn.Role));
      }
      expect(roles.size).toBe(TASK_NAMES.length);
    });

    it('gives each function the timeout of FUNCTION_TIMEOUT_SECONDS, below the TimeoutSeconds of every state that invokes it', () => {
      const states = Object.values(definition.States as Record<string, { Resource?: string; TimeoutSeconds?: number }>);
      for (const task of TASK_NAMES) {
        const fn = resources[logicalId(stack.workflow.functions[task])]!.Properties;
        expect(fn.Timeout).toBe(FUNCTION_TIMEOUT_SECONDS[task]);
        const invoking = states.filter((s) => s.Resource === `\${${FUNCTION_ARN_VARIABLES[task]}}`);
        expect(invoking.length).toBeGreaterThan(0);
        for (const state of invoking) expect(fn.Timeout).toBeLessThan(state.TimeoutSeconds!);
      }
    });

    it.each(TASK_NAMES)("gives the %s role exactly the shared policy (and only its own function's logs besides)", (task: TaskName) => {
      const roleId = logicalId(stack.workflow.taskRoles[task]);
      const role = resources[roleId]!.Properties;
      expect(role.ManagedPolicyArns).toBeUndefined();
      expect(role.Policies).toBeUndefined();
      const policies = policiesOfRole(roleId);
      expect(policies.map((p) => p.name).sort()).toEqual([LOGGING_POLICY_NAME, TASK_POLICY_NAME].sort());
      const taskPolicy = policies.find((p) => p.name === TASK_POLICY_NAME)!;
      expect(normalise(taskPolicy.document)).toEqual(rendered(taskRolePolicies(stack.workflow.policyResources)[task]));
      const logging = normalise(policies.find((p) => p.name === LOGGING_POLICY_NAME)!.document) as { Statement: Json[] };
      const logGroupId = stack.getLogicalId(stack.workflow.functions[task].logGroup.node.defaultChild as CfnResource);
      expect(logging.Statement).toEqual([
        { Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: [{ 'Fn::GetAtt': [logGroupId, 'Arn'] }] },
      ]);
    });

    it("gives the tenant access role the shared tag-keyed policy, and a trust policy naming only the mint role", () => {
      const role = resources[logicalId(stack.workflow.tenantAccessRole)]!.Properties;
      const res = stack.workflow.policyResources;
      expect((role.Policies as Json[]).map((p) => normalise(p.PolicyDocument))).toEqual([rendered(tenantAccessRolePolicy(res))]);
      expect(normalise(role.AssumeRolePolicyDocument)).toEqual(rendered(tenantAccessRoleTrustPolicy(res)));
      const mintRoleArn = { 'Fn::GetAtt': [logicalId(stack.workflow.taskRoles['mint-credentials']), 'Arn'] };
      const statements = (role.AssumeRolePolicyDocument as { Statement: Json[] }).Statement;
      expect(statements.map((s) => s.Principal)).toEqual(statements.map(() => ({ AWS: mintRoleArn })));
      const tagSession = statements.find((s) => s.Action === 'sts:TagSession')!;
      expect(tagSession.Condition).toMatchObject({ 'ForAllValues:StringEquals': { 'aws:TagKeys': ['TenantId', 'UserId'] } });
    });

    it('gives the seal key exactly the shared key policy, with rotation', () => {
      const key = resources[logicalId(stack.workflow.sealKey)]!.Properties;
      expect(normalise(key.KeyPolicy)).toEqual(rendered(sealKeyPolicy(stack.workflow.policyResources)));
      expect(key.EnableKeyRotation).toBe(true);
    });
  });

  describe('IAM, everywhere in the template', () => {
    it('has no `*` in any action', () => {
      const wild = allStatements().filter(({ statement }) => asArray(statement.Action as string | string[]).some((a) => a.includes('*')));
      expect(wild.map((w) => w.where)).toEqual([]);
    });

    it('has no `*` resource on data, STS, KMS or Bedrock in any identity policy', () => {
      const guarded = /^(dynamodb|sts|kms|bedrock):/;
      const wild = allStatements().filter(
        ({ statement, identity }) =>
          identity &&
          asArray(statement.Action as string | string[]).some((a) => guarded.test(a)) &&
          asArray(statement.Resource).some((r) => resourceText(r).includes('*')),
      );
      expect(wild.map((w) => w.where)).toEqual([]);
    });

    it('lets only the publish role call AppSync, and only publishAnswer', () => {
      const callers = ofType('AWS::IAM::Policy').filter(([, r]) => JSON.stringify(r.Properties.PolicyDocument).includes('appsync:'));
      expect(callers.map(([, r]) => r.Properties.Roles)).toEqual([[{ Ref: logicalId(stack.workflow.taskRoles['publish-answer']) }]]);
      // Its other statement releases concurrency slots on the usage table (tasks/usage-policy.ts).
      const statements = (callers[0]![1].Properties.PolicyDocument as { Statement: Json[] }).Statement.filter((st) => JSON.stringify(st.Action).includes('appsync:'));
      expect(statements).toHaveLength(1);
      expect(statements[0]!.Action).toBe('appsync:GraphQL');
      expect(resourceText(statements[0]!.Resource)).toMatch(/\/types\/Mutation\/fields\/publishAnswer$/);
      // Nothing else grants it: no inline role policy, no managed policy.
      const inline = ofType('AWS::IAM::Role').filter(([, r]) => JSON.stringify(r.Properties.Policies ?? []).includes('appsync:'));
      expect(inline).toEqual([]);
      expect(ofType('AWS::IAM::ManagedPolicy').filter(([, r]) => JSON.stringify(r.Properties).includes('appsync:'))).toEqual([]);
    });

    it('lets the other publishing tasks publish only as sessions of the publish role, which trusts exactly them and its function', () => {
      const publishRole = stack.workflow.taskRoles['publish-answer'];
      const publishRoleArn = { 'Fn::GetAtt': [logicalId(publishRole), 'Arn'] };
      const assumers = ofType('AWS::IAM::Policy').filter(([, r]) => JSON.stringify(r.Properties.PolicyDocument).includes(JSON.stringify(publishRoleArn)));
      const assumerRoles = PUBLISH_ROLE_ASSUMERS.map((task) => [{ Ref: logicalId(stack.workflow.taskRoles[task]) }]);
      expect(assumers.map(([, r]) => r.Properties.Roles)).toEqual(expect.arrayContaining(assumerRoles));
      expect(assumers).toHaveLength(PUBLISH_ROLE_ASSUMERS.length);
      for (const [, assumer] of assumers) {
        const grants = (assumer.Properties.PolicyDocument as { Statement: Json[] }).Statement.filter((st) => JSON.stringify(st.Resource).includes(JSON.stringify(publishRoleArn)));
        expect(grants).toEqual([{ Sid: 'PublishAsThePublishRole', Effect: 'Allow', Action: 'sts:AssumeRole', Resource: publishRoleArn }]);
      }
      const role = resources[logicalId(publishRole)]!.Properties;
      expect(normalise(role.AssumeRolePolicyDocument)).toEqual(rendered(publishRoleTrustPolicy(stack.workflow.policyResources)));
      const principals = (role.AssumeRolePolicyDocument as { Statement: Json[] }).Statement.map((st) => st.Principal);
      expect(principals).toEqual([
        { Service: 'lambda.amazonaws.com' },
        { AWS: PUBLISH_ROLE_ASSUMERS.map((task) => ({ 'Fn::GetAtt': [logicalId(stack.workflow.taskRoles[task]), 'Arn'] })) },
      ]);
      // The functions know which role to assume.
      for (const task of PUBLISH_ROLE_ASSUMERS) {
        const fn = resources[logicalId(stack.workflow.functions[task])]!.Properties as { Environment: { Variables: Record<string, Json> } };
        expect(fn.Environment.Variables.PUBLISH_ROLE_ARN).toEqual(publishRoleArn);
      }
    });
  });

  describe('data', () => {
    it('creates the tables with the local key schemas, on demand, with point-in-time recovery', () => {
      const tables = ofType('AWS::DynamoDB::Table').map(([, r]) => r.Properties);
      expect(tables).toHaveLength(5 + SEED_TENANTS.length);
      for (const t of tables) {
        expect(t.BillingMode).toBe('PAY_PER_REQUEST');
        expect(t.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
      }
      const names = stack.workflow.policyResources.tables;
      const keysOf = (name: string) => tables.find((t) => t.TableName === name)!.KeySchema;
      expect(keysOf(names.config)).toEqual([{ AttributeName: CONFIG_KEYS.partitionKey, KeyType: 'HASH' }]);
      expect(keysOf(names.runs)).toEqual([
        { AttributeName: RUNS_KEYS.partitionKey, KeyType: 'HASH' },
        { AttributeName: RUNS_KEYS.sortKey, KeyType: 'RANGE' },
      ]);
      expect(keysOf(names.claims)).toEqual([{ AttributeName: CLAIMS_KEYS.partitionKey, KeyType: 'HASH' }]);
      expect(keysOf(names.conversations)).toEqual([
        { AttributeName: CONVERSATIONS_KEYS.partitionKey, KeyType: 'HASH' },
        { AttributeName: CONVERSATIONS_KEYS.sortKey, KeyType: 'RANGE' },
      ]);
      for (const { tenantId } of SEED_TENANTS) {
        expect(keysOf(names.orders(tenantId))).toEqual([
          { AttributeName: ORDERS_KEYS.partitionKey, KeyType: 'HASH' },
          { AttributeName: ORDERS_KEYS.sortKey, KeyType: 'RANGE' },
        ]);
      }
    });

    it('expires answer claims, conversation turns and usage windows with Time to Live on expiresAt, those three tables alone, encrypted as the others', () => {
      const tables = ofType('AWS::DynamoDB::Table').map(([, r]) => r.Properties);
      const names = stack.workflow.policyResources.tables;
      const claims = tables.find((t) => t.TableName === names.claims)!;
      const conversations = tables.find((t) => t.TableName === names.conversations)!;
      expect(claims.TimeToLiveSpecification).toEqual({ AttributeName: CLAIM_EXPIRY_ATTRIBUTE, Enabled: true });
      expect(conversations.TimeToLiveSpecification).toEqual({ AttributeName: CONVERSATION_EXPIRY_ATTRIBUTE, Enabled: true });
      const usage = tables.find((t) => t.TableName === names.usage)!;
      expect(usage.TimeToLiveSpecification).toEqual({ AttributeName: USAGE_EXPIRY_ATTRIBUTE, Enabled: true });
      expect(tables.filter((t) => t.TimeToLiveSpecification !== undefined)).toEqual([claims, conversations, usage]);
      expect(usage.SSESpecification).toBeDefined();
      const runs = tables.find((t) => t.TableName === names.runs)!;
      expect(runs.SSESpecification).toBeDefined();
      expect(claims.SSESpecification).toEqual(runs.SSESpecification);
      expect(conversations.SSESpecification).toEqual(runs.SSESpecification);
    });

    it("adds each tenant's config item from tasks/seed.ts on create and on update, never overwriting one, allowed to PutItem on the config table only", () => {
      const seeds = ofType('Custom::AWS') as [string, Resource][];
      const names = stack.workflow.policyResources.tables;
      type Call = { action: string; parameters: { TableName: string; Item: Json; ConditionExpression: string; ExpressionAttributeNames: Json }; ignoreErrorCodesMatching: string };
      const calls = seeds.map(([, seed]) => {
        const create = JSON.parse(seed.Properties.Create as string) as Call;
        // The same call on update: a deploy that finds a row missing adds it.
        expect(JSON.parse(seed.Properties.Update as string)).toEqual(create);
        return create;
      });
      expect(calls.map((c) => c.parameters.Item)).toEqual(
        SEED_TENANTS.map((t) =>
          Object.fromEntries(Object.entries(tenantConfigItem(t, names)).map(([k, v]) => [k, typeof v === 'number' ? { N: String(v) } : { S: v }])),
        ),
      );
      for (const call of calls) {
        expect(call).toMatchObject({ action: 'PutItem', parameters: { TableName: names.config, ConditionExpression: 'attribute_not_exists(#tenantId)', ExpressionAttributeNames: { '#tenantId': 'tenantId' } } });
        // The row that exists (the condition failed) is left as it is, and the deploy goes on.
        expect(new RegExp(call.ignoreErrorCodesMatching).test('ConditionalCheckFailedException')).toBe(true);
        expect(new RegExp(call.ignoreErrorCodesMatching).test('AccessDeniedException')).toBe(false);
      }
      const seedPolicy = policiesOfRole(stack.getLogicalId(stack.node.findChild('AWS679f53fac002430cb0da5b7982bd2287').node.findChild('ServiceRole').node.defaultChild as CfnResource));
      const statements = seedPolicy.flatMap((p) => (normalise(p.document) as { Statement: unknown[] }).Statement);
      expect(new Set(statements.map((st) => JSON.stringify(st)))).toEqual(
        new Set([JSON.stringify({ Action: ['dynamodb:PutItem'], Effect: 'Allow', Resource: [{ 'Fn::GetAtt': [logicalId(stack.data.config), 'Arn'] }] })]),
      );
    });
  });

  describe('seeded users', () => {
    it('have passwords that Secrets Manager generates at deploy time, never a value in the template', () => {
      const secrets = ofType('AWS::SecretsManager::Secret').map(([, r]) => r.Properties);
      expect(secrets).toHaveLength(SEED_USERS.length);
      for (const s of secrets) {
        expect(s.SecretString).toBeUndefined();
        const generate = s.GenerateSecretString as Json;
        expect(generate.GenerateStringKey).toBe('password');
        expect(Object.keys(JSON.parse(generate.SecretStringTemplate as string) as Json).sort()).toEqual(['tenantId', 'username']);
        expect(generate.PasswordLength as number).toBeGreaterThanOrEqual(20);
      }
    });

    it('are created by a custom resource that reads the secrets by ARN', () => {
      const [[, seed]] = ofType('Custom::SeedUsers') as [[string, Resource]];
      const secretsOf = seed.Properties.PasswordSecrets as Record<string, unknown>;
      expect(Object.keys(secretsOf).sort()).toEqual(SEED_USERS.map((u) => u.username).sort());
      for (const ref of Object.values(secretsOf)) expect(ref).toEqual({ Ref: expect.any(String) });
    });

    it('start with no orders: the seeding function may not write any table', () => {
      const role = stack.seedUsers.function.role!.node.defaultChild as CfnResource;
      const actions = policiesOfRole(stack.getLogicalId(role)).flatMap((p) => (normalise(p.document) as { Statement: Json[] }).Statement.flatMap((st) => st.Action as string[]));
      expect(actions.filter((a) => a.startsWith('dynamodb:'))).toEqual([]);
      // Control: the policy read is the function's (it creates users).
      expect(actions).toContain('cognito-idp:AdminCreateUser');
    });
  });

  describe('identity', () => {
    it('keeps custom:tenantId immutable, admin-created users only, a strong password policy', () => {
      const [[, pool]] = ofType('AWS::Cognito::UserPool') as [[string, Resource]];
      const attr = (pool.Properties.Schema as Json[]).find((a) => a.Name === TENANT_ATTRIBUTE);
      expect(attr).toMatchObject({ AttributeDataType: 'String', Mutable: false });
      expect(pool.Properties.AdminCreateUserConfig).toMatchObject({ AllowAdminCreateUserOnly: true });
      const pw = (pool.Properties.Policies as { PasswordPolicy: Json }).PasswordPolicy;
      expect(pw).toMatchObject({ RequireLowercase: true, RequireUppercase: true, RequireNumbers: true, RequireSymbols: true });
      expect(pw.MinimumLength as number).toBeGreaterThanOrEqual(12);
      // The same numbers the local pool enforces (one source: tasks/user-pool-policy.ts).
      expect(pw).toMatchObject({
        MinimumLength: USER_POOL_PASSWORD_POLICY.minLength,
        TemporaryPasswordValidityDays: USER_POOL_PASSWORD_POLICY.temporaryPasswordValidityDays,
      });
    });

    it('runs the pre token generation trigger with the V2_0 event (access token customization), on the Essentials plan it needs', () => {
      const [[, pool]] = ofType('AWS::Cognito::UserPool') as [[string, Resource]];
      expect(pool.Properties.UserPoolTier).toBe('ESSENTIALS');
      const fn = logicalId(stack.identity.preTokenGeneration);
      expect(pool.Properties.LambdaConfig).toEqual({ PreTokenGenerationConfig: { LambdaArn: { 'Fn::GetAtt': [fn, 'Arn'] }, LambdaVersion: 'V2_0' } });
      // Cognito may invoke it; its role may only write its own log group.
      template.hasResourceProperties('AWS::Lambda::Permission', { FunctionName: { 'Fn::GetAtt': [fn, 'Arn'] }, Principal: 'cognito-idp.amazonaws.com' });
      const role = (resources[fn]!.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
      expect(resources[role]!.Properties.ManagedPolicyArns).toBeUndefined();
      const statements = policiesOfRole(role).flatMap((p) => (rendered(p.document) as { Statement: Json[] }).Statement);
      expect(statements.map((st) => st.Action)).toEqual([['logs:CreateLogStream', 'logs:PutLogEvents']]);
    });

    it('lets no app client write the tenant attribute; the web client has no secret', () => {
      const clients = ofType('AWS::Cognito::UserPoolClient');
      expect(clients.length).toBeGreaterThan(0);
      for (const [, c] of clients) {
        // An absent WriteAttributes means "all writable attributes"; it must be explicit.
        expect(c.Properties.WriteAttributes).toBeDefined();
        expect(c.Properties.WriteAttributes).not.toContain(`custom:${TENANT_ATTRIBUTE}`);
        expect(c.Properties.GenerateSecret).toBe(false);
      }
    });
  });

  describe('API', () => {
    it('authorises with the user pool by default and IAM as an extra mode', () => {
      template.hasResourceProperties('AWS::AppSync::GraphQLApi', {
        AuthenticationType: 'AMAZON_COGNITO_USER_POOLS',
        AdditionalAuthenticationProviders: [{ AuthenticationType: 'AWS_IAM' }],
        LogConfig: { FieldLogLevel: 'ERROR', ExcludeVerboseContent: true },
      });
    });

    it('accepts user pool tokens of the web client only (appIdClientRegex: its id, anchored)', () => {
      const [[, api]] = ofType('AWS::AppSync::GraphQLApi') as [[string, Resource]];
      const config = api.Properties.UserPoolConfig as Json;
      expect(config.AppIdClientRegex).toEqual({ 'Fn::Join': ['', ['^', { Ref: logicalId(stack.identity.webClient) }, '$']] });
      expect(config.UserPoolId).toEqual({ Ref: logicalId(stack.identity.userPool) });
      // The same rule the local AppSync applies (tasks/app-client.ts): exactly that id, nothing around it.
      const rule = new RegExp(appClientIdRegex('abc123'));
      expect(['abc123', 'xabc123', 'abc1234', 'abc'].map((id) => rule.test(id))).toEqual([true, false, false, false]);
    });

    it('disables introspection (the schema does not describe itself to callers)', () => {
      template.hasResourceProperties('AWS::AppSync::GraphQLApi', { IntrospectionConfig: 'DISABLED' });
    });

    it('control: the development switch enables it', () => {
      const app = new App({ outdir: mkdtempSync(path.join(os.tmpdir(), 'cdk-test-')), context: { 'aws:cdk:bundling-stacks': [] } });
      const dev = Template.fromStack(new MultiTenantAiAssistantStack(app, 'AssistantDev', { introspection: true, modelId: HAIKU_45_US }));
      dev.hasResourceProperties('AWS::AppSync::GraphQLApi', { IntrospectionConfig: 'ENABLED' });
      rmSync(app.outdir, { recursive: true, force: true });
    });

    it('limits query depth and resolvers per request with the numbers the local AppSync enforces (tasks/api-limits.ts)', () => {
      template.hasResourceProperties('AWS::AppSync::GraphQLApi', { QueryDepthLimit: QUERY_DEPTH_LIMIT, ResolverCountLimit: RESOLVER_COUNT_LIMIT });
      // Within AppSync's ranges (1-75 and 1-10000), and one resolver: one question per request.
      expect(QUERY_DEPTH_LIMIT).toBeGreaterThanOrEqual(2);
      expect(QUERY_DEPTH_LIMIT).toBeLessThanOrEqual(75);
      expect(RESOLVER_COUNT_LIMIT).toBe(1);
    });

    it('deploys resolvers/schema.graphql, where publishAnswer is IAM-only', () => {
      const [[, schema]] = ofType('AWS::AppSync::GraphQLSchema') as [[string, Resource]];
      const sdl = schema.Properties.Definition as string;
      const appsyncDirectives = 'directive @aws_iam on FIELD_DEFINITION | OBJECT\ndirective @aws_cognito_user_pools on FIELD_DEFINITION | OBJECT\ndirective @aws_subscribe(mutations: [String]) on FIELD_DEFINITION\n';
      const field = buildSchema(appsyncDirectives + sdl).getMutationType()!.getFields().publishAnswer!;
      expect(field.astNode!.directives!.map((d) => d.name.value)).toEqual(['aws_iam']);
    });

    it('serves each field of infra/resolvers.ts with bundled APPSYNC_JS code and the right data source', () => {
      const resolvers = ofType('AWS::AppSync::Resolver').map(([, r]) => r.Properties);
      const byField = Object.fromEntries(resolvers.map((r) => [`${String(r.TypeName)}.${String(r.FieldName)}`, r]));
      expect(Object.keys(byField).sort()).toEqual(['Mutation.ask', 'Mutation.publishAnswer', 'Subscription.onAnswer']);
      for (const r of resolvers) {
        expect(r.Runtime).toEqual({ Name: 'APPSYNC_JS', RuntimeVersion: '1.0.0' });
        expect(r.Code).toMatch(/export\s*\{[^}]*request[^}]*\}|export function request/);
      }
      const dataSourceType = (r: Json) => {
        const name = r.DataSourceName;
        const getAtt = (name as { 'Fn::GetAtt'?: [string, string] })['Fn::GetAtt'];
        const source = getAtt ? resources[getAtt[0]] : ofType('AWS::AppSync::DataSource').find(([, d]) => d.Properties.Name === name)?.[1];
        return source?.Properties.Type;
      };
      // Mutation.ask is a pipeline: its functions, in the order of infra/resolvers.ts, each with its data source.
      expect(byField['Mutation.ask']!.Kind).toBe('PIPELINE');
      const functionIds = ((byField['Mutation.ask']!.PipelineConfig as { Functions: { 'Fn::GetAtt': [string, string] }[] }).Functions).map((f) => f['Fn::GetAtt'][0]);
      const functions = functionIds.map((id) => resources[id]!.Properties);
      const ask = RESOLVERS.find((r) => r.fieldName === 'ask');
      expect(ask && isPipeline(ask)).toBe(true);
      const expected = ask && isPipeline(ask) ? ask.functions : [];
      expect(functions.map((f) => f.Name)).toEqual(expected.map((f) => f.name));
      expect(functions.map((f) => dataSourceType(f))).toEqual(expected.map((f) => (f.dataSource.kind === 'DYNAMODB' ? 'AMAZON_DYNAMODB' : f.dataSource.kind)));
      for (const f of functions) expect(f.Code).toMatch(/export\s*\{[^}]*request[^}]*\}|export function request/);
      expect(dataSourceType(byField['Mutation.publishAnswer']!)).toBe('NONE');
      expect(dataSourceType(byField['Subscription.onAnswer']!)).toBe('NONE');
    });

    it('puts an AWS WAF web ACL in front of the API: REGIONAL, default allow, one rate-based rule per source IP that blocks', () => {
      const acls = ofType('AWS::WAFv2::WebACL').map(([, r]) => r.Properties);
      expect(acls).toHaveLength(1);
      const acl = acls[0]!;
      expect(acl.Scope).toBe('REGIONAL');
      expect(acl.DefaultAction).toEqual({ Allow: {} });
      const rules = acl.Rules as Json[];
      expect(rules.map((r) => [r.Name, r.Action, r.Statement])).toEqual([
        ['RatePerSourceIp', { Block: {} }, { RateBasedStatement: { Limit: DEFAULT_REQUESTS_PER_FIVE_MINUTES, EvaluationWindowSec: 300, AggregateKeyType: 'IP' } }],
      ]);
      const associations = ofType('AWS::WAFv2::WebACLAssociation').map(([, r]) => r.Properties);
      expect(associations).toEqual([{ ResourceArn: stack.resolve(stack.api.graphqlApi.arn), WebACLArn: { 'Fn::GetAtt': [stack.getLogicalId(stack.firewall.webAcl), 'Arn'] } }]);
    });

    it('signs StartExecution with a role that holds exactly apiDataSourcePolicy', () => {
      const role = resources[stack.getLogicalId(stack.api.dataSourceRole.node.defaultChild as CfnResource)]!.Properties;
      expect((role.Policies as Json[]).map((p) => normalise(p.PolicyDocument))).toEqual([
        rendered(apiDataSourcePolicy(stack.workflow.policyResources)),
      ]);
      expect(policiesOfRole(stack.getLogicalId(stack.api.dataSourceRole.node.defaultChild as CfnResource))).toEqual([]);
      template.hasResourceProperties('AWS::AppSync::DataSource', {
        Type: 'HTTP',
        HttpConfig: { AuthorizationConfig: { AuthorizationType: 'AWS_IAM', AwsIamConfig: { SigningServiceName: 'states' } } },
      });
    });

    it('signs the DynamoDB data sources (usage and config tables) with one role that holds exactly apiUsageDataSourcePolicy, and nothing CDK grants', () => {
      const roleId = stack.getLogicalId(stack.api.usageDataSourceRole.node.defaultChild as CfnResource);
      const role = resources[roleId]!.Properties;
      expect((role.Policies as Json[]).map((p) => normalise(p.PolicyDocument))).toEqual([rendered(apiUsageDataSourcePolicy(stack.workflow.policyResources))]);
      expect(policiesOfRole(roleId)).toEqual([]);
      const dynamo = ofType('AWS::AppSync::DataSource').filter(([, d]) => d.Properties.Type === 'AMAZON_DYNAMODB');
      const names = (list: unknown[]) => list.map((n) => JSON.stringify(n)).sort();
      expect(names(dynamo.map(([, d]) => (d.Properties.DynamoDBConfig as Json).TableName))).toEqual(
        names([stack.resolve(stack.data.config.tableName), stack.resolve(stack.data.usage.tableName)]),
      );
      for (const [, d] of dynamo) expect(d.Properties.ServiceRoleArn).toEqual({ 'Fn::GetAtt': [roleId, 'Arn'] });
      // No table resource policy names the role instead (CDK's automatic grants are not added anywhere).
      for (const [, t] of ofType('AWS::DynamoDB::Table')) expect(t.Properties.ResourcePolicy).toBeUndefined();
      // Control: the document is least privilege: no PutItem, DeleteItem, Query or Scan, and config is read-only.
      const statements = (apiUsageDataSourcePolicy(stack.workflow.policyResources).Statement).flatMap((st) => [st.Action].flat());
      expect(statements).not.toEqual(expect.arrayContaining(['dynamodb:PutItem']));
      expect(statements).toEqual(['dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:GetItem']);
    });
  });

  it('outputs what the client needs', () => {
    expect(Object.keys(template.toJSON().Outputs as Json).sort()).toEqual(
      ['ConfigTableName', 'GraphqlUrl', 'RealtimeUrl', 'Region', 'RunsTableName', 'SeedUserPasswordCommand', 'StateMachineArn', 'StateMachineLogGroupName', 'TablePrefix', 'UserPoolClientId', 'UserPoolId', 'UserSecretPrefix'].sort(),
    );
  });

  it('outputs every key the CLIs read from cdk-outputs.json, with the log group the state machine logs to', () => {
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    for (const key of [...ASK_OUTPUTS, ...EXECUTIONS_OUTPUTS, ...ADMIN_OUTPUTS]) expect(outputs[key], key).toBeDefined();
    const logGroup = stack.getLogicalId(stack.workflow.stateMachineLogGroup.node.defaultChild as CfnResource);
    expect(outputs.StateMachineLogGroupName!.Value).toEqual({ Ref: logGroup });
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      LoggingConfiguration: { Level: 'ALL', IncludeExecutionData: true, Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': [logGroup, 'Arn'] } } }] },
    });
    expect(outputs.RunsTableName!.Value).toEqual({ Ref: stack.getLogicalId(stack.data.runs.node.defaultChild as CfnResource) });
  });

  it('holds no secret-looking literal', () => {
    const findings: string[] = [];
    const secretKey = /password|secret|privatekey|apikey|accesskey/i;
    const secretValue = [/A[KS]IA[0-9A-Z]{16}/, /-----BEGIN [A-Z ]*PRIVATE KEY-----/, /(?=[A-Za-z0-9+/]*[a-z])(?=[A-Za-z0-9+/]*[A-Z])(?=[A-Za-z0-9+/]*\d)[A-Za-z0-9+/]{40,}/];
    const walk = (value: unknown, at: string) => {
      if (typeof value === 'string') {
        const cdkLogicalId = /^[A-Za-z0-9]+[0-9A-F]{8}$/.test(value);
        if (!cdkLogicalId && secretValue.some((re) => re.test(value))) findings.push(at);
        return;
      }
      if (value && typeof value === 'object') {
        for (const [k, v] of Object.entries(value)) {
          // GenerateSecretString holds instructions for Secrets Manager (which generates the value at deploy), not a value.
          const generated = at.endsWith('.GenerateSecretString');
          if (secretKey.test(k) && typeof v === 'string' && !generated) findings.push(`${at}.${k}`);
          walk(v, `${at}.${k}`);
        }
      }
    };
    walk(template.toJSON(), '$');
    expect(findings).toEqual([]);
  });
});

/** The actions of the invoke-agent role's task policy in `of`'s template. */
function invokeAgentStatements(of: MultiTenantAiAssistantStack): Json[] {
  const t = Template.fromStack(of);
  const invokeRole = of.getLogicalId(of.workflow.taskRoles['invoke-agent'].node.defaultChild as CfnResource);
  const policy = Object.values(t.toJSON().Resources as Record<string, Resource>).find(
    (r) => r.Type === 'AWS::IAM::Policy' && r.Properties.PolicyName === TASK_POLICY_NAME && JSON.stringify(r.Properties.Roles) === JSON.stringify([{ Ref: invokeRole }]),
  )!;
  return (policy.Properties.PolicyDocument as { Statement: Json[] }).Statement;
}
const bedrockActions = (statements: Json[]) => statements.flatMap((s) => asArray(s.Action as string | string[])).filter((a) => a.startsWith('bedrock:')).sort();

describe('MultiTenantAiAssistantStack with agentRuntime converse', () => {
  it('creates no agent, and lets invoke-agent call the chosen model only (never InvokeAgent)', () => {
    // Bundling is skipped here: the assets are the same as above, only the agent differs.
    const app = new App({ outdir: mkdtempSync(path.join(os.tmpdir(), 'cdk-test-')), context: { 'aws:cdk:bundling-stacks': [] } });
    const converse = new MultiTenantAiAssistantStack(app, 'ConverseTest', { agentRuntime: 'converse', modelId: HAIKU_45 });
    const t = Template.fromStack(converse);
    t.resourceCountIs('AWS::Bedrock::Agent', 0);
    t.resourceCountIs('AWS::Bedrock::AgentAlias', 0);
    t.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: { AGENT_RUNTIME: 'converse', AGENT_ID: '', AGENT_ALIAS_ID: '' } },
    });
    const statements = invokeAgentStatements(converse);
    const converseStatement = statements.find((s) => s.Sid === 'ConverseWithTheModel')!;
    expect(asArray(converseStatement.Resource).map(resourceText)).toEqual([`arn:<token>:bedrock:<token>::foundation-model/${HAIKU_45}`]);
    expect(bedrockActions(statements)).toEqual(['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream']);
  });

  it('control: with bedrock-agent, invoke-agent may call InvokeAgent on the alias only (never InvokeModel)', () => {
    const statements = invokeAgentStatements(stack);
    expect(bedrockActions(statements)).toEqual(['bedrock:InvokeAgent']);
    expect(statements.find((s) => s.Sid === 'InvokeTheAgent')).toBeDefined();
  });
});

describe('defaults for a new account, and IAM for inference profiles from the models table (issue 15)', () => {
  const NOVA_2_LITE = 'amazon.nova-2-lite-v1:0';
  const apps: App[] = [];
  afterAll(() => apps.forEach((a) => rmSync(a.outdir, { recursive: true, force: true })));
  /** A stack synthesized without bundling (the assets are the same as the main stack's). */
  const synth = (props: ConstructorParameters<typeof MultiTenantAiAssistantStack>[2]) => {
    const app = new App({ outdir: mkdtempSync(path.join(os.tmpdir(), 'cdk-test-')), context: { 'aws:cdk:bundling-stacks': [] } });
    apps.push(app);
    return new MultiTenantAiAssistantStack(app, `ModelsTest${apps.length}`, props);
  };
  const modelIdOf = (of: MultiTenantAiAssistantStack) =>
    (Template.fromStack(of).findResources('AWS::Lambda::Function', { Properties: { Environment: { Variables: { AGENT_RUNTIME: Match.anyValue() } } } }));
  const converseResources = (of: MultiTenantAiAssistantStack) =>
    asArray(invokeAgentStatements(of).find((s) => s.Sid === 'ConverseWithTheModel')!.Resource).map(resourceText);
  const fm = (region: string, id: string) => `arn:<token>:bedrock:${region}::foundation-model/${id}`;
  const profile = (id: string) => `arn:<token>:bedrock:<token>:<token>:inference-profile/${id}`;

  it('defaults to converse and to Claude Haiku 4.5 through the profile of the Region\'s geography (control: another geography, another profile)', () => {
    const eu = synth({ env: { region: 'eu-west-1' } });
    const t = Template.fromStack(eu);
    t.resourceCountIs('AWS::Bedrock::Agent', 0);
    const variables = Object.values(modelIdOf(eu)).map((r) => (r as Resource).Properties.Environment as { Variables: Json }).map((e) => e.Variables);
    expect(variables.length).toBeGreaterThan(0);
    for (const v of variables) expect(v).toMatchObject({ AGENT_RUNTIME: 'converse', MODEL_ID: `eu.${HAIKU_45}` });
    const us = synth({ env: { region: 'us-east-2' } });
    expect(Object.values(modelIdOf(us)).map((r) => ((r as Resource).Properties.Environment as { Variables: Json }).Variables.MODEL_ID)).toContain(`us.${HAIKU_45}`);
  });

  it('refuses at synth, saying why, when the table has no profile for the Region\'s geography or the stack has no Region (control: a named model)', () => {
    expect(() => synth({ env: { region: 'ap-northeast-1' } })).toThrow(/Claude Haiku 4\.5 has no inference profile .* for ap-northeast-1 \(geography apac;.*-c modelId=/);
    expect(() => synth({ env: { region: 'sa-east-1' } })).toThrow(/for sa-east-1 \(geography unknown;/);
    expect(() => synth({})).toThrow(/has no Region: set one .* or name a model with -c modelId=<id>/);
    expect(() => synth({ env: { region: 'ap-northeast-1' }, modelId: HAIKU_45 })).not.toThrow();
    // A model that cannot be invoked by its bare id on demand is refused too (control: its profile, above and below).
    expect(() => synth({ modelId: NOVA_2_LITE })).toThrow(/Amazon Nova 2 Lite cannot be invoked by its model id on demand: use an inference profile/);
  });

  it('a bare model id: the foundation model in the deploy Region only', () => {
    expect(converseResources(synth({ agentRuntime: 'converse', modelId: HAIKU_45 }))).toEqual([fm('<token>', HAIKU_45)]);
  });

  it('a geographic profile: the profile, and the model in the deploy Region and in every destination Region of the geography', () => {
    expect(converseResources(synth({ agentRuntime: 'converse', modelId: `eu.${HAIKU_45}` }))).toEqual([
      profile(`eu.${HAIKU_45}`),
      fm('<token>', HAIKU_45),
      ...GEOGRAPHY_DESTINATIONS.eu.map((r) => fm(r, HAIKU_45)),
    ]);
  });

  it('a global profile: the profile, the model in the deploy Region, and the model with no Region', () => {
    expect(converseResources(synth({ agentRuntime: 'converse', modelId: `global.${NOVA_2_LITE}` }))).toEqual([
      profile(`global.${NOVA_2_LITE}`),
      fm('<token>', NOVA_2_LITE),
      `arn:<token>:bedrock:::foundation-model/${NOVA_2_LITE}`,
    ]);
  });

  it('the Bedrock agent\'s role gets the same resources as the converse role, and the agent names the profile', () => {
    const agentStack = synth({ agentRuntime: 'bedrock-agent', modelId: `us.${HAIKU_45}` });
    const t = Template.fromStack(agentStack);
    t.hasResourceProperties('AWS::Bedrock::Agent', { FoundationModel: `us.${HAIKU_45}` });
    const agentRole = Object.values(t.findResources('AWS::IAM::Role', { Properties: { Description: Match.stringLikeRegexp('Bedrock agent') } }))[0] as Resource;
    const statement = (agentRole.Properties.Policies as { PolicyDocument: { Statement: Json[] } }[])[0]!.PolicyDocument.Statement[0]!;
    expect(asArray(statement.Action as string[]).sort()).toEqual(['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream']);
    expect(asArray(statement.Resource).map(resourceText)).toEqual([profile(`us.${HAIKU_45}`), fm('<token>', HAIKU_45), ...GEOGRAPHY_DESTINATIONS.us.map((r) => fm(r, HAIKU_45))]);
    // Control: the converse role of the same model is generated by the same function.
    expect(converseResources(synth({ agentRuntime: 'converse', modelId: `us.${HAIKU_45}` }))).toEqual(asArray(statement.Resource).map(resourceText));
  });

  it('refuses a profile id the table does not hold (its destination Regions are unknown)', () => {
    expect(() => synth({ agentRuntime: 'converse', modelId: 'eu.vendor.unknown-model-v1:0' })).toThrow(/not in the models table .* destination Regions are unknown/);
  });
});
