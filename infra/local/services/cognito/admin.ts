/**
 * The user pool's IAM-signed administration (npm run users): AdminGetUser, AdminCreateUser,
 * AdminDisableUser, AdminEnableUser, AdminDeleteUser, AdminSetUserPassword and ListUsers. Each is
 * authorised as `cognito-idp:<Operation>` on the pool's ARN, as IAM authorises them (the Service
 * Authorization Reference's `userpool` resource type), before the pool is looked at.
 *
 * As on AWS: AdminCreateUser makes a user with a new `sub` in FORCE_CHANGE_PASSWORD, with the
 * TemporaryPassword given (it must meet the pool's policy) or one made for them; a taken name is
 * UsernameExistsException; an unknown user is UserNotFoundException; AdminSetUserPassword with
 * Permanent false makes the password a temporary one again (whose validity runs from then);
 * ListUsers pages with Limit (at most 60) and PaginationToken, and filters on the standard
 * attributes Cognito lets it search (never on custom attributes).
 *
 * The local pool delivers no messages: AdminCreateUser needs MessageAction SUPPRESS. It keeps one
 * custom attribute, `custom:tenantId`, which every user must have here.
 */
import type { AwsLocation } from '../../../../tasks/aws-location.ts';
import { AwsError } from '../../edge/aws-error.ts';
import type { Logger } from '../../edge/log.ts';
import { optionalArray, optionalBoolean, optionalNumber, optionalString, requiredString, validationError, type Fields, type FieldOptions } from '../../edge/wire.ts';
import type { PolicyEvaluator } from '../../iam/evaluator.ts';
import { userPoolArn, type Principal } from '../../iam/principals.ts';
import { passwordPolicyViolation, temporaryPassword } from './passwords.ts';
import type { StoredUser, UserPool } from './pool.ts';

const INVALID_PARAMETER = 'InvalidParameterException';
const required = (wireName: string): FieldOptions => ({ wireName, code: INVALID_PARAMETER, emptyIsMissing: true });
const USER_POOL_ID = /^[\w-]+_[0-9a-zA-Z]+$/;
const TENANT_ATTRIBUTE = 'custom:tenantId';
/** Standard attributes the local pool's schema has (besides `sub`), and its one custom attribute. */
const SCHEMA_ATTRIBUTES = new Set(['name', 'given_name', 'family_name', 'middle_name', 'nickname', 'preferred_username', 'locale', 'zoneinfo', TENANT_ATTRIBUTE]);
const MAX_ATTRIBUTE_LENGTH = 2048;
const MAX_LIST_LIMIT = 60;
/** ListUsers' searchable attributes (its Filter's documentation); custom attributes are not. */
const SEARCHABLE = new Set(['username', 'email', 'phone_number', 'name', 'given_name', 'family_name', 'preferred_username', 'cognito:user_status', 'status', 'sub']);

export const ADMIN_OPERATIONS = new Set(['AdminGetUser', 'AdminCreateUser', 'AdminDisableUser', 'AdminEnableUser', 'AdminDeleteUser', 'AdminSetUserPassword', 'ListUsers']);

const invalidParameter = (message: string) => new AwsError(INVALID_PARAMETER, message, 400);
const userNotFound = () => new AwsError('UserNotFoundException', 'User does not exist.', 400);

/** A user's attributes as the admin API lists them: sub, the user's own, custom:tenantId. */
export function userAttributes(user: StoredUser): { Name: string; Value: string }[] {
  return [
    { Name: 'sub', Value: user.sub },
    ...Object.entries(user.attributes).map(([Name, Value]) => ({ Name, Value })),
    { Name: TENANT_ATTRIBUTE, Value: user.tenantId },
  ];
}

/** AWS's UserType. */
function userType(user: StoredUser, attributes = userAttributes(user)) {
  return {
    Username: user.username,
    Attributes: attributes,
    UserCreateDate: user.createdAt / 1000,
    UserLastModifiedDate: user.updatedAt / 1000,
    Enabled: user.enabled,
    UserStatus: user.status,
  };
}

export interface UserPoolAdminOptions {
  pool: UserPool;
  poolId: string;
  location: AwsLocation;
  evaluator: PolicyEvaluator;
  logger: Logger;
  /** Runs password hashing in its turn (PasswordSignIn.hashInTurn). */
  hashInTurn: <T>(operation: string, work: () => Promise<T>) => Promise<T>;
  /** Told after every change of the pool's users (the stack keeps stack.json and local-users.json in step). */
  onUsersChanged: () => Promise<void>;
}

export class UserPoolAdmin {
  constructor(private readonly options: UserPoolAdminOptions) {}

