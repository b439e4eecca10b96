/**
 * Cognito user pool (JSON 1.1, `X-Amz-Target: AWSCognitoIdentityProviderService.<Operation>`), the
 * subset the assistant uses: InitiateAuth (USER_PASSWORD_AUTH, REFRESH_TOKEN_AUTH),
 * RespondToAuthChallenge (NEW_PASSWORD_REQUIRED), GetUser, UpdateUserAttributes and, IAM-signed,
 * AdminGetUser; and the pool's JWKS at `GET /<userPoolId>/.well-known/jwks.json`.
 *
 * Tokens are RS256 JWTs with Cognito's claims (`custom:tenantId` among them), signed with a key made
 * on first start. Passwords are kept as salted scrypt hashes; refresh tokens are opaque random
 * strings kept as SHA-256 hashes. Seeded users start in FORCE_CHANGE_PASSWORD with a random
 * temporary password, made anew at each start (like an administrator's "resend invitation"); the
 * plaintext lives only in memory, for `temporaryPasswords()` and `.data/local-users.json`.
 *
 * As on AWS: the sign-in operations are public (the SDK sends them unsigned: the edge hands them to
 * `handleAnonymous`), the admin operations need SigV4 and an IAM grant, an unknown user signs in
 * with the same NotAuthorizedException as a wrong password, and `custom:tenantId` is written only
 * by the administrator (the stack), never by the user.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { calculateJwkThumbprint, errors as joseErrors, exportJWK, generateKeyPair, importJWK, jwtVerify, SignJWT, type CryptoKey, type JWK } from 'jose';
import type { AwsLocation } from '../../../../tasks/aws-location.ts';
import { AuthError, AwsError, jsonResponse, parseJsonBody, type Protocol, type WireResponse } from '../../edge/aws-error.ts';
import type { AnonymousEdgeCall, EdgeCall } from '../../edge/edge.ts';
import type { PolicyEvaluator } from '../../iam/evaluator.ts';
import { silentLogger, type Logger } from '../../edge/log.ts';
import { localUserPoolId, userPoolArn, type Principal } from '../../iam/principals.ts';
import { writePrivateFile } from '../../../../client/cli/private-file.ts';
import { localJwtVerifiers } from './verifiers.ts';
import { decoyHash, hashPassword, passwordPolicyViolation, temporaryPassword, verifyPassword } from './passwords.ts';
import { writeLocalUsersFile, type LocalEnvUser, type LocalUsersFile, type LocalUserStatus } from '../../../../client/cli/targets.ts';

/** A user of the local pool, as the stack seeds it: the token `sub` is assigned on first start. */
export type LocalUser = LocalEnvUser;

export const COGNITO_PROTOCOL: Protocol = { kind: 'json', version: '1.1', errorPrefix: '' };
const TARGET_PREFIX = 'AWSCognitoIdentityProviderService.';

/** The local pool's one app client (public: no client secret). 26 lower-case letters and digits, as Cognito's. */
export const LOCAL_APP_CLIENT_ID = 'localassistantwebclient001';
/** The pool's state under the stack's data directory. */
export const COGNITO_STATE_FILE = 'cognito.json';

const TOKEN_SECONDS = 3600;
const REFRESH_TOKEN_SECONDS = 30 * 24 * 3600;
/** Cognito's default AuthSessionValidity: a challenge must be answered within 3 minutes. */
const AUTH_SESSION_SECONDS = 180;
const STATE_VERSION = 1;

/** Operations callable without SigV4 (they carry a password, a session or an access token). */
const PUBLIC_OPERATIONS = new Set(['InitiateAuth', 'RespondToAuthChallenge', 'GetUser', 'UpdateUserAttributes']);
/** Standard attributes a user may set on themself. Everything else is read-only or unknown. */
const USER_WRITABLE_ATTRIBUTES = new Set(['name', 'given_name', 'family_name', 'middle_name', 'nickname', 'preferred_username', 'locale', 'zoneinfo']);
/** Attributes of the schema that the app client can read but never write. */
const READ_ONLY_ATTRIBUTES = new Set(['sub', 'custom:tenantId', 'email_verified', 'phone_number_verified']);
const MAX_ATTRIBUTE_LENGTH = 2048;

