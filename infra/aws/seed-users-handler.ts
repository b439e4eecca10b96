/**
 * The seed users custom resource (Lambda-backed, bundled by infra/aws/seed-users.ts). On create and
 * update it creates each seeded user that does not exist yet with the temporary password Secrets
 * Manager generated at deploy time (never in the template), with the immutable `custom:tenantId`.
 * A seeded user starts with no orders (`npm run orders` adds some, locally). A user that already
 * exists is left as it is, and its password is never set again once the person
 * has signed in (changed it at first sign-in). A user that never signed in (FORCE_CHANGE_PASSWORD)
 * gets its temporary password set again from its secret, so that a temporary password past the
 * pool's validity is usable again after any update of this resource (`npm run deploy -- -c
 * seedUsersRefresh=<new value>` makes one). AdminSetUserPassword with Permanent false is Cognito's
 * remedy: "If the user doesn't sign in before the temporary password expires, ... you must repeat this
 * operation" (https://docs.aws.amazon.com/goto/cli2/cognito-idp-2016-04-18/AdminSetUserPassword).
 * A seeded user an operator removed since (`npm run users -- remove`) is not created again by a later
 * update (the previous properties name the users seeded before). Delete leaves users and data.
 */
import {
  AdminCreateUserCommand,
  AdminGetUserCommand,
  AdminSetUserPasswordCommand,
  CognitoIdentityProviderClient,
  UsernameExistsException,
  UserNotFoundException,
} from '@aws-sdk/client-cognito-identity-provider';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SEED_USERS } from '../../tasks/seed.ts';

/** The custom resource's properties (CloudFormation passes every value as a string). */
export interface SeedUsersProperties {
  readonly UserPoolId: string;
  /** Username -> ARN of the secret holding `{ "password": ... }`. */
  readonly PasswordSecrets: Record<string, string>;
  /** Any change makes CloudFormation send an Update, which refreshes unused temporary passwords. */
  readonly Refresh?: string;
}

export interface CustomResourceEvent {
  RequestType: 'Create' | 'Update' | 'Delete';
  ResponseURL: string;
  StackId: string;
  RequestId: string;
  LogicalResourceId: string;
  PhysicalResourceId?: string;
  ResourceProperties: SeedUsersProperties;
  /** On Update: the properties of the previous run; their PasswordSecrets name the users seeded before. */
  OldResourceProperties?: SeedUsersProperties;
}

/** The seeding's side effects, as ports (the AWS SDK clients implement them on Lambda). */
export interface SeedUsersDeps {
  readPassword(secretId: string): Promise<string>;
  /**
   * Creates the user with a temporary password and the tenant attribute and returns its `sub`, or
   * returns `undefined` when the username exists already (leaving that user untouched).
   */
  createUser(input: { userPoolId: string; username: string; tenantId: string; temporaryPassword: string }): Promise<string | undefined>;
  /**
   * For an existing user that never signed in (FORCE_CHANGE_PASSWORD), sets `temporaryPassword` as
   * its temporary password again (its validity starts anew) and returns true; a user that has
   * signed in is left untouched (false).
   */
  refreshTemporaryPassword(input: { userPoolId: string; username: string; temporaryPassword: string }): Promise<boolean>;
  /** Whether the username exists in the pool (AdminGetUser; UserNotFoundException is false). */
  userExists(input: { userPoolId: string; username: string }): Promise<boolean>;
}

export interface SeedUsersResult {
  created: string[];
  /** Users that existed already and were left untouched. */
  existing: string[];
  /** Users that existed but never signed in: their temporary password was set again from the secret. */
  refreshed: string[];
  /** Users seeded by an earlier run and since removed by an operator (`npm run users -- remove`): not created again. */
  removed: string[];
}

/**
 * Idempotent: run again (re-create, update), it creates only the users that are missing, except
 * those an earlier run seeded (`seededBefore`, from the previous properties on Update), which an
 * operator has removed since: a removal is not undone by the next deploy, while a user new to the
 * seed list is created.
 */
export async function seedUsers(props: SeedUsersProperties, deps: SeedUsersDeps, seededBefore: readonly string[] = []): Promise<SeedUsersResult> {
  const result: SeedUsersResult = { created: [], existing: [], refreshed: [], removed: [] };
  for (const user of SEED_USERS) {
    const secretId = props.PasswordSecrets[user.username];
    if (!secretId) throw new Error(`No password secret for ${user.username}`);
    if (seededBefore.includes(user.username) && !(await deps.userExists({ userPoolId: props.UserPoolId, username: user.username }))) {
      result.removed.push(user.username);
      continue;
    }
    const temporaryPassword = await deps.readPassword(secretId);
    const sub = await deps.createUser({ userPoolId: props.UserPoolId, username: user.username, tenantId: user.tenantId, temporaryPassword });
    if (sub === undefined) {
      const refreshed = await deps.refreshTemporaryPassword({ userPoolId: props.UserPoolId, username: user.username, temporaryPassword });
      (refreshed ? result.refreshed : result.existing).push(user.username);
      continue;
    }
    result.created.push(user.username);
  }
  return result;
}