  run(operation: string, principal: Principal, input: Fields): Promise<unknown> {
    switch (operation) {
      case 'AdminGetUser':
        return this.adminGetUser(principal, input);
      case 'AdminCreateUser':
        return this.adminCreateUser(principal, input);
      case 'AdminDisableUser':
        return this.setEnabled(principal, input, false);
      case 'AdminEnableUser':
        return this.setEnabled(principal, input, true);
      case 'AdminDeleteUser':
        return this.adminDeleteUser(principal, input);
      case 'AdminSetUserPassword':
        return this.adminSetUserPassword(principal, input);
      case 'ListUsers':
        return this.listUsers(principal, input);
      default:
        throw new AwsError('UnknownOperationException', `Operation ${operation} is not supported by the local user pool.`, 400);
    }
  }

  /** Checks the pool id's form, authorises the action on the pool's ARN, then finds the pool. */
  private async authorize(principal: Principal, input: Fields, operation: string): Promise<void> {
    const poolId = requiredString(input, 'UserPoolId', required('userPoolId'));
    if (!USER_POOL_ID.test(poolId)) {
      throw validationError('userPoolId', 'satisfy regular expression pattern: [\\w-]+_[0-9a-zA-Z]+', { value: poolId, code: INVALID_PARAMETER });
    }
    await this.options.evaluator.authorize({ principal, action: `cognito-idp:${operation}`, resource: userPoolArn(this.options.location, poolId) });
    if (poolId !== this.options.poolId) throw new AwsError('ResourceNotFoundException', `User pool ${poolId} does not exist.`, 400);
  }

  /** The user a request's Username names (its name, or, as on AWS, its `sub`). */
  private user(input: Fields): [string, StoredUser] {
    const name = requiredString(input, 'Username', required('username'));
    const found = this.options.pool.findUser(name);
    if (found) return found;
    const bySub = this.options.pool.findUserBySub(name);
    if (!bySub) throw userNotFound();
    return [bySub.username.toLowerCase(), bySub];
  }

  private async changed(event: string, user: StoredUser): Promise<void> {
    await this.options.pool.persist();
    await this.options.onUsersChanged();
    this.options.logger.log('info', event, { username: user.username });
  }

  private async adminGetUser(principal: Principal, input: Fields) {
    await this.authorize(principal, input, 'AdminGetUser');
    const [, user] = this.user(input);
    const { Attributes, ...rest } = userType(user);
    return { ...rest, UserAttributes: Attributes };
  }

  private async adminCreateUser(principal: Principal, input: Fields) {
    await this.authorize(principal, input, 'AdminCreateUser');
    const username = requiredString(input, 'Username', required('username'));
    const action = optionalString(input, 'MessageAction');
    if (action !== undefined && action !== 'RESEND' && action !== 'SUPPRESS') {
      throw validationError('messageAction', 'satisfy enum value set: [RESEND, SUPPRESS]', { value: action, code: INVALID_PARAMETER });
    }
    if (action !== 'SUPPRESS') throw invalidParameter('The local user pool sends no messages: call AdminCreateUser with MessageAction SUPPRESS.');
    const attributes: Record<string, string> = {};
    for (const item of optionalArray(input, 'UserAttributes') ?? []) {
      const { Name, Value } = (item ?? {}) as { Name?: unknown; Value?: unknown };
      if (typeof Name !== 'string' || Name.length === 0) throw invalidParameter('Attribute name must not be empty.');
      if (!SCHEMA_ATTRIBUTES.has(Name)) throw invalidParameter(`user.${Name}: Attribute does not exist in the schema.`);
      const value = typeof Value === 'string' ? Value : '';
      if (value.length > MAX_ATTRIBUTE_LENGTH) throw invalidParameter(`user.${Name}: String attributes cannot have a length of more than ${MAX_ATTRIBUTE_LENGTH}`);
      attributes[Name] = value;
    }
    const { [TENANT_ATTRIBUTE]: tenantId, ...own } = attributes;
    if (!tenantId) throw invalidParameter(`The local user pool needs ${TENANT_ATTRIBUTE} for every user.`);
    const given = optionalString(input, 'TemporaryPassword');
    const violation = given === undefined ? undefined : passwordPolicyViolation(given);
    if (violation) throw new AwsError('InvalidPasswordException', violation, 400);
    if (this.options.pool.findUser(username)) throw new AwsError('UsernameExistsException', 'User account already exists', 400);
    const password = given ?? temporaryPassword();
    const user = await this.options.hashInTurn('AdminCreateUser', () => this.options.pool.createUser({ username, tenantId, attributes: own, temporaryPassword: password }));
    await this.changed('cognito.user_created', user);
    return { User: userType(user) };
  }

