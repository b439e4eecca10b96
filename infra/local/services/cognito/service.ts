/**
 * Cognito user pool (JSON 1.1, `X-Amz-Target: AWSCognitoIdentityProviderService.<Operation>`), the
 * subset the assistant uses: InitiateAuth (USER_PASSWORD_AUTH, REFRESH_TOKEN_AUTH),
 * RespondToAuthChallenge (NEW_PASSWORD_REQUIRED), GetUser, UpdateUserAttributes and, IAM-signed,
 * the administration of admin.ts (AdminGetUser, AdminCreateUser, ..., ListUsers); and the pool's
 * JWKS at `GET /<userPoolId>/.well-known/jwks.json`.
 *
 * Tokens are RS256 JWTs with Cognito's claims (`custom:tenantId` among them), signed with a key made
 * on first start. Seeded users start in FORCE_CHANGE_PASSWORD with a random temporary password.
 * The pool's state, and how its secrets are kept: pool.ts; passwords: passwords.ts; checking a
 * password sign-in (lockout, temporary password expiry, hashing in turn): sign-in.ts; verifying
 * tokens as a resource server does: verifiers.ts.
 *
 * As on AWS: the sign-in operations are public (the SDK sends them unsigned: the edge hands them to
 * `handleAnonymous`), the admin operations need SigV4 and an IAM grant, an unknown user signs in
 * with the same NotAuthorizedException as a wrong password (and is locked out alike), five failed
 * sign-ins lock the name out for a time that doubles with each further failure, a temporary password
 * expires after the pool's TemporaryPasswordValidityDays, and `custom:tenantId` is written only by
 * the administrator (the stack), never by the user.
 */
import { errors as joseErrors, jwtVerify } from 'jose';
import type { AwsLocation } from '../../../../tasks/aws-location.ts';
import { AuthError, AwsError, jsonResponse, parseJsonBody, type Protocol, type WireResponse } from '../../edge/aws-error.ts';
import type { AnonymousEdgeCall, EdgeCall } from '../../edge/edge.ts';
import { optionalArray, optionalString, optionalStringMap, requiredString, validationError, type FieldOptions } from '../../edge/wire.ts';
import type { PolicyEvaluator } from '../../iam/evaluator.ts';
import { silentLogger, type Logger } from '../../edge/log.ts';
import { localUserPoolId, userPoolArn, type Principal } from '../../iam/principals.ts';
import { writeLocalUsersFile, type LocalUsersFile } from '../../../../client/cli/targets.ts';
import { passwordPolicyViolation } from './passwords.ts';
import { notAuthorized, PasswordSignIn, SIGN_IN_MESSAGES } from './sign-in.ts';
import { UserPool, type LocalUser, type PublicJwk, type StoredUser, type TokenOrigin, type UserStatus } from './pool.ts';
import { localJwtVerifiers } from './verifiers.ts';
import { ADMIN_OPERATIONS, userAttributes, UserPoolAdmin } from './admin.ts';
import { customizeClaims, type PreTokenGenerationTrigger, type TokenClaims } from './pre-token-generation.ts';
import type { PreTokenTriggerSource } from '../../../../tasks/pre-token-generation.ts';

// The stack, the CLIs' tests and the benches import these with the service.
export { COGNITO_STATE_FILE, type LocalUser } from './pool.ts';

export const COGNITO_PROTOCOL: Protocol = { kind: 'json', version: '1.1', errorPrefix: '' };
const TARGET_PREFIX = 'AWSCognitoIdentityProviderService.';

/** The local pool's one app client (public: no client secret). 26 lower-case letters and digits, as Cognito's. */
export const LOCAL_APP_CLIENT_ID = 'localassistantwebclient001';

