/**
 * Workflow: the Express state machine of states/definition.ts (the same object, with definition
 * substitutions for the function ARNs), one Node.js 22 arm64 Lambda per task with its own role,
 * the tenant access role the mint-credentials task assumes, and the KMS key that seals the
 * minted credentials between states. Every policy document comes from tasks/policies.ts unchanged.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArnFormat, Aws, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { lambdaBundling } from './bundling.ts';
import { definition, FUNCTION_ARN_VARIABLES } from '../../states/definition.ts';
import { taskEnvironment, type AgentRuntimeKind } from '../../tasks/config.ts';
import { publishRoleTrustPolicy, sealKeyPolicy, taskRolePolicies, tenantAccessRolePolicy, tenantAccessRoleTrustPolicy, type PolicyResources } from '../../tasks/policies.ts';
import { lambdaEntry } from '../../tasks/lambda-entries.ts';
import { FUNCTION_TIMEOUT_SECONDS, TASK_NAMES, type TaskName } from '../../tasks/task-names.ts';
import type { TableNames } from '../../tasks/tables.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The name of each task role's policy: exactly `taskRolePolicies(resources)[task]`. */
export const TASK_POLICY_NAME = 'TaskPolicy';
/** The name of each task role's second policy: writing to its own function's log group. */
export const LOGGING_POLICY_NAME = 'FunctionLogs';

export interface WorkflowProps {
  readonly tables: TableNames;
  /** The state machine's physical name (the API computes its ARN from it). */
  readonly stateMachineName: string;
  readonly userPoolId: string;
  readonly userPoolArn: string;
  readonly graphqlApiArn: string;
  readonly graphqlUrl: string;
  readonly agentRuntime: AgentRuntimeKind;
  readonly agentId: string;
  readonly agentAliasId: string;
  readonly agentAliasArn: string;
  /** The model id or inference profile id Converse (or the agent) calls; its IAM comes from the models table. */
  readonly modelId: string;
  /** Retention of the function and state machine logs. @default RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** What happens to the seal key and the log groups when the stack is deleted. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

export class Workflow extends Construct {
  readonly stateMachine: sfn.StateMachine;
  /** Where the Express executions' history goes (level ALL, with execution data). */
  readonly stateMachineLogGroup: logs.LogGroup;
  readonly functions: Readonly<Record<TaskName, nodejs.NodejsFunction>>;
  readonly taskRoles: Readonly<Record<TaskName, iam.Role>>;
  readonly tenantAccessRole: iam.Role;
  readonly sealKey: kms.Key;
  /** The ARNs the shared policies were rendered with (CDK tokens). */
  readonly policyResources: PolicyResources;

  constructor(scope: Construct, id: string, props: WorkflowProps) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const retention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    const location = { partition: Aws.PARTITION, region: Aws.REGION, accountId: Aws.ACCOUNT_ID };

    const taskRoles = Object.fromEntries(
      TASK_NAMES.map((task) => [
        task,
        new iam.Role(this, `${pascal(task)}Role`, {
          assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
          description: `The ${task} task: exactly the ${task} policy of tasks/policies.ts`,
        }),
      ]),
    ) as Record<TaskName, iam.Role>;
    this.taskRoles = taskRoles;
    // The publish role is also assumed by the other publishing tasks: its trust policy is the shared document.
    (taskRoles['publish-answer'].node.defaultChild as iam.CfnRole).assumeRolePolicyDocument = publishRoleTrustPolicy({
      validateContextRoleArn: taskRoles['validate-context'].roleArn,
      invokeAgentRoleArn: taskRoles['invoke-agent'].roleArn,
    });

    this.tenantAccessRole = new iam.Role(this, 'TenantAccessRole', {
      assumedBy: new iam.ArnPrincipal(taskRoles['mint-credentials'].roleArn),
      description: 'Tenant-scoped reads for the agent tools; assumed by mint-credentials with session tags and a session policy',
      maxSessionDuration: Duration.hours(1),
      inlinePolicies: { TenantRead: iam.PolicyDocument.fromJson(tenantAccessRolePolicy({ location, tables: props.tables })) },
    });
    // The trust policy is the shared document itself (with the tag conditions), not CDK's rendering of a principal.
    (this.tenantAccessRole.node.defaultChild as iam.CfnRole).assumeRolePolicyDocument = tenantAccessRoleTrustPolicy({
      mintCredentialsRoleArn: taskRoles['mint-credentials'].roleArn,
    });

    // Key policy statements are added once the resources (which name the key's own ARN) exist.
    this.sealKey = new kms.Key(this, 'SealKey', {
      description: 'Seals tenant-scoped credentials between workflow states',
      enableKeyRotation: true,
      policy: new iam.PolicyDocument(),
      removalPolicy,
    });

