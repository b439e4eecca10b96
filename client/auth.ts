/**
 * Sign-in with the Cognito user pool (USER_PASSWORD_AUTH), including the first sign-in's
 * NEW_PASSWORD_REQUIRED challenge, and token refresh. End users have no AWS credentials: these
 * calls are unsigned, as Cognito's public operations are.
 */
import {
  CognitoIdentityProviderClient,
  InitiateAuthCommand,
  RespondToAuthChallengeCommand,
  type AuthenticationResultType,
} from '@aws-sdk/client-cognito-identity-provider';

export interface UserPoolConfig {
  region: string;
  clientId: string;
  /** Only for the local stack (its Cognito stand-in); unset on AWS. */
  endpoint?: string;
}

export interface Tokens {
  idToken: string;
  accessToken: string;
  refreshToken?: string;
  expiresIn: number;
}

export class SignInError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = 'SignInError';
  }
}

function client(config: UserPoolConfig): CognitoIdentityProviderClient {
  return new CognitoIdentityProviderClient({
    region: config.region,
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    // Public operations are not signed; never look for AWS credentials on an end user's machine.
    credentials: () => Promise.reject(new Error('Cognito sign-in needs no AWS credentials')),
    maxAttempts: 2,
  });
}

function tokens(result: AuthenticationResultType | undefined, refreshToken?: string): Tokens {
  if (!result?.IdToken || !result.AccessToken) throw new SignInError('Cognito returned no tokens.', 'NoTokens');
  const refresh = result.RefreshToken ?? refreshToken;
  return { idToken: result.IdToken, accessToken: result.AccessToken, ...(refresh ? { refreshToken: refresh } : {}), expiresIn: result.ExpiresIn ?? 3600 };
}

/**
 * Signs in. On a first sign-in Cognito requires a new password: `newPassword()` provides it (the
 * CLI generates and stores one for local users; the web UI asks the person).
 */
export async function signIn(
  config: UserPoolConfig,
  username: string,
  password: string,
  newPassword?: () => Promise<string> | string,
): Promise<Tokens> {
  const cognito = client(config);
  try {
    const first = await cognito.send(
      new InitiateAuthCommand({ AuthFlow: 'USER_PASSWORD_AUTH', ClientId: config.clientId, AuthParameters: { USERNAME: username, PASSWORD: password } }),
    );
    if (first.ChallengeName === 'NEW_PASSWORD_REQUIRED') {
      if (!newPassword) throw new SignInError('This account must set a new password before signing in.', 'NewPasswordRequired');
      const answered = await cognito.send(
        new RespondToAuthChallengeCommand({
          ClientId: config.clientId,
          ChallengeName: 'NEW_PASSWORD_REQUIRED',
          Session: first.Session,
          ChallengeResponses: { USERNAME: username, NEW_PASSWORD: await newPassword() },
        }),
      );
      return tokens(answered.AuthenticationResult);
    }
    if (first.ChallengeName) throw new SignInError(`Unsupported sign-in challenge ${first.ChallengeName}.`, 'UnsupportedChallenge');
    return tokens(first.AuthenticationResult);
  } catch (err) {
    if (err instanceof SignInError) throw err;
    const e = err as { name?: string; message?: string };
    throw new SignInError(e.message ?? 'Sign-in failed.', e.name ?? 'Error');
  } finally {
    cognito.destroy();
  }
}

export async function refreshTokens(config: UserPoolConfig, refreshToken: string): Promise<Tokens> {
  const cognito = client(config);
  try {
    const out = await cognito.send(
      new InitiateAuthCommand({ AuthFlow: 'REFRESH_TOKEN_AUTH', ClientId: config.clientId, AuthParameters: { REFRESH_TOKEN: refreshToken } }),
    );
    return tokens(out.AuthenticationResult, refreshToken);
  } finally {
    cognito.destroy();
  }
}