/** Operations callable without SigV4 (they carry a password, a session or an access token). */
const PUBLIC_OPERATIONS = new Set(['InitiateAuth', 'RespondToAuthChallenge', 'GetUser', 'UpdateUserAttributes']);
/** Standard attributes a user may set on themself. Everything else is read-only or unknown. */
const USER_WRITABLE_ATTRIBUTES = new Set(['name', 'given_name', 'family_name', 'middle_name', 'nickname', 'preferred_username', 'locale', 'zoneinfo']);
/** Attributes of the schema that the app client can read but never write. */
const READ_ONLY_ATTRIBUTES = new Set(['sub', 'custom:tenantId', 'email_verified', 'phone_number_verified']);
const MAX_ATTRIBUTE_LENGTH = 2048;

const MSG = {
  unauthorizedAttribute: 'A client attempted to write unauthorized attribute',
  invalidSession: 'Invalid session for the user.',
  expiredSession: 'Invalid session for the user, session is expired.',
  invalidRefresh: 'Invalid Refresh Token',
  expiredRefresh: 'Refresh Token has expired',
  invalidAccess: 'Invalid Access Token',
  expiredAccess: 'Access Token has expired',
  disabled: SIGN_IN_MESSAGES.disabled,
  noUser: 'User does not exist.',
} as const;

export interface CognitoServiceOptions {
  location: AwsLocation;
  evaluator: PolicyEvaluator;
  /** The pool's users; the list is authoritative (a user not in it is removed from the pool). */
  users: readonly LocalUser[];
  /** Where `cognito.json` is kept. In memory when undefined. */
  dataDir?: string;
  clock?: () => Date;
  logger?: Logger;
  /** Password hashing at once, and waiting, before sign-ins are refused (TooManyRequestsException). @default 1 and 8 */
  hashing?: { concurrency: number; maxWaiting: number };
  /** Told after an administrator changed the pool's users (created, deleted, enabled, new password). */
  onUsersChanged?: () => Promise<void>;
  /**
   * The pool's pre token generation trigger (event version V2_0), run whenever tokens are issued
   * (the stack: tasks/pre-token-generation.ts `handler`, the function CDK deploys). None when undefined.
   */
  preTokenGeneration?: PreTokenGenerationTrigger;
}


// --- helpers -----------------------------------------------------------------------------------

const INVALID_PARAMETER = 'InvalidParameterException';

function invalidParameter(message: string): AwsError {
  return new AwsError(INVALID_PARAMETER, message, 400);
}

/** A required member: Cognito refuses it missing or empty, with its camel-cased name. */
const required = (wireName: string): FieldOptions => ({ wireName, code: INVALID_PARAMETER, emptyIsMissing: true });


// --- the service -------------------------------------------------------------------------------

export class CognitoService {
  readonly protocol = COGNITO_PROTOCOL;
  readonly region: string;
  readonly poolId: string;
  readonly clientId = LOCAL_APP_CLIENT_ID;
  readonly userPoolArn: string;
  private issuerBase?: string;
  private verifierCache?: ReturnType<typeof localJwtVerifiers>;
  private readonly clock: () => Date;
  private readonly logger: Logger;
  private readonly signIn: PasswordSignIn;
  private readonly admin: UserPoolAdmin;

  private constructor(
    private readonly options: CognitoServiceOptions,
    private readonly pool: UserPool,
    clock: () => Date,
  ) {
    this.region = options.location.region;
    this.poolId = localUserPoolId(this.region);
    this.userPoolArn = userPoolArn(options.location, this.poolId);
    this.clock = clock;
    this.logger = options.logger ?? silentLogger;
    this.signIn = new PasswordSignIn({ pool, clock, logger: this.logger, hashing: options.hashing ?? { concurrency: 1, maxWaiting: 8 } });
    this.admin = new UserPoolAdmin({
      pool,
      poolId: this.poolId,
      location: options.location,
      evaluator: options.evaluator,
      logger: this.logger,
      hashInTurn: (operation, work) => this.signIn.hashInTurn(operation, work),
      onUsersChanged: options.onUsersChanged ?? (() => Promise.resolve()),
    });
  }

