/**
 * API: AppSync GraphQL with Cognito user pools by default and IAM as an extra mode. Schema,
 * resolvers and pipeline functions come from resolvers/ (the files infra/local runs, as
 * infra/resolvers.ts lists them), bundled for APPSYNC_JS. `ask` starts the state machine through an
 * HTTP data source signed with IAM, whose role holds exactly `apiDataSourcePolicy`; the usage and
 * config tables are DynamoDB data sources whose one role holds exactly `apiUsageDataSourcePolicy`;
 * `publishAnswer` (IAM-only in the schema) and `onAnswer` use NONE.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Aws, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as appsync from 'aws-cdk-lib/aws-appsync';
import type * as cognito from 'aws-cdk-lib/aws-cognito';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { QUERY_DEPTH_LIMIT, RESOLVER_COUNT_LIMIT } from '../../tasks/api-limits.ts';
import { apiDataSourcePolicy, apiUsageDataSourcePolicy } from '../../tasks/api-policies.ts';
import { appClientIdRegex } from '../../tasks/app-client.ts';
import type { TableNames } from '../../tasks/tables.ts';
import { apiEnvironment, bundleResolverSync, isPipeline, RESOLVERS, type ApiTable, type DataSource } from '../resolvers.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface ApiProps {
  readonly userPool: cognito.IUserPool;
  /**
   * The one app client whose tokens (ID or access) the API accepts (`appIdClientRegex`); without
   * it AppSync accepts the tokens of every app client of the pool.
   */
  readonly webClient: cognito.IUserPoolClient;
  /** The assistant's state machine, which `ask` starts (an ARN, so the API need not wait for it). */
  readonly stateMachineArn: string;
  /** The table names (the DynamoDB data sources' tables, and `ctx.env` of the resolvers). */
  readonly tables: TableNames;
  /** The tables the API's DynamoDB data sources serve. */
  readonly dynamoDbTables: Readonly<Record<ApiTable, dynamodb.ITable>>;
  /** Retention of the API's log group. @default RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** What happens to the API's log group when the stack is deleted. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
  /** API name. @default the construct path */
  readonly name?: string;
  /**
   * Answer introspection queries (`__schema`, `__type`): for a development API only, since the
   * schema then describes itself to anyone who can call it. @default false (introspection DISABLED)
   */
  readonly introspection?: boolean;
}

export class Api extends Construct {
  readonly graphqlApi: appsync.GraphqlApi;
  /** The role AppSync signs StartExecution with. */
  readonly dataSourceRole: iam.Role;
  /** The role AppSync signs the DynamoDB data sources' calls with (usage and config tables). */
  readonly usageDataSourceRole: iam.Role;

