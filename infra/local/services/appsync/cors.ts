/**
 * CORS as AppSync's GraphQL endpoint answers it, for a team's app on its own origin: any origin, on
 * every answer of `/graphql`, and preflights with a fixed list of request headers. Observed, not
 * documented: the AppSync guide has no CORS setting (docs/fidelity.md, AppSync).
 */
import type http from 'node:http';

/** The headers every answer of the GraphQL endpoint carries. */
export const APPSYNC_CORS: Readonly<Record<string, string>> = {
  'access-control-allow-origin': '*',
  'access-control-expose-headers': 'x-amzn-RequestId,x-amzn-ErrorType,x-amz-user-agent,x-amzn-ErrorMessage,Date,x-amz-schema-version',
};

/**
 * The request headers a preflight is granted: a fixed list, whatever the page asks (a custom header
 * such as `sentry-trace` is not in it, and the browser then refuses the request). AppSync does not
 * publish its list; this one is what its control-plane endpoint was seen answering, and it covers
 * what Amplify and the AWS SDK send (the SigV4 headers, the API key, the user agent).
 */
export const APPSYNC_ALLOWED_HEADERS = 'Content-Type,X-Amz-Date,Authorization,X-Api-Key,X-Amz-Security-Token,X-Amz-Content-Sha256,X-Amz-User-Agent';

/** Two days, as AppSync answers. */
const MAX_AGE_SECONDS = '172800';

/**
 * Puts AppSync's CORS headers on the answer to a request for `/graphql`; answers it when it is a
 * preflight (OPTIONS with Origin and Access-Control-Request-Method: 200, no body) and says so.
 */
export function answerCors(req: http.IncomingMessage, res: http.ServerResponse): boolean {
  for (const [name, value] of Object.entries(APPSYNC_CORS)) res.setHeader(name, value);
  if (req.method !== 'OPTIONS' || req.headers.origin === undefined || req.headers['access-control-request-method'] === undefined) return false;
  const requested = req.headers['access-control-request-headers'];
  res.writeHead(200, {
    'content-length': '0',
    'access-control-max-age': MAX_AGE_SECONDS,
    ...(requested ? { 'access-control-allow-headers': APPSYNC_ALLOWED_HEADERS } : {}),
  });
  res.end();
  return true;
}