  /** Loads the pool from `<dataDir>/cognito.json` (or starts a new one), and syncs it with `users`. */
  static async create(options: CognitoServiceOptions): Promise<CognitoService> {
    const clock = options.clock ?? (() => new Date());
    const pool = await UserPool.open({ dataDir: options.dataDir, clock });
    await pool.sync(options.users);
    return new CognitoService(options, pool, clock);
  }

  // --- in-process helpers (stack, tests, CLI) --------------------------------------------------

  /** The edge's URL, known once it listens: the issuer is `<edgeUrl>/<userPoolId>`. */
  setIssuerBase(edgeUrl: string): void {
    this.issuerBase = edgeUrl.replace(/\/+$/, '');
    this.verifierCache = undefined;
  }

  get issuer(): string {
    if (!this.issuerBase) throw new Error('The local user pool has no issuer yet: call setIssuerBase(edgeUrl) once the edge listens.');
    return `${this.issuerBase}/${this.poolId}`;
  }

  get jwksUri(): string {
    return `${this.issuer}/.well-known/jwks.json`;
  }

  /**
   * Verifiers for this pool's tokens (see `localJwtVerifiers`), made on first use: after
   * `setIssuerBase`. The local AppSync: `verifyUserPoolToken: (t) => cognito.verifiers().idToken.verify(t)`.
   */
  verifiers(): ReturnType<typeof localJwtVerifiers> {
    return (this.verifierCache ??= localJwtVerifiers({ issuer: this.issuer, clientId: this.clientId, jwksUri: this.jwksUri }));
  }

  jwks(): { keys: PublicJwk[] } {
    return { keys: [{ ...this.pool.publicJwk }] };
  }

  /** username → temporary password, for the users who have not set their own password yet. */
  temporaryPasswords(): Record<string, string> {
    return this.pool.temporaryPasswords();
  }

  /** The pool's users as an administrator sees them (no secrets). */
  listUsers(): { username: string; sub: string; tenantId: string; status: UserStatus }[] {
    return this.pool.listUsers();
  }

  /** Removes a user, with their refresh tokens (tests of a replayed run whose user is gone). */
  deleteUser(username: string): Promise<void> {
    return this.pool.deleteUser(username);
  }

  /** Waits for pending writes of the state file. */
  flush(): Promise<void> {
    return this.pool.flush();
  }

  // --- the wire ---------------------------------------------------------------------------------

  handle(call: EdgeCall): Promise<WireResponse> {
    return this.dispatch(call, call.principal);
  }

  handleAnonymous(call: AnonymousEdgeCall): Promise<WireResponse> {
    return this.dispatch(call, undefined);
  }

  private async dispatch(call: AnonymousEdgeCall, principal: Principal | undefined): Promise<WireResponse> {
    if (call.method === 'GET') return this.serveJwks(call.path);
    const operation = call.target.startsWith(TARGET_PREFIX) ? call.target.slice(TARGET_PREFIX.length) : '';
    // Admin (and unknown) operations need SigV4: an unsigned one is refused as the edge refuses any.
    if (!principal && !PUBLIC_OPERATIONS.has(operation)) throw new AuthError('MissingAuthenticationToken');
    const input = parseJsonBody(call.body);
    const respond = (payload: unknown) => jsonResponse(COGNITO_PROTOCOL, payload, call.requestId);
    switch (operation) {
      case 'InitiateAuth':
        return respond(await this.initiateAuth(input));
      case 'RespondToAuthChallenge':
        return respond(await this.respondToAuthChallenge(input));
      case 'GetUser':
        return respond(await this.getUser(input));
      case 'UpdateUserAttributes':
        return respond(await this.updateUserAttributes(input));
      default:
        if (ADMIN_OPERATIONS.has(operation)) return respond(await this.admin.run(operation, principal!, input));
        throw new AwsError('UnknownOperationException', `Operation ${operation || call.target} is not supported by the local user pool.`, 400);
    }
  }

