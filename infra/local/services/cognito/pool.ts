/**
 * The local user pool's state: its users, its signing key, the refresh tokens it has issued and the
 * challenge sessions it has open; kept in `<dataDir>/cognito.json` (owner-only) when the pool has a
 * data directory, else in memory. Passwords, refresh tokens and sessions are kept only as hashes;
 * the temporary passwords of users yet to set their own live only in memory (`temporaryPasswords()`,
 * for `.data/local-users.json`), and are made anew at each start (like an administrator's "resend
 * invitation"). Challenge sessions live only in memory too (they last three minutes).
 *
 * Changes to users stay in memory until `persist()`; `issueTokens` persists, for the refresh token
 * it keeps. What the wire may read or change is decided by CognitoService, not here.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, SignJWT, type CryptoKey, type JWK } from 'jose';
import { writePrivateFile } from '../../../../client/cli/private-file.ts';
import type { LocalEnvUser, LocalUserStatus } from '../../../../client/cli/targets.ts';
import { current, UnknownNameFailures, type FailedSignIns } from './lockout.ts';
import { hashPassword, temporaryPassword } from './passwords.ts';

/** A user of the local pool, as the stack seeds it: the token `sub` is assigned on first start. */
export type LocalUser = LocalEnvUser;
export type UserStatus = LocalUserStatus;

/** The pool's state under the stack's data directory. */
export const COGNITO_STATE_FILE = 'cognito.json';

const TOKEN_SECONDS = 3600;
const REFRESH_TOKEN_SECONDS = 30 * 24 * 3600;
/** Cognito's default AuthSessionValidity: a challenge must be answered within 3 minutes. */
const AUTH_SESSION_SECONDS = 180;
const STATE_VERSION = 1;

export interface StoredUser {
  username: string;
  sub: string;
  tenantId: string;
  status: UserStatus;
  /** `scrypt$N$r$p$<salt b64>$<hash b64>` */
  passwordHash: string;
  /** Epoch ms the password (temporary or own) was set; a temporary one expires from then. */
  passwordSetAt?: number;
  /** Failed password sign-ins (lockout.ts); absent when there are none to remember. */
  signInFailures?: FailedSignIns;
  enabled: boolean;
  /** User-writable standard attributes. */
  attributes: Record<string, string>;
  createdAt: number;
  updatedAt: number;
}

export interface StoredRefreshToken {
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

export interface AuthSession {
  /** Lower-cased username (the user map's key). */
  user: string;
  clientId: string;
  expiresAt: number;
}

export interface PublicJwk {
  kty: 'RSA';
  kid: string;
  alg: 'RS256';
  use: 'sig';
  n: string;
  e: string;
}

/** What the tokens of one sign-in share: a refresh keeps them, as Cognito's `origin_jti` and `auth_time`. */
export interface TokenOrigin {
  originJti: string;
  authTime: number;
}

export interface IssueTokensOptions {
  issuer: string;
  clientId: string;
  origin: TokenOrigin;
  /** Sign-ins get a refresh token; refreshes do not (Cognito's default, without rotation). */
  withRefreshToken: boolean;
  /** The pool's pre token generation trigger, applied to the claims before they are signed (pre-token-generation.ts). */
  customize?: (claims: { id: Record<string, unknown>; access: Record<string, unknown> }) => Promise<{ id: Record<string, unknown>; access: Record<string, unknown> }>;
}

export interface UserPoolOptions {
  /** Where `cognito.json` is kept. In memory when undefined. */
  dataDir?: string;
  clock: () => Date;
}

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');
const seconds = (date: Date) => Math.floor(date.getTime() / 1000);
const opaque = (bytes: number) => randomBytes(bytes).toString('base64url');

export class UserPool {
  private readonly sessions = new Map<string, AuthSession>();
  private readonly temporary = new Map<string, string>();
  /** Failed sign-ins of names no user has: in memory only, bounded. */
  private readonly unknownNames = new UnknownNameFailures();
  private writes: Promise<void> = Promise.resolve();
  /** A write queued behind the running one: later changes ride on it (it serialises when it starts). */
  private queuedWrite?: Promise<void>;

