/**
 * The whole assistant on AWS: identity, data, agent, API, workflow and the seeded users, wired with the shared
 * contracts (tasks/, states/, resolvers/). One stack; each part is a small construct.
 */
import { CfnOutput, RemovalPolicy, Token, Stack, Validations, type CfnResource, type StackProps } from 'aws-cdk-lib';
import type * as appsync from 'aws-cdk-lib/aws-appsync';
import type { Construct, IConstruct } from 'constructs';
import { AGENT_RUNTIMES, type AgentRuntimeKind } from '../../tasks/config.ts';
import { SEED_TENANTS, SEED_USERS } from '../../tasks/seed.ts';
import { TableNames } from '../../tasks/tables.ts';
import { DEFAULT_MODEL_ID, describeUnavailable, findModel, profileForRegion } from '../../tasks/models.ts';
import { Agent } from './agent.ts';
import { Api } from './api.ts';
import { ApiFirewall } from './waf.ts';
import { Data } from './data.ts';
import { Identity } from './identity.ts';
import { SeedUsers } from './seed-users.ts';
import { stateMachineArn, Workflow } from './workflow.ts';

/** Construct id of CDK's AwsCustomResource singleton provider function. */
const SEED_PROVIDER_ID = 'AWS679f53fac002430cb0da5b7982bd2287';

/**
 * The default model's inference profile for the stack's Region (us./eu./apac. by geography). An
 * environment-agnostic stack has no Region to choose by: synthesis asks for one or for a model.
 */
export function defaultModelId(region: string): string {
  if (Token.isUnresolved(region)) {
    throw new Error(
      `The default model (${DEFAULT_MODEL_ID}) is called through the inference profile of the deploy Region's geography, and this stack has no Region: ` +
        'set one (AWS_REGION, or a profile with a region; CDK passes it as CDK_DEFAULT_REGION), or name a model with -c modelId=<id>.',
    );
  }
  return profileForRegion(DEFAULT_MODEL_ID, region);
}

/** The start of the per-deployment names: the stack name, and the deployment label if there is one. */
export function deploymentBase(stackName: string, deployment?: string): string {
  if (deployment === undefined || deployment === '') return stackName;
  if (!/^[a-z0-9](?:[a-z0-9-]{0,14}[a-z0-9])?$/.test(deployment)) {
    throw new Error(`deployment must be 1-16 lower-case letters, digits or inner hyphens, got ${JSON.stringify(deployment)}`);
  }
  return `${stackName}-${deployment}`;
}

export interface MultiTenantAiAssistantStackProps extends StackProps {
  /** Which agent runtime the invoke-agent task uses. @default 'converse' (Agents Classic is closed to new customers) */
  readonly agentRuntime?: AgentRuntimeKind;
  /**
   * The model id or inference profile id of the models table (tasks/models.ts) the assistant calls;
   * IAM is generated from the table for it. @default the inference profile of the stack Region's
   * geography for DEFAULT_MODEL_ID (Claude Haiku 4.5); synthesis refuses when the table has none.
   */
  readonly modelId?: string;
  /** What happens to data (tables, user pool, key, logs) on `cdk destroy`. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * A label of this deployment, part of the names of what is retained on `cdk destroy` (the tables,
   * the state machine and its log group): a new label deploys again beside the retained ones.
   * Lower-case letters, digits and hyphens, at most 16. @default none: names start `<stack name>-`
   */
  readonly deployment?: string;
  /** Prefix of the physical table names. @default `<stack name>-<deployment>-` (`<stack name>-` without a deployment label) */
  readonly tablePrefix?: string;
  /** The GraphQL API answers introspection queries (development stacks only). @default false */
  readonly introspection?: boolean;
}

export class MultiTenantAiAssistantStack extends Stack {
  readonly identity: Identity;
  readonly data: Data;
  readonly agent: Agent;
  readonly api: Api;
  /** AWS WAF in front of the API: a rate-based rule per source IP (waf.ts). */
  readonly firewall: ApiFirewall;
  readonly workflow: Workflow;
  readonly seedUsers: SeedUsers;