  constructor(scope: Construct, id: string, props: ApiProps) {
    super(scope, id);
    const region = Stack.of(this).region;

    this.graphqlApi = new appsync.GraphqlApi(this, 'GraphqlApi', {
      name: props.name ?? this.node.path.replace(/\//g, '-'),
      definition: appsync.Definition.fromFile(path.join(ROOT, 'resolvers/schema.graphql')),
      authorizationConfig: {
        defaultAuthorization: {
          authorizationType: appsync.AuthorizationType.USER_POOL,
          userPoolConfig: { userPool: props.userPool, appIdClientRegex: appClientIdRegex(props.webClient.userPoolClientId) },
        },
        additionalAuthorizationModes: [{ authorizationType: appsync.AuthorizationType.IAM }],
      },
      xrayEnabled: true,
      introspectionConfig: props.introspection ? appsync.IntrospectionConfig.ENABLED : appsync.IntrospectionConfig.DISABLED,
      // The same numbers the local AppSync enforces: one resolver per request, so one request can
      // start one question at most, however many aliases it sends.
      queryDepthLimit: QUERY_DEPTH_LIMIT,
      resolverCountLimit: RESOLVER_COUNT_LIMIT,
      environmentVariables: apiEnvironment({ stateMachineArn: props.stateMachineArn, tables: { usage: props.tables.usage, config: props.tables.config } }),
    });

    // Field logging at ERROR without verbose content, into a log group created here (so that it has
    // a retention without CDK's log-retention Lambda), with a role that may write to it only.
    const logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName: `/aws/appsync/apis/${this.graphqlApi.apiId}`,
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    const logsRole = new iam.Role(this, 'LogsRole', {
      assumedBy: new iam.ServicePrincipal('appsync.amazonaws.com'),
      description: 'AppSync field logging into the API log group',
    });
    new iam.Policy(this, 'LogsPolicy', {
      roles: [logsRole],
      statements: [new iam.PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] })],
    });
    (this.graphqlApi.node.defaultChild as appsync.CfnGraphQLApi).logConfig = {
      cloudWatchLogsRoleArn: logsRole.roleArn,
      fieldLogLevel: appsync.FieldLogLevel.ERROR,
      excludeVerboseContent: true,
    };

    this.dataSourceRole = new iam.Role(this, 'StepFunctionsDataSourceRole', {
      assumedBy: new iam.ServicePrincipal('appsync.amazonaws.com'),
      description: 'AppSync HTTP data source: starts the assistant state machine only',
      inlinePolicies: { StartExecution: iam.PolicyDocument.fromJson(apiDataSourcePolicy({ stateMachineArn: props.stateMachineArn })) },
    });
    const stepFunctions = new appsync.HttpDataSource(this, 'StepFunctions', {
      api: this.graphqlApi,
      endpoint: `https://states.${region}.amazonaws.com/`,
      authorizationConfig: { signingRegion: region, signingServiceName: 'states' },
      serviceRole: this.dataSourceRole,
      description: 'Step Functions StartExecution, signed with IAM',
    });
    const none = new appsync.NoneDataSource(this, 'None', { api: this.graphqlApi, description: 'Local resolvers: publish and subscribe' });

    // One role for both DynamoDB data sources, holding exactly apiUsageDataSourcePolicy. The data
    // sources get it as an immutable reference, so that CDK's automatic table grants (which would
    // add read and write on every item) are not added to it.
    const location = { partition: Aws.PARTITION, region: Aws.REGION, accountId: Aws.ACCOUNT_ID };
    this.usageDataSourceRole = new iam.Role(this, 'UsageDataSourceRole', {
      assumedBy: new iam.ServicePrincipal('appsync.amazonaws.com'),
      description: 'AppSync DynamoDB data sources: admission counters on the usage table, tenant plans from the config table',
      inlinePolicies: { Admission: iam.PolicyDocument.fromJson(apiUsageDataSourcePolicy({ location, tables: props.tables })) },
    });
    const usageRole = iam.Role.fromRoleArn(this, 'UsageDataSourceRoleRef', this.usageDataSourceRole.roleArn, { mutable: false });
    const tables: Record<ApiTable, appsync.DynamoDbDataSource> = {
      usage: new appsync.DynamoDbDataSource(this, 'UsageTable', { api: this.graphqlApi, table: props.dynamoDbTables.usage, serviceRole: usageRole, description: 'Usage table: admission counters' }),
      config: new appsync.DynamoDbDataSource(this, 'ConfigTable', { api: this.graphqlApi, table: props.dynamoDbTables.config, serviceRole: usageRole, readOnlyAccess: true, description: 'Tenant config: plans' }),
    };
    const dataSource = (d: DataSource): appsync.BaseDataSource => (d.kind === 'HTTP' ? stepFunctions : d.kind === 'DYNAMODB' ? tables[d.table] : none);

    for (const r of RESOLVERS) {
      const code = appsync.Code.fromInline(bundleResolverSync(r.file));
      const runtime = appsync.FunctionRuntime.JS_1_0_0;
      const common = { api: this.graphqlApi, typeName: r.typeName, fieldName: r.fieldName, runtime, code };
      if (!isPipeline(r)) {
        new appsync.Resolver(this, `${r.typeName}.${r.fieldName}`, { ...common, dataSource: dataSource(r.dataSource) });
        continue;
      }
      const pipelineConfig = r.functions.map(
        (f) =>
          new appsync.AppsyncFunction(this, `${r.typeName}.${r.fieldName}.${f.name}`, {
            api: this.graphqlApi,
            name: f.name,
            dataSource: dataSource(f.dataSource),
            runtime,
            code: appsync.Code.fromInline(bundleResolverSync(f.file)),
          }),
      );
      new appsync.Resolver(this, `${r.typeName}.${r.fieldName}`, { ...common, pipelineConfig });
    }
  }
}
