/**
 * The GraphQL API's per-request limits: one source for the CDK stack (AppSync's `queryDepthLimit`
 * and `resolverCountLimit`) and the local AppSync, which enforces the same numbers.
 * https://docs.aws.amazon.com/appsync/latest/devguide/configuration-limits.html
 */

/**
 * Nested levels a query may have (AppSync accepts 1 to 75). The deepest document the product sends
 * is 2 (`mutation { ask { answerId } }`); 4 leaves room without allowing fan-out.
 */
export const QUERY_DEPTH_LIMIT = 4;

/**
 * Resolvers one request may invoke (AppSync accepts 1 to 10000; its default is 10000). Every
 * request the product sends invokes one, so one request can never start more than one question.
 */
export const RESOLVER_COUNT_LIMIT = 1;