/** The SDK clients the ports use (`send` is all they need; tests pass fakes). */
export interface SeedUsersClients {
  cognito: Pick<CognitoIdentityProviderClient, 'send'>;
  secrets: Pick<SecretsManagerClient, 'send'>;
}

export function awsDeps(clients?: SeedUsersClients): SeedUsersDeps {
  const { cognito, secrets } = clients ?? { cognito: new CognitoIdentityProviderClient({}), secrets: new SecretsManagerClient({}) };
  return {
    async readPassword(secretId) {
      const secret = await secrets.send(new GetSecretValueCommand({ SecretId: secretId }));
      const { password } = JSON.parse(secret.SecretString ?? '{}') as { password?: string };
      if (!password) throw new Error(`The secret ${secretId} holds no password`);
      return password;
    },
    async createUser({ userPoolId, username, tenantId, temporaryPassword }) {
      let created;
      try {
        created = await cognito.send(
          new AdminCreateUserCommand({
            UserPoolId: userPoolId,
            Username: username,
            TemporaryPassword: temporaryPassword,
            MessageAction: 'SUPPRESS',
            UserAttributes: [{ Name: 'custom:tenantId', Value: tenantId }],
          }),
        );
      } catch (err) {
        // AdminCreateUser never touches an existing user (MessageAction RESEND would, and is not used).
        if (err instanceof UsernameExistsException) return undefined;
        throw err;
      }
      const sub = created.User?.Attributes?.find((a) => a.Name === 'sub')?.Value;
      if (!sub) throw new Error(`Cognito returned no sub for ${username}`);
      return sub;
    },
    async userExists({ userPoolId, username }) {
      try {
        await cognito.send(new AdminGetUserCommand({ UserPoolId: userPoolId, Username: username }));
        return true;
      } catch (err) {
        if (err instanceof UserNotFoundException) return false;
        throw err;
      }
    },
    async refreshTemporaryPassword({ userPoolId, username, temporaryPassword }) {
      const user = await cognito.send(new AdminGetUserCommand({ UserPoolId: userPoolId, Username: username }));
      if (user.UserStatus !== 'FORCE_CHANGE_PASSWORD') return false;
      await cognito.send(new AdminSetUserPasswordCommand({ UserPoolId: userPoolId, Username: username, Password: temporaryPassword, Permanent: false }));
      return true;
    },
  };
}

/** Always answers CloudFormation (a custom resource that never answers hangs the stack for an hour). */
export async function handleSeedUsersEvent(event: CustomResourceEvent, deps: SeedUsersDeps, respond: typeof fetch): Promise<void> {
  const physicalId = event.PhysicalResourceId ?? `${event.ResourceProperties.UserPoolId}-seed-users`;
  let status: 'SUCCESS' | 'FAILED' = 'SUCCESS';
  let reason = '';
  try {
    if (event.RequestType !== 'Delete') {
      const seededBefore = event.RequestType === 'Update' ? Object.keys(event.OldResourceProperties?.PasswordSecrets ?? {}) : [];
      const result = await seedUsers(event.ResourceProperties, deps, seededBefore);
      process.stdout.write(`${JSON.stringify({ level: 'info', msg: 'seed users', requestType: event.RequestType, ...result })}\n`);
    }
  } catch (error) {
    status = 'FAILED';
    reason = error instanceof Error ? `${error.name}: ${error.message}` : 'seeding failed';
    process.stdout.write(`${JSON.stringify({ level: 'error', msg: 'seed users failed', error: reason })}\n`);
  }
  const body = JSON.stringify({
    Status: status,
    Reason: reason || 'ok',
    PhysicalResourceId: physicalId,
    StackId: event.StackId,
    RequestId: event.RequestId,
    LogicalResourceId: event.LogicalResourceId,
  });
  const response = await respond(event.ResponseURL, { method: 'PUT', body, headers: { 'content-type': '' } });
  if (!response.ok) throw new Error(`CloudFormation response failed: ${response.status}`);
}

/** The Lambda entry: clients built once per container. */
export const handler = (() => {
  let deps: SeedUsersDeps | undefined;
  return (event: CustomResourceEvent) => handleSeedUsersEvent(event, (deps ??= awsDeps()), fetch);
})();