  private serveJwks(urlPath: string): WireResponse {
    const pathname = new URL(urlPath, 'http://edge.local').pathname;
    const json = (status: number, payload: unknown): WireResponse => ({
      status,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(payload),
    });
    if (pathname !== `/${this.poolId}/.well-known/jwks.json`) {
      return json(404, { message: `User pool ${pathname.split('/')[1] ?? ''} does not exist.` });
    }
    return json(200, this.jwks());
  }

  private requireClient(input: Record<string, unknown>): string {
    const clientId = requiredString(input, 'ClientId', required('clientId'));
    if (clientId !== this.clientId) throw new AwsError('ResourceNotFoundException', `User pool client ${clientId} does not exist.`, 400);
    return clientId;
  }

  private async initiateAuth(input: Record<string, unknown>) {
    const flow = requiredString(input, 'AuthFlow', required('authFlow'));
    const clientId = this.requireClient(input);
    const params = optionalStringMap(input, 'AuthParameters') ?? {};
    switch (flow) {
      case 'USER_PASSWORD_AUTH':
        return this.passwordAuth(clientId, params);
      case 'REFRESH_TOKEN_AUTH':
      case 'REFRESH_TOKEN':
        return this.refreshAuth(clientId, params);
      case 'USER_SRP_AUTH':
      case 'CUSTOM_AUTH':
      case 'USER_AUTH':
        throw invalidParameter(`${flow} flow not enabled for this client`);
      case 'ADMIN_NO_SRP_AUTH':
      case 'ADMIN_USER_PASSWORD_AUTH':
        throw invalidParameter('Initiate Auth method not supported.');
      default:
        throw validationError(
          'authFlow',
          'satisfy enum value set: [USER_SRP_AUTH, REFRESH_TOKEN_AUTH, REFRESH_TOKEN, CUSTOM_AUTH, ADMIN_NO_SRP_AUTH, USER_PASSWORD_AUTH, ADMIN_USER_PASSWORD_AUTH, USER_AUTH]',
          { value: flow, code: INVALID_PARAMETER },
        );
    }
  }

  private async passwordAuth(clientId: string, params: Record<string, string>) {
    const username = params.USERNAME;
    const password = params.PASSWORD;
    if (!username) throw invalidParameter('Missing required parameter USERNAME');
    if (!password) throw invalidParameter('Missing required parameter PASSWORD');
    const [key, user] = await this.signIn.check(username, password);
    if (user.status === 'FORCE_CHANGE_PASSWORD') {
      const session = this.pool.openSession(key, clientId);
      this.logger.log('info', 'cognito.challenge', { username: user.username, challenge: 'NEW_PASSWORD_REQUIRED' });
      return {
        ChallengeName: 'NEW_PASSWORD_REQUIRED',
        Session: session,
        ChallengeParameters: {
          USER_ID_FOR_SRP: user.username,
          requiredAttributes: '[]',
          userAttributes: JSON.stringify({ ...user.attributes, 'custom:tenantId': user.tenantId }),
        },
      };
    }
    const result = await this.issueTokens(key, user, { clientId, origin: this.pool.newOrigin(), withRefreshToken: true, triggerSource: 'TokenGeneration_Authentication' });
    this.logger.log('info', 'cognito.signed_in', { username: user.username, flow: 'USER_PASSWORD_AUTH' });
    return { ChallengeParameters: {}, AuthenticationResult: result };
  }

  private async refreshAuth(clientId: string, params: Record<string, string>) {
    const token = params.REFRESH_TOKEN;
    if (!token) throw invalidParameter('Missing required parameter REFRESH_TOKEN');
    const stored = this.pool.refreshToken(token);
    if (!stored || stored.clientId !== clientId) throw notAuthorized(MSG.invalidRefresh);
    if (stored.expiresAt <= this.clock().getTime()) throw notAuthorized(MSG.expiredRefresh);
    const user = this.pool.findUser(stored.user)?.[1];
    if (!user || user.sub !== stored.sub) throw notAuthorized(MSG.invalidRefresh);
    if (!user.enabled) throw notAuthorized(MSG.disabled);
    // A refresh continues the sign-in: same origin_jti and auth_time, and no new refresh token.
    const origin = { originJti: stored.originJti, authTime: stored.authTime };
    const result = await this.issueTokens(stored.user, user, { clientId, origin, withRefreshToken: false, triggerSource: 'TokenGeneration_RefreshTokens' });
    this.logger.log('info', 'cognito.signed_in', { username: user.username, flow: 'REFRESH_TOKEN_AUTH' });
    return { ChallengeParameters: {}, AuthenticationResult: result };
  }

