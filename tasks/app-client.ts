/**
 * Which app client's tokens the API accepts: AppSync's `userPoolConfig.appIdClientRegex` for the
 * deployed API (infra/aws/api.ts), and the same rule in the local AppSync (infra/local/services/
 * cognito/verifiers.ts). Without it AppSync accepts the tokens of every app client of the pool.
 * AppSync matches it against the ID token's `aud` and the access token's `client_id`.
 */

/**
 * The regex that matches exactly `clientId`, anchored. A Cognito client id matches `[\w+]+` (the
 * API's ClientIdType), whose only regex metacharacter is `+`: escaping it is a complete escape. On
 * AWS `clientId` is a CDK token (`${Token[…]}`, no `+`) that resolves at deploy to a generated id,
 * made of lower-case letters and digits, which needs no escaping.
 */
export function appClientIdRegex(clientId: string): string {
  return `^${clientId.replace(/\+/g, '\\+')}$`;
}

/** The app client a user pool token was issued to: `aud` of an ID token, `client_id` of an access token. */
export function tokenClientId(claims: Record<string, unknown>): string | undefined {
  const client = claims.token_use === 'id' ? claims.aud : claims.token_use === 'access' ? claims.client_id : undefined;
  return typeof client === 'string' ? client : undefined;
}