const MSG = {
  incorrect: 'Incorrect username or password.',
  unauthorizedAttribute: 'A client attempted to write unauthorized attribute',
  invalidSession: 'Invalid session for the user.',
  expiredSession: 'Invalid session for the user, session is expired.',
  invalidRefresh: 'Invalid Refresh Token',
  expiredRefresh: 'Refresh Token has expired',
  invalidAccess: 'Invalid Access Token',
  expiredAccess: 'Access Token has expired',
  disabled: 'User is disabled.',
  noUser: 'User does not exist.',
} as const;

export type UserStatus = LocalUserStatus;

interface StoredUser {
  username: string;
  sub: string;
  tenantId: string;
  status: UserStatus;
  /** `scrypt$N$r$p$<salt b64>$<hash b64>` */
  passwordHash: string;
  enabled: boolean;
  /** User-writable standard attributes. */
  attributes: Record<string, string>;
  createdAt: number;
  updatedAt: number;
}

interface StoredRefreshToken {
  /** Lower-cased username (the user map's key). */
  user: string;
  sub: string;
  clientId: string;
  originJti: string;
  authTime: number;
  expiresAt: number;
}

interface PoolState {
  version: typeof STATE_VERSION;
  signingKey: { kid: string; privateJwk: JWK };
  /** By lower-cased username (user names are case-insensitive, as in new Cognito pools). */
  users: Record<string, StoredUser>;
  /** By SHA-256 (hex) of the refresh token. */
  refreshTokens: Record<string, StoredRefreshToken>;
}

interface AuthSession {
  user: string;
  clientId: string;
  expiresAt: number;
}

export interface CognitoServiceOptions {
  location: AwsLocation;
  evaluator: PolicyEvaluator;
  /** The pool's users; the list is authoritative (a user not in it is removed from the pool). */
  users: readonly LocalUser[];
  /** Where `cognito.json` is kept. In memory when undefined. */
  dataDir?: string;
  clock?: () => Date;
  logger?: Logger;
}

export interface PublicJwk {
  kty: 'RSA';
  kid: string;
  alg: 'RS256';
  use: 'sig';
  n: string;
  e: string;
}

// --- helpers -----------------------------------------------------------------------------------

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');
const seconds = (date: Date) => Math.floor(date.getTime() / 1000);
const opaque = (bytes: number) => randomBytes(bytes).toString('base64url');

function invalidParameter(message: string): AwsError {
  return new AwsError('InvalidParameterException', message, 400);
}

function notAuthorized(message: string): AwsError {
  return new AwsError('NotAuthorizedException', message, 400);
}

function requiredString(input: Record<string, unknown>, member: string, wireName = member): string {
  const v = input[member];
  if (typeof v !== 'string' || v.length === 0) {
    throw invalidParameter(`1 validation error detected: Value at '${wireName}' failed to satisfy constraint: Member must not be null`);
  }
  return v;
}

function stringMap(input: Record<string, unknown>, member: string): Record<string, string> {
  const v = input[member];
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v) || Object.values(v).some((x) => typeof x !== 'string')) {
    throw invalidParameter(`${member} must be a map of strings.`);
  }
  return v as Record<string, string>;
}

const USER_POOL_ID = /^[\w-]+_[0-9a-zA-Z]+$/;

// --- the service -------------------------------------------------------------------------------

export class CognitoService {
  readonly protocol = COGNITO_PROTOCOL;
  readonly region: string;
  readonly poolId: string;
  readonly clientId = LOCAL_APP_CLIENT_ID;
  readonly userPoolArn: string;
  private issuerBase?: string;
  private readonly sessions = new Map<string, AuthSession>();
  private readonly temporary = new Map<string, string>();
  private writes: Promise<void> = Promise.resolve();
  private verifierCache?: ReturnType<typeof localJwtVerifiers>;
  private readonly clock: () => Date;
  private readonly logger: Logger;
  private readonly file: string | undefined;