  private async respondToAuthChallenge(input: Record<string, unknown>) {
    const clientId = this.requireClient(input);
    const challenge = requiredString(input, 'ChallengeName', required('challengeName'));
    if (challenge !== 'NEW_PASSWORD_REQUIRED') throw invalidParameter(`Challenge ${challenge} is not supported by the local user pool.`);
    const responses = optionalStringMap(input, 'ChallengeResponses') ?? {};
    // Session is optional in the API's shape (other challenges have none), hence this message.
    const session = optionalString(input, 'Session');
    if (!session) throw invalidParameter('Missing required parameter Session');
    if (!responses.USERNAME) throw invalidParameter('Missing required parameter USERNAME');
    if (!responses.NEW_PASSWORD) throw invalidParameter('Missing required parameter NEW_PASSWORD');

    const pending = this.pool.session(session);
    if (!pending) throw notAuthorized(MSG.invalidSession);
    if (pending.expiresAt <= this.clock().getTime()) {
      this.pool.closeSession(session);
      throw notAuthorized(MSG.expiredSession);
    }
    const found = this.pool.findUser(responses.USERNAME);
    if (pending.clientId !== clientId || !found || found[0] !== pending.user || found[1].status !== 'FORCE_CHANGE_PASSWORD') {
      throw notAuthorized(MSG.invalidSession);
    }
    const [key, user] = found;
    const attributes: Record<string, string> = {};
    for (const [name, value] of Object.entries(responses)) {
      if (name.startsWith('userAttributes.')) attributes[name.slice('userAttributes.'.length)] = value;
    }
    const updates = this.checkWritable(attributes);
    const violation = passwordPolicyViolation(responses.NEW_PASSWORD);
    // The session stays valid after a refused answer, so the user can try another password.
    if (violation) throw new AwsError('InvalidPasswordException', violation, 400);

    const newPassword = responses.NEW_PASSWORD;
    await this.signIn.hashInTurn('RespondToAuthChallenge', () => this.pool.setPassword(key, user, newPassword));
    this.pool.closeSession(session);
    this.pool.updateAttributes(user, updates);
    const result = await this.issueTokens(key, user, {
      clientId,
      origin: this.pool.newOrigin(),
      withRefreshToken: true,
      triggerSource: 'TokenGeneration_NewPasswordChallenge',
      clientMetadata: optionalStringMap(input, 'ClientMetadata'),
    });
    this.logger.log('info', 'cognito.password_set', { username: user.username });
    return { ChallengeParameters: {}, AuthenticationResult: result };
  }

  /**
   * The pool's tokens for the user, through the pre token generation trigger when the pool has one.
   * ClientMetadata reaches the trigger only from RespondToAuthChallenge, as on AWS (InitiateAuth's
   * goes to other triggers); the trigger in tasks/ ignores it anyway.
   */
  private issueTokens(
    key: string,
    user: StoredUser,
    options: { clientId: string; origin: TokenOrigin; withRefreshToken: boolean; triggerSource: PreTokenTriggerSource; clientMetadata?: Record<string, string> },
  ) {
    const trigger = this.options.preTokenGeneration;
    const request = {
      triggerSource: options.triggerSource,
      region: this.region,
      userPoolId: this.poolId,
      clientId: options.clientId,
      userName: user.username,
      userAttributes: Object.fromEntries([...userAttributes(user).map((a) => [a.Name, a.Value]), ['cognito:user_status', user.status]]),
      ...(options.clientMetadata ? { clientMetadata: options.clientMetadata } : {}),
    };
    return this.pool.issueTokens(key, user, {
      issuer: this.issuer,
      clientId: options.clientId,
      origin: options.origin,
      withRefreshToken: options.withRefreshToken,
      ...(trigger ? { customize: (claims: TokenClaims) => customizeClaims(trigger, request, claims) } : {}),
    });
  }

