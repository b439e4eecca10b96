/**
 * Verifying the local pool's tokens as a resource server does on AWS (the local AppSync, tests):
 * `aws-jwt-verify` against the pool's JWKS, fetched over HTTP from the edge.
 */
import { JwtVerifier } from 'aws-jwt-verify';
import { NonRetryableFetchError } from 'aws-jwt-verify/error';
import type { Fetcher } from 'aws-jwt-verify/https';
import { SimpleJwksCache } from 'aws-jwt-verify/jwk';
import { appClientIdRegex, tokenClientId } from '../../../../tasks/app-client.ts';

/** aws-jwt-verify's fetcher speaks HTTPS only; the local edge is plain HTTP. */
class HttpFetcher implements Fetcher {
  async fetch(uri: string): Promise<ArrayBuffer> {
    const res = await fetch(uri, { signal: AbortSignal.timeout(5000) });
    if (res.status !== 200) throw new NonRetryableFetchError(uri, `Status code is ${res.status}, expected 200`);
    return res.arrayBuffer();
  }
}

export interface LocalPoolIdentity {
  /** `<edgeUrl>/<userPoolId>` */
  issuer: string;
  clientId: string;
  /** @default `<issuer>/.well-known/jwks.json` */
  jwksUri?: string;
}

function claimCheck(ok: boolean, message: string): void {
  if (!ok) throw new Error(message);
}

/**
 * Verifiers for the local pool's tokens (`aws-jwt-verify`'s JwtVerifier, which v5 also exports as
 * JwtRsaVerifier): signature against the pool's JWKS, issuer, expiry, and for ID tokens audience =
 * the app client and token_use 'id'; for access tokens client_id = the app client and token_use
 * 'access'. `apiToken` verifies what AppSync's AMAZON_COGNITO_USER_POOLS mode accepts: either
 * token, of an app client that the API's appIdClientRegex matches (tasks/app-client.ts), with no
 * demand on other claims (the resolvers check the tenant). Pass the CognitoService itself once its
 * issuer is set, or the values from local-users.json.
 */
export function localJwtVerifiers(pool: LocalPoolIdentity) {
  const { issuer, clientId } = pool;
  const jwksUri = pool.jwksUri ?? `${issuer}/.well-known/jwks.json`;
  const jwksCache = new SimpleJwksCache({ fetcher: new HttpFetcher() });
  const idToken = JwtVerifier.create(
    {
      issuer,
      jwksUri,
      audience: clientId,
      customJwtCheck: ({ payload }) => {
        claimCheck(payload.token_use === 'id', 'Not an ID token');
        claimCheck(typeof payload.sub === 'string' && typeof payload['custom:tenantId'] === 'string', 'ID token without sub or custom:tenantId');
      },
    },
    { jwksCache },
  );
  const accessToken = JwtVerifier.create(
    {
      issuer,
      jwksUri,
      audience: null,
      customJwtCheck: ({ payload }) => {
        claimCheck(payload.token_use === 'access', 'Not an access token');
        claimCheck(payload.client_id === clientId, 'Access token for another client');
      },
    },
    { jwksCache },
  );
  const appClient = new RegExp(appClientIdRegex(clientId));
  const apiToken = JwtVerifier.create(
    {
      issuer,
      jwksUri,
      audience: null,
      customJwtCheck: ({ payload }) => {
        claimCheck(payload.token_use === 'id' || payload.token_use === 'access', 'Neither an ID nor an access token');
        const client = tokenClientId(payload);
        claimCheck(client !== undefined && appClient.test(client), 'Token of an app client the API does not accept');
        claimCheck(typeof payload.sub === 'string', 'Token without sub');
      },
    },
    { jwksCache },
  );
  return { idToken, accessToken, apiToken };
}
