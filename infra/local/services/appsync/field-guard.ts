/**
 * What AppSync checks on every field it resolves, however the document reaches the field (inline
 * fragments, fragment spreads, aliases, nesting): the query depth limit, the field's authorization,
 * and the resolver count limit. It runs as the executor's field resolver, so it sees exactly the
 * fields that execution reaches, with their real parent type, never a reading of the syntax.
 * https://docs.aws.amazon.com/appsync/latest/devguide/configuration-limits.html
 */
import { defaultFieldResolver, type GraphQLFieldResolver, type GraphQLResolveInfo, type ResponsePath } from 'graphql';

/** A field refused by a limit or by authorization: null in `data`, an error in `errors`. */
export class FieldRefused extends Error {
  constructor(
    readonly errorType: string,
    message: string,
  ) {
    super(message);
  }
}

export interface FieldGuardOptions {
  queryDepthLimit: number;
  resolverCountLimit: number;
  /** May the caller reach `typeName.fieldName`? `root` for the operation's own fields. */
  authorize(typeName: string, fieldName: string, root: boolean): boolean | Promise<boolean>;
  /** The field's resolver, or undefined when it has none (its value is the parent's property). `info` is the executor's, for the field's selection. */
  resolver(typeName: string, fieldName: string): ((args: Record<string, unknown>, info: GraphQLResolveInfo) => Promise<unknown>) | undefined;
}

/** Nested levels down to a field: its root field is 1 (list indices are not levels). */
export function depthOf(path: ResponsePath): number {
  let depth = 0;
  for (let p: ResponsePath | undefined = path; p; p = p.prev) if (typeof p.key === 'string') depth++;
  return depth;
}

/** A field resolver for one request: its resolver count starts at zero. */
export function guardedFieldResolver(options: FieldGuardOptions): GraphQLFieldResolver<unknown, unknown> {
  let invoked = 0;
  return (source, args, context, info) => {
    const typeName = info.parentType.name;
    const { fieldName } = info;
    if (depthOf(info.path) > options.queryDepthLimit) {
      throw new FieldRefused('QueryDepthLimitExceeded', `The query is deeper than this API's limit of ${options.queryDepthLimit} nested levels.`);
    }
    const resolve = (allowed: boolean) => {
      if (!allowed) throw new FieldRefused('Unauthorized', `Not Authorized to access ${fieldName} on type ${typeName}`);
      const run = options.resolver(typeName, fieldName);
      if (!run) return defaultFieldResolver(source, args, context, info);
      if (++invoked > options.resolverCountLimit) {
        throw new FieldRefused('ResolverCountLimitExceeded', `The request invokes more resolvers than this API's limit of ${options.resolverCountLimit}.`);
      }
      return run(args, info);
    };
    const allowed = options.authorize(typeName, fieldName, info.path.prev === undefined);
    return typeof allowed === 'boolean' ? resolve(allowed) : allowed.then(resolve);
  };
}