  /** Validates attribute writes as the app client may make them; returns them. Throws on the first refused one. */
  private checkWritable(attributes: Record<string, string>): Record<string, string> {
    for (const [name, value] of Object.entries(attributes)) {
      if (READ_ONLY_ATTRIBUTES.has(name) || name.startsWith('custom:') || name.startsWith('cognito:')) throw notAuthorized(MSG.unauthorizedAttribute);
      if (!USER_WRITABLE_ATTRIBUTES.has(name)) throw invalidParameter(`user.${name}: Attribute does not exist in the schema.`);
      if (value.length > MAX_ATTRIBUTE_LENGTH) throw invalidParameter(`user.${name}: String attributes cannot have a length of more than ${MAX_ATTRIBUTE_LENGTH}`);
    }
    return attributes;
  }

  /** The user an access token names, after checking its signature, issuer, expiry, use and client. */
  private async userOfAccessToken(input: Record<string, unknown>): Promise<[string, StoredUser]> {
    const token = requiredString(input, 'AccessToken', required('accessToken'));
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, this.pool.verifyingKey, { issuer: this.issuer, algorithms: ['RS256'], currentDate: this.clock() }));
    } catch (err) {
      throw notAuthorized(err instanceof joseErrors.JWTExpired ? MSG.expiredAccess : MSG.invalidAccess);
    }
    if (payload.token_use !== 'access' || payload.client_id !== this.clientId || typeof payload.username !== 'string') throw notAuthorized(MSG.invalidAccess);
    const found = this.pool.findUser(payload.username);
    if (!found || found[1].sub !== payload.sub) throw new AwsError('UserNotFoundException', MSG.noUser, 400);
    if (!found[1].enabled) throw notAuthorized(MSG.disabled);
    return found;
  }

  private async getUser(input: Record<string, unknown>) {
    const [, user] = await this.userOfAccessToken(input);
    return { Username: user.username, UserAttributes: userAttributes(user) };
  }

  private async updateUserAttributes(input: Record<string, unknown>) {
    const [, user] = await this.userOfAccessToken(input);
    const list = optionalArray(input, 'UserAttributes');
    if (!list) throw validationError('userAttributes', 'not be null', { value: null, code: INVALID_PARAMETER });
    const attributes: Record<string, string> = {};
    for (const item of list) {
      const { Name, Value } = (item ?? {}) as { Name?: unknown; Value?: unknown };
      if (typeof Name !== 'string' || Name.length === 0) throw invalidParameter('Attribute name must not be empty.');
      attributes[Name] = typeof Value === 'string' ? Value : '';
    }
    const updates = this.checkWritable(attributes);
    this.pool.updateAttributes(user, updates);
    await this.pool.persist();
    this.logger.log('info', 'cognito.attributes_updated', { username: user.username, attributes: Object.keys(updates) });
    return { CodeDeliveryDetailsList: [] };
  }
}

// --- local-users.json (its format: client/cli/targets.ts) -----------------------------------------

export function localUsersDocument(pool: CognitoService): LocalUsersFile {
  const temporary = pool.temporaryPasswords();
  return {
    region: pool.region,
    userPoolId: pool.poolId,
    clientId: pool.clientId,
    issuer: pool.issuer,
    users: pool.listUsers().map((u) => ({ ...u, ...(temporary[u.username] ? { temporaryPassword: temporary[u.username] } : {}) })),
  };
}

/** Writes `<dataDir>/local-users.json` (owner-only) for the pool's users. */
export function writeLocalUsers(dataDir: string, pool: CognitoService): Promise<string> {
  return writeLocalUsersFile(dataDir, localUsersDocument(pool));
}