    this.policyResources = {
      location,
      tables: props.tables,
      tenantAccessRoleArn: this.tenantAccessRole.roleArn,
      mintCredentialsRoleArn: taskRoles['mint-credentials'].roleArn,
      invokeAgentRoleArn: taskRoles['invoke-agent'].roleArn,
      validateContextRoleArn: taskRoles['validate-context'].roleArn,
      publishRoleArn: taskRoles['publish-answer'].roleArn,
      accountRootArn: `arn:${Aws.PARTITION}:iam::${Aws.ACCOUNT_ID}:root`,
      sealKeyArn: this.sealKey.keyArn,
      graphqlApiArn: props.graphqlApiArn,
      agentRuntime: props.agentRuntime,
      agentAliasArn: props.agentAliasArn,
      modelId: props.modelId,
      stateMachineArn: stateMachineArn(this, props.stateMachineName),
      userPoolArn: props.userPoolArn,
    };
    for (const statement of sealKeyPolicy(this.policyResources).Statement) {
      this.sealKey.addToResourcePolicy(iam.PolicyStatement.fromJson(statement));
    }

    const environment = taskEnvironment({
      tablePrefix: props.tables.prefix,
      tables: props.tables,
      tenantAccessRoleArn: this.tenantAccessRole.roleArn,
      publishRoleArn: taskRoles['publish-answer'].roleArn,
      sealKeyId: this.sealKey.keyArn,
      graphqlUrl: props.graphqlUrl,
      agentRuntime: props.agentRuntime,
      agentId: props.agentId,
      agentAliasId: props.agentAliasId,
      modelId: props.modelId,
      userPoolId: props.userPoolId,
    });
    const documents = taskRolePolicies(this.policyResources);

    const functions = {} as Record<TaskName, nodejs.NodejsFunction>;
    for (const task of TASK_NAMES) {
      const role = taskRoles[task];
      new iam.Policy(this, `${pascal(task)}TaskPolicy`, {
        policyName: TASK_POLICY_NAME,
        document: iam.PolicyDocument.fromJson(documents[task]),
        roles: [role],
      });
      const logGroup = new logs.LogGroup(this, `${pascal(task)}Logs`, { retention, removalPolicy });
      new iam.Policy(this, `${pascal(task)}LoggingPolicy`, {
        policyName: LOGGING_POLICY_NAME,
        statements: [new iam.PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] })],
        roles: [role],
      });
      functions[task] = new nodejs.NodejsFunction(this, `${pascal(task)}Function`, {
        // The task's function, whichever entry: invoke-agent bundles only the deployment's agent runtime.
        entry: lambdaEntryPath(task, props.agentRuntime),
        handler: 'handler',
        runtime: lambda.Runtime.NODEJS_22_X,
        architecture: lambda.Architecture.ARM_64,
        memorySize: task === 'invoke-agent' ? 512 : 256,
        // One source with the local Lambda runtime; below the state's TimeoutSeconds (stack.test.ts).
        timeout: Duration.seconds(FUNCTION_TIMEOUT_SECONDS[task]),
        role,
        logGroup,
        environment,
        projectRoot: ROOT,
        depsLockFilePath: path.join(ROOT, 'package-lock.json'),
        bundling: lambdaBundling(),
      });
    }
    this.functions = functions;

    const smLogs = (this.stateMachineLogGroup = new logs.LogGroup(this, 'StateMachineLogs', {
      logGroupName: `/aws/vendedlogs/states/${props.stateMachineName}`,
      retention,
      removalPolicy,
    }));
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: props.stateMachineName,
      stateMachineType: sfn.StateMachineType.EXPRESS,
      definitionBody: sfn.DefinitionBody.fromString(JSON.stringify(definition)),
      definitionSubstitutions: Object.fromEntries(TASK_NAMES.map((t) => [FUNCTION_ARN_VARIABLES[t], functions[t].functionArn])),
      // ALL with execution data is safe: credentials travel sealed, never in plaintext.
      logs: { destination: smLogs, level: sfn.LogLevel.ALL, includeExecutionData: true },
      tracingEnabled: true,
    });
    for (const task of TASK_NAMES) functions[task].grantInvoke(this.stateMachine);
  }
}

/** The source file CDK bundles for `task`'s function in a deployment of `agentRuntime` (tasks/lambda-entries.ts). */
export function lambdaEntryPath(task: TaskName, agentRuntime: AgentRuntimeKind): string {
  return path.join(ROOT, 'tasks/lambda', `${lambdaEntry(task, agentRuntime)}.ts`);
}

function pascal(task: string): string {
  return task.replace(/(^|-)([a-z])/g, (_m, _d, c: string) => c.toUpperCase());
}

/** The ARN of the state machine named `name` in this stack, known before the state machine exists. */
export function stateMachineArn(scope: Construct, name: string): string {
  return Stack.of(scope).formatArn({ service: 'states', resource: 'stateMachine', resourceName: name, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
}