  private async setEnabled(principal: Principal, input: Fields, enabled: boolean) {
    await this.authorize(principal, input, enabled ? 'AdminEnableUser' : 'AdminDisableUser');
    const [, user] = this.user(input);
    this.options.pool.setEnabled(user, enabled);
    await this.changed(enabled ? 'cognito.user_enabled' : 'cognito.user_disabled', user);
    return {};
  }

  private async adminDeleteUser(principal: Principal, input: Fields) {
    await this.authorize(principal, input, 'AdminDeleteUser');
    const [, user] = this.user(input);
    await this.options.pool.deleteUser(user.username);
    await this.changed('cognito.user_deleted', user);
    return {};
  }

  private async adminSetUserPassword(principal: Principal, input: Fields) {
    await this.authorize(principal, input, 'AdminSetUserPassword');
    const [key, user] = this.user(input);
    const password = requiredString(input, 'Password', required('password'));
    const permanent = optionalBoolean(input, 'Permanent') ?? false;
    const violation = passwordPolicyViolation(password);
    if (violation) throw new AwsError('InvalidPasswordException', violation, 400);
    const { pool } = this.options;
    await this.options.hashInTurn('AdminSetUserPassword', () => (permanent ? pool.setPassword(key, user, password) : pool.setTemporaryPassword(key, user, password)));
    await this.changed('cognito.password_reset', user);
    return {};
  }

  private async listUsers(principal: Principal, input: Fields) {
    await this.authorize(principal, input, 'ListUsers');
    const limit = optionalNumber(input, 'Limit') ?? MAX_LIST_LIMIT;
    if (!Number.isInteger(limit) || limit < 0 || limit > MAX_LIST_LIMIT) {
      throw validationError('limit', `have value less than or equal to ${MAX_LIST_LIMIT}`, { value: limit, code: INVALID_PARAMETER });
    }
    const matches = userFilter(optionalString(input, 'Filter') ?? '');
    const wanted = optionalArray(input, 'AttributesToGet')?.map(String);
    const token = optionalString(input, 'PaginationToken');
    const after = token === undefined ? undefined : decodeToken(token);
    const users = this.options.pool
      .storedUsers()
      .filter(matches)
      .sort((a, b) => (a.username.toLowerCase() < b.username.toLowerCase() ? -1 : 1))
      .filter((u) => after === undefined || u.username.toLowerCase() > after);
    const page = users.slice(0, limit || MAX_LIST_LIMIT);
    const more = users.length > page.length;
    return {
      Users: page.map((u) => userType(u, wanted ? userAttributes(u).filter((a) => wanted.includes(a.Name)) : undefined)),
      ...(more ? { PaginationToken: Buffer.from(page.at(-1)!.username.toLowerCase()).toString('base64url') } : {}),
    };
  }
}

function decodeToken(token: string): string {
  const key = Buffer.from(token, 'base64url').toString('utf8');
  if (key.length === 0 || Buffer.from(key).toString('base64url') !== token) throw invalidParameter('Invalid pagination token.');
  return key;
}

/**
 * ListUsers' Filter: `attribute = "value"` (exact) or `attribute ^= "value"` (starts with), one
 * attribute, among those Cognito searches. An empty filter lists every user.
 */
export function userFilter(filter: string): (user: StoredUser) => boolean {
  if (filter.trim() === '') return () => true;
  const m = /^\s*([\w:]+)\s*(\^?=)\s*"((?:[^"\\]|\\.)*)"\s*$/.exec(filter);
  if (!m) throw invalidParameter('Error while parsing filter.');
  const [, attribute, operator, quoted] = m as unknown as [string, string, string, string];
  if (!SEARCHABLE.has(attribute)) throw invalidParameter(`Invalid search attribute: ${attribute}`);
  const value = quoted.replace(/\\(.)/g, '$1');
  const read = (u: StoredUser): string | undefined => {
    switch (attribute) {
      case 'username':
        return u.username;
      case 'sub':
        return u.sub;
      case 'cognito:user_status':
        return u.status;
      case 'status':
        return u.enabled ? 'Enabled' : 'Disabled';
      default:
        return u.attributes[attribute];
    }
  };
  // username and status compare as written; cognito:user_status ignores case (the filter's documentation).
  const fold = attribute === 'cognito:user_status' ? (s: string) => s.toLowerCase() : (s: string) => s;
  return (u) => {
    const v = read(u);
    if (v === undefined) return false;
    return operator === '=' ? fold(v) === fold(value) : fold(v).startsWith(fold(value));
  };
}