  private constructor(
    private readonly state: PoolState,
    private readonly signingKey: CryptoKey,
    /** Verifies the pool's own tokens in-process (GetUser, UpdateUserAttributes). */
    readonly verifyingKey: CryptoKey,
    readonly publicJwk: PublicJwk,
    private readonly file: string | undefined,
    private readonly clock: () => Date,
  ) {}

  /** Loads the pool from `<dataDir>/cognito.json`, or starts a new one with a new signing key. */
  static async open(options: UserPoolOptions): Promise<UserPool> {
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
    return new UserPool(state, signingKey, verifyingKey, publicJwk, file, options.clock);
  }

  // --- users -------------------------------------------------------------------------------------

  /** Makes the pool's users exactly `users`, and gives those yet to set a password a new temporary one. */
  async sync(users: readonly LocalUser[]): Promise<void> {
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
          u.passwordSetAt = now;
          this.temporary.set(key, password);
        }),
    );
    this.pruneRefreshTokens();
    await this.persist();
  }

  /** The user of that name (case-insensitive), with their key in the user map. */
  findUser(name: string): [string, StoredUser] | undefined {
    const key = name.toLowerCase();
    const u = this.state.users[key];
    return u ? [key, u] : undefined;
  }

  findUserBySub(sub: string): StoredUser | undefined {
    return Object.values(this.state.users).find((u) => u.sub === sub);
  }

  /** Sets the user's own password: they leave FORCE_CHANGE_PASSWORD, and their temporary one is forgotten. */
  async setPassword(key: string, user: StoredUser, password: string): Promise<void> {
    user.passwordHash = await hashPassword(password);
    user.status = 'CONFIRMED';
    user.updatedAt = user.passwordSetAt = this.clock().getTime();
    this.temporary.delete(key);
  }

  /**
   * The failed sign-ins recorded for a name, as they stand now (lockout.ts): the user's own, or, for
   * a name no user has, those of the name, so that both answer alike.
   */
  signInFailures(name: string): FailedSignIns | undefined {
    const key = name.toLowerCase();
    const user = this.state.users[key];
    return current(user ? user.signInFailures : this.unknownNames.get(key), this.clock().getTime());
  }

  /** Records the failed sign-ins of a name (undefined: none); a user's are persisted by the caller. */
  setSignInFailures(name: string, failures: FailedSignIns | undefined): void {
    const key = name.toLowerCase();
    const user = this.state.users[key];
    if (!user) return this.unknownNames.set(key, failures);
    if (failures) user.signInFailures = failures;
    else delete user.signInFailures;
  }

  /** Merges attribute writes the caller has checked. */
  updateAttributes(user: StoredUser, updates: Record<string, string>): void {
    user.attributes = { ...user.attributes, ...updates };
    user.updatedAt = this.clock().getTime();
  }

  /**
   * Creates a user (AdminCreateUser) with a new `sub` and a temporary password, in
   * FORCE_CHANGE_PASSWORD; persists the pool. The caller has checked that the name is free.
   */
  async createUser(user: { username: string; tenantId: string; attributes: Record<string, string>; temporaryPassword: string }): Promise<StoredUser> {
    const now = this.clock().getTime();
    const key = user.username.toLowerCase();
    const stored: StoredUser = {
      username: user.username,
      sub: randomUUID(),
      tenantId: user.tenantId,
      status: 'FORCE_CHANGE_PASSWORD',
      passwordHash: await hashPassword(user.temporaryPassword),
      passwordSetAt: now,
      enabled: true,
      attributes: { ...user.attributes },
      createdAt: now,
      updatedAt: now,
    };
    this.state.users[key] = stored;
    this.temporary.set(key, user.temporaryPassword);
    await this.persist();
    return stored;
  }

  /** An administrator's new temporary password (AdminSetUserPassword, Permanent false): back to FORCE_CHANGE_PASSWORD. */
  async setTemporaryPassword(key: string, user: StoredUser, password: string): Promise<void> {
    user.passwordHash = await hashPassword(password);
    user.status = 'FORCE_CHANGE_PASSWORD';
    user.updatedAt = user.passwordSetAt = this.clock().getTime();
    this.temporary.set(key, password);
  }

  /** Enables or disables a user (AdminEnableUser / AdminDisableUser); a disabled user's refresh tokens stop working. */
  setEnabled(user: StoredUser, enabled: boolean): void {
    user.enabled = enabled;
    user.updatedAt = this.clock().getTime();
  }

  /** The pool's users, stored, in the order they were added. */
  storedUsers(): StoredUser[] {
    return Object.values(this.state.users);
  }

  /** Removes a user, with their refresh tokens and sessions. */
  async deleteUser(username: string): Promise<void> {
    this.removeUser(username.toLowerCase());
    await this.persist();
  }

  private removeUser(key: string): void {
    delete this.state.users[key];
    this.temporary.delete(key);
    for (const [hash, t] of Object.entries(this.state.refreshTokens)) if (t.user === key) delete this.state.refreshTokens[hash];
    for (const [hash, s] of this.sessions) if (s.user === key) this.sessions.delete(hash);
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

  // --- challenge sessions ------------------------------------------------------------------------

  /** Opens a challenge session for the user: an opaque string, kept only as its hash. */
  openSession(key: string, clientId: string): string {
    const session = opaque(96);
    this.pruneSessions();
    this.sessions.set(sha256(session), { user: key, clientId, expiresAt: this.clock().getTime() + AUTH_SESSION_SECONDS * 1000 });
    return session;
  }

  /** The open session, expired or not (the caller tells the two apart, as Cognito's messages do). */
  session(session: string): AuthSession | undefined {
    return this.sessions.get(sha256(session));
  }

  closeSession(session: string): void {
    this.sessions.delete(sha256(session));
  }

  private pruneSessions(): void {
    const now = this.clock().getTime();
    for (const [hash, s] of this.sessions) if (s.expiresAt <= now) this.sessions.delete(hash);
  }

  // --- tokens ------------------------------------------------------------------------------------

  /** A new sign-in: the origin that its tokens, and those of its refreshes, share. */
  newOrigin(): TokenOrigin {
    return { originJti: randomUUID(), authTime: seconds(this.clock()) };
  }

  /** Cognito's ID and access tokens for the user (and a refresh token, kept as its hash); persists the pool. */
  async issueTokens(key: string, user: StoredUser, options: IssueTokensOptions) {
    const { issuer: iss, clientId, origin } = options;
    const iat = seconds(this.clock());
    const exp = iat + TOKEN_SECONDS;
    const sign = (claims: Record<string, unknown>) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: this.publicJwk.kid }).sign(this.signingKey);
    const cognitoClaims = {
      id: {
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
      },
      access: {
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
      },
    };
    // The trigger runs before anything is kept: a failed trigger leaves no refresh token behind.
    const claims = options.customize ? await options.customize(cognitoClaims) : cognitoClaims;
    const idToken = await sign(claims.id);
    const accessToken = await sign(claims.access);
    let refreshToken: string | undefined;
    if (options.withRefreshToken) {
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

  /** The refresh token's record, expired or not; undefined for a token this pool never issued. */
  refreshToken(token: string): StoredRefreshToken | undefined {
    return this.state.refreshTokens[sha256(token)];
  }

  private pruneRefreshTokens(): void {
    const now = this.clock().getTime();
    for (const [hash, t] of Object.entries(this.state.refreshTokens)) if (t.expiresAt <= now) delete this.state.refreshTokens[hash];
  }

  // --- persistence -------------------------------------------------------------------------------

  /**
   * Writes the state (when persisted), one write at a time, each atomic and owner-only. Changes made
   * while a write waits join it: a burst of changes costs two writes, not one each.
   */
  persist(): Promise<void> {
    if (!this.file) return Promise.resolve();
    if (this.queuedWrite) return this.queuedWrite;
    const file = this.file;
    const run = this.writes.then(() => {
      this.queuedWrite = undefined;
      return writePrivateFile(file, JSON.stringify(this.state, null, 2));
    });
    this.queuedWrite = run;
    this.writes = run.catch(() => undefined);
    return run;
  }

  /** Waits for pending writes of the state file. */
  async flush(): Promise<void> {
    await this.writes;
  }
}
