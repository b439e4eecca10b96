/**
 * Identity: the Cognito user pool the store customers sign in to. The tenant a user belongs to is
 * the immutable `custom:tenantId` attribute; no app client can write it, so the claim the resolvers
 * read is set only by the operator who creates the user: in the ID token by Cognito itself, and in
 * the access token (what the Amplify client sends) by the pre token generation trigger
 * (tasks/pre-token-generation.ts), event version V2_0, which needs the Essentials feature plan.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { USER_POOL_PASSWORD_POLICY as POLICY } from '../../tasks/user-pool-policy.ts';
import { lambdaBundling } from './bundling.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The custom attribute that carries the tenant (`custom:tenantId` in tokens). */
export const TENANT_ATTRIBUTE = 'tenantId';

export interface IdentityProps {
  /** What happens to the user pool when the stack is deleted. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

export class Identity extends Construct {
  readonly userPool: cognito.UserPool;
  readonly webClient: cognito.UserPoolClient;
  /** The pre token generation trigger (V2_0): the tenant claim in access tokens. */
  readonly preTokenGeneration: nodejs.NodejsFunction;

  constructor(scope: Construct, id: string, props: IdentityProps = {}) {
    super(scope, id);
    this.userPool = new cognito.UserPool(this, 'UserPool', {
      selfSignUpEnabled: false,
      signInAliases: { username: true },
      customAttributes: {
        [TENANT_ATTRIBUTE]: new cognito.StringAttribute({ minLen: 3, maxLen: 32, mutable: false }),
      },
      passwordPolicy: {
        minLength: POLICY.minLength,
        requireLowercase: POLICY.requireLowercase,
        requireUppercase: POLICY.requireUppercase,
        requireDigits: POLICY.requireDigits,
        requireSymbols: POLICY.requireSymbols,
        tempPasswordValidity: Duration.days(POLICY.temporaryPasswordValidityDays),
      },
      accountRecovery: cognito.AccountRecovery.NONE,
      // Essentials: the pre token generation trigger's V2_0 event (access token customization)
      // needs Essentials or Plus. Essentials is priced per monthly active user (README "Deploy").
      featurePlan: cognito.FeaturePlan.ESSENTIALS,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });

    // The trigger writes nothing and reads nothing but its event: its role may only write its logs.
    const logGroup = new logs.LogGroup(this, 'PreTokenGenerationLogs', {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    const role = new iam.Role(this, 'PreTokenGenerationRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Pre token generation trigger: writes its own log group only',
    });
    new iam.Policy(this, 'PreTokenGenerationPolicy', {
      roles: [role],
      statements: [new iam.PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] })],
    });
    this.preTokenGeneration = new nodejs.NodejsFunction(this, 'PreTokenGeneration', {
      entry: path.join(ROOT, 'tasks/pre-token-generation.ts'),
      handler: 'handler',
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      // Cognito waits 5 seconds for a trigger; the function answers from its event alone.
      timeout: Duration.seconds(5),
      memorySize: 256,
      role,
      logGroup,
      projectRoot: ROOT,
      depsLockFilePath: path.join(ROOT, 'package-lock.json'),
      bundling: lambdaBundling(),
      description: 'Pre token generation (V2_0): custom:tenantId in the access token, from the user attribute only',
    });
    this.userPool.addTrigger(cognito.UserPoolOperation.PRE_TOKEN_GENERATION_CONFIG, this.preTokenGeneration, cognito.LambdaVersion.V2_0);

    this.webClient = this.userPool.addClient('WebClient', {
      generateSecret: false,
      authFlows: { userSrp: true, userPassword: true },
      preventUserExistenceErrors: true,
      readAttributes: new cognito.ClientAttributes().withCustomAttributes(TENANT_ATTRIBUTE),
      // Nothing is writable by the client: above all not the tenant.
      writeAttributes: new cognito.ClientAttributes(),
    });
  }
}
