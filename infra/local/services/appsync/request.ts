/**
 * The HTTP side of a GraphQL request: its path, read without trusting it, and its JSON body,
 * checked member by member before anything runs. What does not fit is a 400 in AppSync's shape.
 */

/**
 * AppSync documents no size quota for a GraphQL request (the AppSync quotas page lists none:
 * https://docs.aws.amazon.com/general/latest/gr/appsync.html). The local limit is this project's
 * own: far above any request the product sends, whose largest is an answer event, itself capped by
 * the 240 KB subscription payload quota.
 */
export const MAX_GRAPHQL_REQUEST_BYTES = 1024 * 1024;

export interface GraphqlRequest {
  query: string;
  variables: Record<string, unknown>;
  operationName: string | undefined;
}

/** A request refused before it runs: AppSync answers these with HTTP 400. */
export class BadGraphqlRequest extends Error {
  readonly errorType = 'MalformedHttpRequestException';
}

/** The path of a request target, or undefined when it is not one (`//[` is not a URL). */
export function requestPath(target: string | undefined): string | undefined {
  try {
    return new URL(target ?? '/', 'http://local').pathname;
  } catch {
    return undefined;
  }
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The body as a GraphQL request: a JSON object with a string `query`, object `variables` and string `operationName` (both optional). */
export function parseGraphqlRequest(body: Buffer): GraphqlRequest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw new BadGraphqlRequest('The request body is not JSON.');
  }
  if (!isObject(parsed)) throw new BadGraphqlRequest('The request body must be a JSON object.');
  const { query, variables, operationName } = parsed;
  if (typeof query !== 'string') throw new BadGraphqlRequest('The request has no query (a string).');
  if (variables !== undefined && variables !== null && !isObject(variables)) throw new BadGraphqlRequest('The request\'s variables must be a JSON object.');
  if (operationName !== undefined && operationName !== null && typeof operationName !== 'string') {
    throw new BadGraphqlRequest('The request\'s operationName must be a string.');
  }
  return { query, variables: variables ?? {}, operationName: operationName ?? undefined };
}
