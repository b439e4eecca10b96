/**
 * A small APPSYNC_JS runtime for the local AppSync: it loads the bundled resolver modules (the same
 * bundles CDK deploys) and supplies the parts of `@aws-appsync/utils` they use: `util.error`,
 * `util.unauthorized`, `util.autoId`, `util.time`, `util.transform.toSubscriptionFilter`,
 * `extensions.setSubscriptionFilter` and `runtime.earlyReturn`. Resolver handlers are synchronous,
 * so the per-invocation state (filters, early return) is safe in module scope during one call.
 */
import { randomUUID } from 'node:crypto';
import { transform } from 'esbuild';
import { bundleResolver, type ResolverDefinition } from '../../../resolvers.ts';

/** An error a resolver raised with util.error / util.unauthorized. */
export class ResolverError extends Error {
  constructor(
    message: string,
    readonly errorType: string,
    readonly data: unknown = null,
    readonly errorInfo: unknown = null,
  ) {
    super(message);
  }
}

class EarlyReturn {
  constructor(readonly value: unknown) {}
}

export type FilterOperator = 'eq' | 'ne' | 'le' | 'lt' | 'ge' | 'gt' | 'contains' | 'notContains' | 'beginsWith' | 'in' | 'notIn' | 'between';

export interface SubscriptionFilter {
  filterGroup: { filters: { fieldName: string; operator: FilterOperator; value: unknown }[] }[];
}

/** Whether an event matches an enhanced subscription filter (any group, all filters of it). */
export function matchesFilter(filter: SubscriptionFilter, event: Record<string, unknown>): boolean {
  return filter.filterGroup.some((group) =>
    group.filters.every(({ fieldName, operator, value }) => {
      const actual = event[fieldName];
      switch (operator) {
        case 'eq':
          return actual === value;
        case 'ne':
          return actual !== value;
        case 'gt':
          return (actual as number) > (value as number);
        case 'ge':
          return (actual as number) >= (value as number);
        case 'lt':
          return (actual as number) < (value as number);
        case 'le':
          return (actual as number) <= (value as number);
        case 'in':
          return Array.isArray(value) && value.includes(actual);
        case 'notIn':
          return Array.isArray(value) && !value.includes(actual);
        case 'beginsWith':
          return typeof actual === 'string' && actual.startsWith(String(value));
        case 'contains':
          return typeof actual === 'string' ? actual.includes(String(value)) : Array.isArray(actual) && actual.includes(value);
        case 'notContains':
          return typeof actual === 'string' ? !actual.includes(String(value)) : !(Array.isArray(actual) && actual.includes(value));
        case 'between':
          return Array.isArray(value) && (actual as number) >= value[0] && (actual as number) <= value[1];
      }
    }),
  );
}

interface Invocation {
  typeName: string;
  fieldName: string;
  subscriptionFilter?: SubscriptionFilter;
}

let current: Invocation | undefined;

function invocation(): Invocation {
  if (!current) throw new Error('@aws-appsync/utils used outside a resolver invocation');
  return current;
}

/** The local implementation of the `@aws-appsync/utils` module. */
export const appsyncUtils = {
  util: {
    error(message: string, errorType?: string, data?: unknown, errorInfo?: unknown): never {
      throw new ResolverError(message, errorType ?? 'Error', data ?? null, errorInfo ?? null);
    },
    unauthorized(): never {
      const { typeName, fieldName } = invocation();
      throw new ResolverError(`Not Authorized to access ${fieldName} on type ${typeName}`, 'Unauthorized');
    },
    autoId: () => randomUUID(),
    time: {
      nowISO8601: () => new Date().toISOString(),
      nowEpochSeconds: () => Math.floor(Date.now() / 1000),
      nowEpochMilliSeconds: () => Date.now(),
    },
    transform: {
      toSubscriptionFilter(input: Record<string, Record<string, unknown>>): SubscriptionFilter {
        const filters = Object.entries(input).flatMap(([fieldName, ops]) =>
          Object.entries(ops).map(([operator, value]) => ({ fieldName, operator: operator as FilterOperator, value })),
        );
        return { filterGroup: [{ filters }] };
      },
    },
  },
  extensions: {
    setSubscriptionFilter(filter: SubscriptionFilter): void {
      invocation().subscriptionFilter = filter;
    },
  },
  runtime: {
    earlyReturn(value?: unknown): never {
      throw new EarlyReturn(value ?? null);
    },
  },
};

type Handler = (ctx: Record<string, unknown>) => unknown;

export interface LoadedResolver {
  definition: ResolverDefinition;
  request: Handler;
  response: Handler;
}

/** Loads a resolver from its AppSync bundle (ESM), adapted to a function module for local use. */
export async function loadResolver(definition: ResolverDefinition): Promise<LoadedResolver> {
  const esm = await bundleResolver(definition.file);
  const { code } = await transform(esm, { format: 'cjs', target: 'es2020', loader: 'js' });
  const module = { exports: {} as Record<string, Handler> };
  const requireUtils = (id: string) => {
    if (id !== '@aws-appsync/utils') throw new Error(`${definition.file} imports ${id}: resolvers may import only @aws-appsync/utils`);
    return appsyncUtils;
  };
  new Function('require', 'module', 'exports', code)(requireUtils, module, module.exports);
  const { request, response } = module.exports;
  if (typeof request !== 'function' || typeof response !== 'function') {
    throw new Error(`${definition.file} must export request and response`);
  }
  return { definition, request, response };
}

export interface ResolverContext {
  args: Record<string, unknown>;
  identity: unknown;
  env: Record<string, string>;
  source?: unknown;
}

export interface ResolverRun {
  result: unknown;
  subscriptionFilter?: SubscriptionFilter;
}

/**
 * Runs a unit resolver: request handler, data source, response handler. `dataSource` performs the
 * data source call with what the request handler returned.
 */
export async function runResolver(
  resolver: LoadedResolver,
  ctx: ResolverContext,
  dataSource: (request: unknown) => Promise<unknown>,
): Promise<ResolverRun> {
  const inv: Invocation = { typeName: resolver.definition.typeName, fieldName: resolver.definition.fieldName };
  const context: Record<string, unknown> = { ...ctx, arguments: ctx.args, stash: {}, prev: undefined, request: { headers: {} }, info: { fieldName: inv.fieldName, parentTypeName: inv.typeName } };
  const call = (handler: Handler): { value: unknown; early: boolean } => {
    current = inv;
    try {
      return { value: handler(context), early: false };
    } catch (err) {
      if (err instanceof EarlyReturn) return { value: err.value, early: true };
      throw err;
    } finally {
      current = undefined;
    }
  };
  const req = call(resolver.request);
  if (req.early) return { result: req.value, ...(inv.subscriptionFilter ? { subscriptionFilter: inv.subscriptionFilter } : {}) };
  try {
    context.result = await dataSource(req.value);
  } catch (err) {
    context.error = { message: (err as Error).message, type: (err as { errorType?: string }).errorType ?? 'DataSourceError' };
  }
  const res = call(resolver.response);
  return { result: res.value, ...(inv.subscriptionFilter ? { subscriptionFilter: inv.subscriptionFilter } : {}) };
}