  private constructor(
    private readonly options: CognitoServiceOptions,
    private readonly state: PoolState,
    private readonly signingKey: CryptoKey,
    private readonly verifyingKey: CryptoKey,
    private readonly publicJwk: PublicJwk,
  ) {
    this.region = options.location.region;
    this.poolId = localUserPoolId(this.region);
    this.userPoolArn = userPoolArn(options.location, this.poolId);
    this.clock = options.clock ?? (() => new Date());
    this.logger = options.logger ?? silentLogger;
    this.file = options.dataDir ? path.join(options.dataDir, COGNITO_STATE_FILE) : undefined;
  }

  /** Loads the pool from `<dataDir>/cognito.json` (or starts a new one), and syncs it with `users`. */
  static async create(options: CognitoServiceOptions): Promise<CognitoService> {
    const file = options.dataDir ? path.join(options.dataDir, COGNITO_STATE_FILE) : undefined;
    let state: PoolState;
    if (file && existsSync(file)) {
      state = JSON.parse(await readFile(file, 'utf8')) as PoolState;
      if (state.version !== STATE_VERSION) throw new Error(`${file}: unsupported version ${String(state.version)}`);
    } else {
      const { privateKey } = await generateKeyPair('RS256', { extractable: true, modulusLength: 2048 });
      const privateJwk = await exportJWK(privateKey);
      const kid = await calculateJwkThumbprint({ kty: 'RSA', n: privateJwk.n!, e: privateJwk.e! });
      state = { version: STATE_VERSION, signingKey: { kid, privateJwk }, users: {}, refreshTokens: {} };
    }
    const { kid, privateJwk } = state.signingKey;
    const signingKey = (await importJWK({ ...privateJwk, alg: 'RS256' }, 'RS256')) as CryptoKey;
    const publicJwk: PublicJwk = { kty: 'RSA', kid, alg: 'RS256', use: 'sig', n: privateJwk.n!, e: privateJwk.e! };
    const verifyingKey = (await importJWK({ ...publicJwk }, 'RS256')) as CryptoKey;
    const service = new CognitoService(options, state, signingKey, verifyingKey, publicJwk);
    await service.sync(options.users);
    return service;
  }

  /** Makes the pool's users exactly `users`, and gives those yet to set a password a new temporary one. */
  private async sync(users: readonly LocalUser[]): Promise<void> {
    const now = this.clock().getTime();
    const wanted = new Map(users.map((u) => [u.username.toLowerCase(), u]));
    for (const key of Object.keys(this.state.users)) {
      const u = wanted.get(key);
      if (!u || u.sub !== this.state.users[key]!.sub) this.removeUser(key);
    }
    for (const [key, u] of wanted) {
      const existing = this.state.users[key];
      if (existing) {
        existing.tenantId = u.tenantId;
        continue;
      }
      this.state.users[key] = {
        username: u.username,
        sub: u.sub,
        tenantId: u.tenantId,
        status: 'FORCE_CHANGE_PASSWORD',
        passwordHash: '',
        enabled: true,
        attributes: {},
        createdAt: now,
        updatedAt: now,
      };
    }
    await Promise.all(
      Object.entries(this.state.users)
        .filter(([, u]) => u.status === 'FORCE_CHANGE_PASSWORD')
        .map(async ([key, u]) => {
          const password = temporaryPassword();
          u.passwordHash = await hashPassword(password);
          this.temporary.set(key, password);
        }),
    );
    this.pruneRefreshTokens();
    await this.persist();
  }

  private removeUser(key: string): void {
    delete this.state.users[key];
    this.temporary.delete(key);
    for (const [hash, t] of Object.entries(this.state.refreshTokens)) if (t.user === key) delete this.state.refreshTokens[hash];
    for (const [hash, s] of this.sessions) if (s.user === key) this.sessions.delete(hash);
  }

  private pruneRefreshTokens(): void {
    const now = this.clock().getTime();
    for (const [hash, t] of Object.entries(this.state.refreshTokens)) if (t.expiresAt <= now) delete this.state.refreshTokens[hash];
  }

