/**
 * Identity: the Cognito user pool the store customers sign in to. The tenant a user belongs to is
 * the immutable `custom:tenantId` attribute; no app client can write it, so the claim in the ID
 * token (which the resolvers read) is set only by the operator who creates the user.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import { Construct } from 'constructs';
import { USER_POOL_PASSWORD_POLICY as POLICY } from '../../tasks/user-pool-policy.ts';

/** The custom attribute that carries the tenant (`custom:tenantId` in tokens). */
export const TENANT_ATTRIBUTE = 'tenantId';

export interface IdentityProps {
  /** What happens to the user pool when the stack is deleted. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

export class Identity extends Construct {
  readonly userPool: cognito.UserPool;
  readonly webClient: cognito.UserPoolClient;

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
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });

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
