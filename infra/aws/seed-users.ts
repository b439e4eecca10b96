/**
 * The seeded tenant users (tasks/seed.ts): each gets a temporary password that Secrets Manager
 * generates at deploy time (never in the template, never derived from a synth-time value), and a
 * Lambda-backed custom resource creates the users with it (with no orders).
 * `npm run deploy` prints the command that reads a user's password.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CustomResource, Duration, RemovalPolicy } from 'aws-cdk-lib';
import type * as cognito from 'aws-cdk-lib/aws-cognito';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { lambdaBundling } from './bundling.ts';
import { SEED_USERS } from '../../tasks/seed.ts';
import type { SeedUsersProperties } from './seed-users-handler.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface SeedUsersProps {
  readonly userPool: cognito.IUserPool;
  /** Name prefix of the password secrets (`<prefix><username>`). */
  readonly secretNamePrefix: string;
  /** What happens to the password secrets when the stack is deleted. @default RemovalPolicy.DESTROY */
  readonly removalPolicy?: RemovalPolicy;
}

export class SeedUsers extends Construct {
  /** Username -> the secret that holds `{ "username", "tenantId", "password" }`. */
  readonly passwordSecrets: ReadonlyMap<string, secretsmanager.Secret>;
  readonly function: nodejs.NodejsFunction;

  constructor(scope: Construct, id: string, props: SeedUsersProps) {
    super(scope, id);
    const secrets = new Map(
      SEED_USERS.map((u) => [
        u.username,
        new secretsmanager.Secret(this, `Password-${u.username}`, {
          secretName: `${props.secretNamePrefix}${u.username}`,
          description: `Temporary password of the seeded user ${u.username} (change at first sign-in)`,
          generateSecretString: {
            secretStringTemplate: JSON.stringify({ username: u.username, tenantId: u.tenantId }),
            generateStringKey: 'password',
            passwordLength: 24,
            requireEachIncludedType: true,
            excludeCharacters: '"\'`\\/@ ',
          },
          removalPolicy: props.removalPolicy ?? RemovalPolicy.DESTROY,
        }),
      ]),
    );
    this.passwordSecrets = secrets;

    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Adds the seed users that are missing; refreshes unused temporary passwords',
    });
    const logGroup = new logs.LogGroup(this, 'Logs', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    const policy = new iam.Policy(this, 'Policy', {
      roles: [role],
      statements: [
        new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [...secrets.values()].map((s) => s.secretArn) }),
        new iam.PolicyStatement({
          actions: ['cognito-idp:AdminCreateUser', 'cognito-idp:AdminGetUser', 'cognito-idp:AdminSetUserPassword'],
          resources: [props.userPool.userPoolArn],
        }),
        new iam.PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }),
      ],
    });
    this.function = new nodejs.NodejsFunction(this, 'Function', {
      entry: path.join(ROOT, 'infra/aws/seed-users-handler.ts'),
      handler: 'handler',
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      timeout: Duration.minutes(2),
      role,
      logGroup,
      projectRoot: ROOT,
      depsLockFilePath: path.join(ROOT, 'package-lock.json'),
      bundling: lambdaBundling(),
    });

    const properties: SeedUsersProperties = {
      UserPoolId: props.userPool.userPoolId,
      PasswordSecrets: Object.fromEntries([...secrets].map(([u, s]) => [u, s.secretArn])),
      // `-c seedUsersRefresh=<new value>`: an Update that sets unused temporary passwords again.
      Refresh: String(this.node.tryGetContext('seedUsersRefresh') ?? ''),
    };
    const resource = new CustomResource(this, 'Resource', {
      serviceToken: this.function.functionArn,
      resourceType: 'Custom::SeedUsers',
      properties,
    });
    resource.node.addDependency(policy);
  }
}