  /** Writes the state (when persisted), one write at a time, each atomic and owner-only. */
  private persist(): Promise<void> {
    if (!this.file) return Promise.resolve();
    const file = this.file;
    const content = JSON.stringify(this.state, null, 2);
    const run = this.writes.then(() => writePrivateFile(file, content));
    this.writes = run.catch(() => undefined);
    return run;
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
    return { keys: [{ ...this.publicJwk }] };
  }

  /** username → temporary password, for the users who have not set their own password yet. */
  temporaryPasswords(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [key, password] of this.temporary) {
      const u = this.state.users[key];
      if (u?.status === 'FORCE_CHANGE_PASSWORD') out[u.username] = password;
    }
    return out;
  }

  /** The pool's users as an administrator sees them (no secrets). */
  listUsers(): { username: string; sub: string; tenantId: string; status: UserStatus }[] {
    return Object.values(this.state.users).map((u) => ({ username: u.username, sub: u.sub, tenantId: u.tenantId, status: u.status }));
  }

  /** Removes a user, with their refresh tokens (tests of a replayed run whose user is gone). */
  async deleteUser(username: string): Promise<void> {
    this.removeUser(username.toLowerCase());
    await this.persist();
  }

  /** Waits for pending writes of the state file. */
  async flush(): Promise<void> {
    await this.writes;
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
      case 'AdminGetUser':
        return respond(await this.adminGetUser(principal!, input));
      default:
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
    const clientId = requiredString(input, 'ClientId', 'clientId');
    if (clientId !== this.clientId) throw new AwsError('ResourceNotFoundException', `User pool client ${clientId} does not exist.`, 400);
    return clientId;
  }

  private findUser(name: string): [string, StoredUser] | undefined {
    const key = name.toLowerCase();
    const u = this.state.users[key];
    return u ? [key, u] : undefined;
  }

  private async initiateAuth(input: Record<string, unknown>) {
    const flow = requiredString(input, 'AuthFlow', 'authFlow');
    const clientId = this.requireClient(input);
    const params = stringMap(input, 'AuthParameters');
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
        throw invalidParameter(
          `1 validation error detected: Value '${flow}' at 'authFlow' failed to satisfy constraint: Member must satisfy enum value set: ` +
            '[USER_SRP_AUTH, REFRESH_TOKEN_AUTH, REFRESH_TOKEN, CUSTOM_AUTH, ADMIN_NO_SRP_AUTH, USER_PASSWORD_AUTH, ADMIN_USER_PASSWORD_AUTH, USER_AUTH]',
        );
    }
  }

  private async passwordAuth(clientId: string, params: Record<string, string>) {
    const username = params.USERNAME;
    const password = params.PASSWORD;
    if (!username) throw invalidParameter('Missing required parameter USERNAME');
    if (!password) throw invalidParameter('Missing required parameter PASSWORD');
    const found = this.findUser(username);
    // An unknown user costs one scrypt too, and gets the wrong password's answer (no user enumeration).
    const ok = await verifyPassword(password, found?.[1].passwordHash || (await decoyHash()));
    if (!found || !ok) {
      // The attempted name of an unknown user is not logged: people type passwords into that field.
      this.logger.log('info', 'cognito.sign_in_failed', found ? { username: found[1].username, reason: 'password' } : { reason: 'unknown-user' });
      throw notAuthorized(MSG.incorrect);
    }
    const [key, user] = found;
    if (!user.enabled) throw notAuthorized(MSG.disabled);
    if (user.status === 'FORCE_CHANGE_PASSWORD') {
      const session = opaque(96);
      this.pruneSessions();
      this.sessions.set(sha256(session), { user: key, clientId, expiresAt: this.clock().getTime() + AUTH_SESSION_SECONDS * 1000 });
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
    const result = await this.issueTokens(key, user, clientId, { originJti: randomUUID(), authTime: seconds(this.clock()) }, true);
    this.logger.log('info', 'cognito.signed_in', { username: user.username, flow: 'USER_PASSWORD_AUTH' });
    return { ChallengeParameters: {}, AuthenticationResult: result };
  }

  private async refreshAuth(clientId: string, params: Record<string, string>) {
    const token = params.REFRESH_TOKEN;
    if (!token) throw invalidParameter('Missing required parameter REFRESH_TOKEN');
    const stored = this.state.refreshTokens[sha256(token)];
    if (!stored || stored.clientId !== clientId) throw notAuthorized(MSG.invalidRefresh);
    if (stored.expiresAt <= this.clock().getTime()) throw notAuthorized(MSG.expiredRefresh);
    const user = this.state.users[stored.user];
    if (!user || user.sub !== stored.sub) throw notAuthorized(MSG.invalidRefresh);
    if (!user.enabled) throw notAuthorized(MSG.disabled);
    const result = await this.issueTokens(stored.user, user, clientId, { originJti: stored.originJti, authTime: stored.authTime }, false);
    this.logger.log('info', 'cognito.signed_in', { username: user.username, flow: 'REFRESH_TOKEN_AUTH' });
    return { ChallengeParameters: {}, AuthenticationResult: result };
  }

  private pruneSessions(): void {
    const now = this.clock().getTime();
    for (const [hash, s] of this.sessions) if (s.expiresAt <= now) this.sessions.delete(hash);
  }

  private async respondToAuthChallenge(input: Record<string, unknown>) {
    const clientId = this.requireClient(input);
    const challenge = requiredString(input, 'ChallengeName', 'challengeName');
    if (challenge !== 'NEW_PASSWORD_REQUIRED') throw invalidParameter(`Challenge ${challenge} is not supported by the local user pool.`);
    const responses = stringMap(input, 'ChallengeResponses');
    const session = input.Session;
    if (typeof session !== 'string' || session.length === 0) throw invalidParameter('Missing required parameter Session');
    if (!responses.USERNAME) throw invalidParameter('Missing required parameter USERNAME');
    if (!responses.NEW_PASSWORD) throw invalidParameter('Missing required parameter NEW_PASSWORD');

    const sessionKey = sha256(session);
    const pending = this.sessions.get(sessionKey);
    if (!pending) throw notAuthorized(MSG.invalidSession);
    if (pending.expiresAt <= this.clock().getTime()) {
      this.sessions.delete(sessionKey);
      throw notAuthorized(MSG.expiredSession);
    }
    const found = this.findUser(responses.USERNAME);
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

    this.sessions.delete(sessionKey);
    user.passwordHash = await hashPassword(responses.NEW_PASSWORD);
    user.status = 'CONFIRMED';
    user.attributes = { ...user.attributes, ...updates };
    user.updatedAt = this.clock().getTime();
    this.temporary.delete(key);
    const result = await this.issueTokens(key, user, clientId, { originJti: randomUUID(), authTime: seconds(this.clock()) }, true);
    this.logger.log('info', 'cognito.password_set', { username: user.username });
    return { ChallengeParameters: {}, AuthenticationResult: result };
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

  private async issueTokens(
    key: string,
    user: StoredUser,
    clientId: string,
    origin: { originJti: string; authTime: number },
    withRefreshToken: boolean,
  ) {
    const iss = this.issuer;
    const iat = seconds(this.clock());
    const exp = iat + TOKEN_SECONDS;
    const sign = (claims: Record<string, unknown>) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: this.publicJwk.kid }).sign(this.signingKey);
    const idToken = await sign({
      ...user.attributes,
      sub: user.sub,
      email_verified: false,
      iss,
      'cognito:username': user.username,
      'custom:tenantId': user.tenantId,
      origin_jti: origin.originJti,
      aud: clientId,
      token_use: 'id',
      auth_time: origin.authTime,
      exp,
      iat,
      jti: randomUUID(),
    });
    const accessToken = await sign({
      sub: user.sub,
      iss,
      client_id: clientId,
      origin_jti: origin.originJti,
      token_use: 'access',
      scope: 'aws.cognito.signin.user.admin',
      auth_time: origin.authTime,
      exp,
      iat,
      jti: randomUUID(),
      username: user.username,
    });
    let refreshToken: string | undefined;
    if (withRefreshToken) {
      refreshToken = opaque(96);
      this.pruneRefreshTokens();
      this.state.refreshTokens[sha256(refreshToken)] = {
        user: key,
        sub: user.sub,
        clientId,
        originJti: origin.originJti,
        authTime: origin.authTime,
        expiresAt: this.clock().getTime() + REFRESH_TOKEN_SECONDS * 1000,
      };
    }
    await this.persist();
    return {
      AccessToken: accessToken,
      ExpiresIn: TOKEN_SECONDS,
      TokenType: 'Bearer',
      IdToken: idToken,
      ...(refreshToken ? { RefreshToken: refreshToken } : {}),
    };
  }

  /** The user an access token names, after checking its signature, issuer, expiry, use and client. */
  private async userOfAccessToken(input: Record<string, unknown>): Promise<[string, StoredUser]> {
    const token = requiredString(input, 'AccessToken', 'accessToken');
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, this.verifyingKey, { issuer: this.issuer, algorithms: ['RS256'], currentDate: this.clock() }));
    } catch (err) {
      throw notAuthorized(err instanceof joseErrors.JWTExpired ? MSG.expiredAccess : MSG.invalidAccess);
    }
    if (payload.token_use !== 'access' || payload.client_id !== this.clientId || typeof payload.username !== 'string') throw notAuthorized(MSG.invalidAccess);
    const found = this.findUser(payload.username);
    if (!found || found[1].sub !== payload.sub) throw new AwsError('UserNotFoundException', MSG.noUser, 400);
    if (!found[1].enabled) throw notAuthorized(MSG.disabled);
    return found;
  }

  private userAttributes(user: StoredUser): { Name: string; Value: string }[] {
    return [
      { Name: 'sub', Value: user.sub },
      ...Object.entries(user.attributes).map(([Name, Value]) => ({ Name, Value })),
      { Name: 'custom:tenantId', Value: user.tenantId },
    ];
  }

  private async getUser(input: Record<string, unknown>) {
    const [, user] = await this.userOfAccessToken(input);
    return { Username: user.username, UserAttributes: this.userAttributes(user) };
  }

  private async updateUserAttributes(input: Record<string, unknown>) {
    const [, user] = await this.userOfAccessToken(input);
    const list = input.UserAttributes;
    if (!Array.isArray(list)) throw invalidParameter("1 validation error detected: Value at 'userAttributes' failed to satisfy constraint: Member must not be null");
    const attributes: Record<string, string> = {};
    for (const item of list as unknown[]) {
      const { Name, Value } = (item ?? {}) as { Name?: unknown; Value?: unknown };
      if (typeof Name !== 'string' || Name.length === 0) throw invalidParameter('Attribute name must not be empty.');
      attributes[Name] = typeof Value === 'string' ? Value : '';
    }
    const updates = this.checkWritable(attributes);
    user.attributes = { ...user.attributes, ...updates };
    user.updatedAt = this.clock().getTime();
    await this.persist();
    this.logger.log('info', 'cognito.attributes_updated', { username: user.username, attributes: Object.keys(updates) });
    return { CodeDeliveryDetailsList: [] };
  }

  private async adminGetUser(principal: Principal, input: Record<string, unknown>) {
    const poolId = requiredString(input, 'UserPoolId', 'userPoolId');
    if (!USER_POOL_ID.test(poolId)) {
      throw invalidParameter(
        `1 validation error detected: Value '${poolId}' at 'userPoolId' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w-]+_[0-9a-zA-Z]+`,
      );
    }
    await this.options.evaluator.authorize({ principal, action: 'cognito-idp:AdminGetUser', resource: userPoolArn(this.options.location, poolId) });
    if (poolId !== this.poolId) throw new AwsError('ResourceNotFoundException', `User pool ${poolId} does not exist.`, 400);
    const name = requiredString(input, 'Username', 'username');
    // As on AWS, a user's `sub` names them as well as their username.
    const user = this.findUser(name)?.[1] ?? Object.values(this.state.users).find((u) => u.sub === name);
    if (!user) throw new AwsError('UserNotFoundException', MSG.noUser, 400);
    return {
      Username: user.username,
      UserAttributes: this.userAttributes(user),
      UserCreateDate: user.createdAt / 1000,
      UserLastModifiedDate: user.updatedAt / 1000,
      Enabled: user.enabled,
      UserStatus: user.status,
    };
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