  constructor(scope: Construct, id: string, props: MultiTenantAiAssistantStackProps = {}) {
    super(scope, id, props);
    const agentRuntime = props.agentRuntime ?? 'converse';
    if (!AGENT_RUNTIMES.includes(agentRuntime)) throw new Error(`agentRuntime must be one of ${AGENT_RUNTIMES.join(', ')}`);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const base = deploymentBase(this.stackName, props.deployment);
    const tables = new TableNames(props.tablePrefix ?? `${base}-`);
    const stateMachineName = `${base}-assistant`;

    const modelId = props.modelId ?? defaultModelId(this.region);
    const named = findModel(modelId);
    // Static refusals only (the model's lifecycle depends on the day: the preflight checks it).
    if (named?.via === 'model' && !named.model.onDemand) {
      throw new Error(describeUnavailable(modelId, this.region, { available: false, reason: 'PROFILE_REQUIRED', ref: named }));
    }

    this.identity = new Identity(this, 'Identity', { removalPolicy });
    this.data = new Data(this, 'Data', { tables, tenants: SEED_TENANTS, removalPolicy });
    this.agent = new Agent(this, 'Agent', { runtime: agentRuntime, modelId: modelId, namePrefix: `${this.stackName}-` });
    this.api = new Api(this, 'Api', {
      userPool: this.identity.userPool,
      webClient: this.identity.webClient,
      stateMachineArn: stateMachineArn(this, stateMachineName),
      tables,
      dynamoDbTables: { usage: this.data.usage, config: this.data.config },
      name: `${this.stackName}-api`,
      removalPolicy,
      introspection: props.introspection ?? false,
    });
    const graphqlApi = this.api.graphqlApi;
    this.firewall = new ApiFirewall(this, 'ApiFirewall', { graphqlApiArn: graphqlApi.arn, name: `${this.stackName}-api` });
    this.workflow = new Workflow(this, 'Workflow', {
      tables,
      stateMachineName,
      userPoolId: this.identity.userPool.userPoolId,
      userPoolArn: this.identity.userPool.userPoolArn,
      graphqlApiArn: graphqlApi.arn,
      graphqlUrl: graphqlApi.graphqlUrl,
      agentRuntime,
      agentId: this.agent.agentId,
      agentAliasId: this.agent.agentAliasId,
      agentAliasArn: this.agent.agentAliasArn,
      modelId: modelId,
      removalPolicy,
    });

    this.seedUsers = new SeedUsers(this, 'SeedUsers', {
      userPool: this.identity.userPool,
      secretNamePrefix: `${this.stackName}/seed-users/`,
    });
    this.seedUsers.node.addDependency(this.data);

    new CfnOutput(this, 'GraphqlUrl', { value: graphqlApi.graphqlUrl });
    new CfnOutput(this, 'RealtimeUrl', { value: (graphqlApi.node.defaultChild as appsync.CfnGraphQLApi).attrRealtimeUrl });
    new CfnOutput(this, 'UserPoolId', { value: this.identity.userPool.userPoolId });
    new CfnOutput(this, 'UserPoolClientId', { value: this.identity.webClient.userPoolClientId });
    new CfnOutput(this, 'Region', { value: this.region });
    new CfnOutput(this, 'SeedUserPasswordCommand', {
      description: 'Reads a seeded user\'s temporary password (replace <username>: ' + SEED_USERS.map((u) => u.username).join(', ') + ')',
      value: `aws secretsmanager get-secret-value --region ${this.region} --secret-id ${this.stackName}/seed-users/<username> --query SecretString --output text`,
    });
    new CfnOutput(this, 'StateMachineArn', { value: this.workflow.stateMachine.stateMachineArn });
    // `npm run executions -- --target aws`: Express executions are read from their log group; replay reads the runs table.
    new CfnOutput(this, 'StateMachineLogGroupName', { value: this.workflow.stateMachineLogGroup.logGroupName });
    new CfnOutput(this, 'RunsTableName', { value: this.data.runs.tableName });
    // `npm run tenants|users -- --target aws`: onboarding writes config rows, creates `<prefix><tenantId>-orders`, keeps user secrets beside the seeded ones.
    new CfnOutput(this, 'ConfigTableName', { value: this.data.config.tableName });
    new CfnOutput(this, 'TablePrefix', { value: tables.prefix });
    new CfnOutput(this, 'UserSecretPrefix', { value: `${this.stackName}/seed-users/` });

    this.suppressNagFindings();
  }

  /** Each remaining cdk-nag finding, acknowledged with the reason it does not apply. */
  private suppressNagFindings(): void {
    const ack = (scope: IConstruct, id: string, reason: string) => Validations.of(scope).acknowledge({ id, reason });
    ack(this.identity.userPool, 'AwsSolutions-COG2', 'MFA is a per-tenant product decision; the demo users sign in with a password only.');
    ack(this.identity.userPool, 'AwsSolutions-COG8', 'Cognito threat protection (Plus tier) is a cost decision left to the operator.');
    ack(this.api.graphqlApi, 'AwsSolutions-ASC3', 'Verbose request content is excluded on purpose: it carries tokens, questions and answers.');
    // The singleton Lambda behind AwsCustomResource (the tenant config seed), shared by the stack.
    const seedProvider = this.node.tryFindChild(SEED_PROVIDER_ID);
    if (seedProvider) {
      ack(seedProvider, 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]', 'CDK\'s AwsCustomResource provider logs with the basic execution policy; it runs once, at create.');
    }
    const machine = this.workflow.stateMachine;
    ack(machine, 'AwsSolutions-IAM5[Resource::*]', 'CloudWatch Logs delivery and X-Ray accept only `*` resources (no data, STS, KMS or Bedrock action).');
    for (const fn of Object.values(this.workflow.functions)) {
      const logicalId = this.getLogicalId(fn.node.defaultChild as CfnResource);
      ack(machine, `AwsSolutions-IAM5[Resource::<${logicalId}.Arn>:*]`, 'Invoking versions and aliases of our own task function (lambda:InvokeFunction only).');
    }
    for (const secret of this.seedUsers.passwordSecrets.values()) {
      ack(secret, 'AwsSolutions-SMG4', 'A temporary password of a demo user, replaced at first sign-in; rotating it would not reach Cognito.');
    }
    for (const fn of [...Object.values(this.workflow.functions), this.seedUsers.function, this.identity.preTokenGeneration]) {
      ack(fn, 'AwsSolutions-L1', 'Node.js 22 is the runtime the tasks are built and tested for (engines and esbuild target).');
    }
  }
}
