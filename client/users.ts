/**
 * Users without a redeploy: the operator's operations on the user pool, the same SDK calls on the
 * local stack and on AWS. A user's tenant is its immutable `custom:tenantId`, written here by the
 * administrator only. A new user (or a reset one) gets a temporary password that the command prints
 * once; on AWS it is also kept in a Secrets Manager secret beside the seeded users' (the printed
 * command reads it), locally the local pool records it in `.data/local-users.json` as seeding does.
 */
import {
  AdminCreateUserCommand,
  AdminDeleteUserCommand,
  AdminDisableUserCommand,
  AdminGetUserCommand,
  AdminEnableUserCommand,
  AdminSetUserPasswordCommand,
  ListUsersCommand,
  UsernameExistsException,
  UserNotFoundException,
  type UserType,
} from '@aws-sdk/client-cognito-identity-provider';
import { CreateSecretCommand, DeleteSecretCommand, PutSecretValueCommand, ResourceNotFoundException } from '@aws-sdk/client-secrets-manager';
import type { AdminTarget } from './cli/admin-target.ts';
import { generateTemporaryPassword, USERNAME_PATTERN } from './tenant-model.ts';
import { AdminError, requireTenant } from './tenants.ts';

export const TENANT_ATTRIBUTE = 'custom:tenantId';

export interface UserRow {
  username: string;
  tenantId: string;
  status: string;
  enabled: boolean;
  sub: string;
}

function rowOf(u: UserType): UserRow {
  const attr = (name: string) => u.Attributes?.find((a) => a.Name === name)?.Value ?? '';
  return { username: u.Username ?? '', tenantId: attr(TENANT_ATTRIBUTE), status: u.UserStatus ?? '', enabled: u.Enabled ?? false, sub: attr('sub') };
}

/** Every user of the pool, or of one tenant (Cognito cannot filter on a custom attribute: the tenant is matched here). */
export async function listUsers(t: AdminTarget, tenantId?: string): Promise<UserRow[]> {
  const rows: UserRow[] = [];
  let PaginationToken: string | undefined;
  do {
    const page = await t.cognito.send(new ListUsersCommand({ UserPoolId: t.userPoolId, Limit: 60, PaginationToken }));
    rows.push(...(page.Users ?? []).map(rowOf));
    PaginationToken = page.PaginationToken;
  } while (PaginationToken);
  return rows.filter((u) => tenantId === undefined || u.tenantId === tenantId).sort((a, b) => a.username.localeCompare(b.username));
}

export function checkUsername(username: string): void {
  if (!USERNAME_PATTERN.test(username)) throw new AdminError(`Invalid username '${username}': 4 to 64 lower-case letters, digits, dots, hyphens and underscores (${USERNAME_PATTERN}).`);
}

/** A new or reset temporary password, and where it is kept besides the command's output. */
export interface IssuedPassword {
  username: string;
  tenantId: string;
  temporaryPassword: string;
  /** AWS: the secret that holds it, and the command that reads it. */
  secretId?: string;
  readCommand?: string;
}

async function keepPassword(t: AdminTarget, issued: Omit<IssuedPassword, 'secretId' | 'readCommand'>): Promise<IssuedPassword> {
  if (!t.secrets) return issued;
  const secretId = `${t.secrets.prefix}${issued.username}`;
  const value = JSON.stringify({ username: issued.username, tenantId: issued.tenantId, password: issued.temporaryPassword });
  try {
    await t.secrets.client.send(new PutSecretValueCommand({ SecretId: secretId, SecretString: value }));
  } catch (err) {
    if (!(err instanceof ResourceNotFoundException)) throw err;
    await t.secrets.client.send(new CreateSecretCommand({ Name: secretId, SecretString: value, Description: `Temporary password of ${issued.username} (change at first sign-in)` }));
  }
  return { ...issued, secretId, readCommand: `aws secretsmanager get-secret-value --region ${t.region} --secret-id ${secretId} --query SecretString --output text` };
}

export async function addUser(t: AdminTarget, username: string, tenantId: string): Promise<IssuedPassword> {
  checkUsername(username);
  const tenant = await requireTenant(t, tenantId);
  if (tenant.status !== 'ACTIVE' && tenant.status !== 'SUSPENDED') throw new AdminError(`Tenant '${tenantId}' is ${tenant.status}: users can be added to ACTIVE or SUSPENDED tenants only.`);
  const temporaryPassword = generateTemporaryPassword();
  try {
    await t.cognito.send(
      new AdminCreateUserCommand({
        UserPoolId: t.userPoolId,
        Username: username,
        TemporaryPassword: temporaryPassword,
        MessageAction: 'SUPPRESS',
        UserAttributes: [{ Name: TENANT_ATTRIBUTE, Value: tenantId }],
      }),
    );
  } catch (err) {
    if (err instanceof UsernameExistsException) throw new AdminError(`User '${username}' already exists: nothing changed.`);
    throw err;
  }
  return keepPassword(t, { username, tenantId, temporaryPassword });
}

/** One user by name (AdminGetUser: one call, not a scan of the pool). */
async function requireUser(t: AdminTarget, username: string): Promise<UserRow> {
  checkUsername(username);
  try {
    const u = await t.cognito.send(new AdminGetUserCommand({ UserPoolId: t.userPoolId, Username: username }));
    return rowOf({ Username: u.Username, Attributes: u.UserAttributes, UserStatus: u.UserStatus, Enabled: u.Enabled });
  } catch (err) {
    if (err instanceof UserNotFoundException) throw new AdminError(`Unknown user '${username}': npm run users -- list shows the users.`);
    throw err;
  }
}

export async function setUserEnabled(t: AdminTarget, username: string, enabled: boolean): Promise<UserRow> {
  const user = await requireUser(t, username);
  const input = { UserPoolId: t.userPoolId, Username: username };
  await t.cognito.send(enabled ? new AdminEnableUserCommand(input) : new AdminDisableUserCommand(input));
  return { ...user, enabled };
}

export async function resetPassword(t: AdminTarget, username: string): Promise<IssuedPassword> {
  const user = await requireUser(t, username);
  const temporaryPassword = generateTemporaryPassword();
  await t.cognito.send(new AdminSetUserPasswordCommand({ UserPoolId: t.userPoolId, Username: username, Password: temporaryPassword, Permanent: false }));
  return keepPassword(t, { username, tenantId: user.tenantId, temporaryPassword });
}

/** Disables, then deletes the user, and its password secret (AWS). */
export async function removeUser(t: AdminTarget, username: string): Promise<UserRow> {
  const user = await requireUser(t, username);
  const input = { UserPoolId: t.userPoolId, Username: username };
  try {
    await t.cognito.send(new AdminDisableUserCommand(input));
    await t.cognito.send(new AdminDeleteUserCommand(input));
  } catch (err) {
    if (!(err instanceof UserNotFoundException)) throw err;
  }
  if (t.secrets) {
    // At once, so that the username can be given to a new user (a secret pending deletion keeps its name).
    await t.secrets.client.send(new DeleteSecretCommand({ SecretId: `${t.secrets.prefix}${username}`, ForceDeleteWithoutRecovery: true })).catch((err: unknown) => {
      if (!(err instanceof ResourceNotFoundException)) throw err;
    });
  }
  return user;
}
