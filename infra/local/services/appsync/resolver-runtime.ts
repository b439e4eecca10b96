/**
 * A small APPSYNC_JS runtime for the local AppSync: it loads the bundled resolver and function
 * modules (the same bundles CDK deploys) and supplies the parts of `@aws-appsync/utils` they use:
 * `util.error`, `util.appendError`, `util.unauthorized`, `util.autoId`, `util.time`,
 * `util.dynamodb`, `util.transform.toSubscriptionFilter`, `extensions.setSubscriptionFilter` and
 * `runtime.earlyReturn`. It runs unit resolvers (request, data source, response) and pipeline
 * resolvers (request, each function's request, data source and response, then response), with
 * `ctx.stash` and `ctx.prev.result` carried across. Handlers are synchronous, so the
 * per-invocation state (filters, appended errors) is safe in module scope during one call.
 */
import { randomUUID } from 'node:crypto';
import { transform } from 'esbuild';
import { bundleResolver, isPipeline, type DataSource, type FunctionDefinition, type ResolverDefinition } from '../../../resolvers.ts';
import { dynamodbUtils } from './dynamodb-json.ts';

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
  constructor(
    readonly value: unknown,
    readonly skipTo?: 'END' | 'NEXT',
  ) {}
}

/**
 * A failed data source call, as the resolver sees it: `ctx.error` ({ message, type }) and, where
 * AppSync gives one (a cancelled transaction's reasons), `ctx.result`.
 */
export class DataSourceError extends Error {
  constructor(
    message: string,
    readonly errorType: string,
    readonly result?: unknown,
  ) {
    super(message);
  }
}

/** An error a handler recorded with util.appendError: the resolution goes on. */
export interface AppendedError {
  message: string;
  errorType: string;
  data: unknown;
  errorInfo: unknown;
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
  appended: AppendedError[];
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
    appendError(message: string, errorType?: string, data?: unknown, errorInfo?: unknown): void {
      invocation().appended.push({ message, errorType: errorType ?? 'Error', data: data ?? null, errorInfo: errorInfo ?? null });
    },
    unauthorized(): never {
      const { typeName, fieldName } = invocation();
      throw new ResolverError(`Not Authorized to access ${fieldName} on type ${typeName}`, 'Unauthorized');
    },
    autoId: () => randomUUID(),
    dynamodb: dynamodbUtils,
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
    earlyReturn(value?: unknown, options?: { skipTo?: 'END' | 'NEXT' }): never {
      throw new EarlyReturn(value ?? null, options?.skipTo);
    },
  },
};

type Handler = (ctx: Record<string, unknown>) => unknown;

interface Handlers {
  request: Handler;
  response: Handler;
}

export interface LoadedFunction extends Handlers {
  definition: FunctionDefinition;
}

export interface LoadedResolver extends Handlers {
  definition: ResolverDefinition;
  /** A pipeline's functions, in order (none for a unit resolver). */
  functions: readonly LoadedFunction[];
}

/** Loads one AppSync bundle (ESM), adapted to a function module for local use. */
async function loadHandlers(file: string): Promise<Handlers> {
  const esm = await bundleResolver(file);
  const { code } = await transform(esm, { format: 'cjs', target: 'es2020', loader: 'js' });
  const module = { exports: {} as Record<string, Handler> };
  const requireUtils = (id: string) => {
    if (id !== '@aws-appsync/utils') throw new Error(`${file} imports ${id}: resolvers may import only @aws-appsync/utils`);
    return appsyncUtils;
  };
  new Function('require', 'module', 'exports', code)(requireUtils, module, module.exports);
  const { request, response } = module.exports;
  if (typeof request !== 'function' || typeof response !== 'function') {
    throw new Error(`${file} must export request and response`);
  }
  return { request, response };
}

/** Loads a resolver (and a pipeline's functions) from their bundles. */
export async function loadResolver(definition: ResolverDefinition): Promise<LoadedResolver> {
  const functions = isPipeline(definition)
    ? await Promise.all(definition.functions.map(async (f) => ({ definition: f, ...(await loadHandlers(f.file)) })))
    : [];
  return { definition, functions, ...(await loadHandlers(definition.file)) };
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
  /** Errors handlers recorded with util.appendError, in order: AppSync returns them beside the field's value. */
  appendedErrors: AppendedError[];
}

/** Performs one data source call with what a request handler returned (throws DataSourceError on failure). */
export type DataSourceCall = (request: unknown, dataSource: DataSource) => Promise<unknown>;

/**
 * Runs a resolver. A unit resolver: request handler, data source, response handler. A pipeline
 * resolver: request handler (its return value is the first function's `ctx.prev.result`), then
 * each function (request handler, its data source, response handler; the response's value is the
 * next `ctx.prev.result`), then the response handler, whose value is the field's. `ctx.stash`
 * is shared by all of them. `runtime.earlyReturn` in a function's request handler skips that
 * function's data source and response handler (its value becomes `ctx.prev.result`); in the
 * resolver's request handler, or with `skipTo: 'END'`, it skips the remaining functions and the
 * resolver's response handler runs. util.error anywhere ends the resolution with that error.
 */
export async function runResolver(resolver: LoadedResolver, ctx: ResolverContext, dataSource: DataSourceCall): Promise<ResolverRun> {
  const inv: Invocation = { typeName: resolver.definition.typeName, fieldName: resolver.definition.fieldName, appended: [] };
  const context: Record<string, unknown> = { ...ctx, arguments: ctx.args, stash: {}, prev: undefined, request: { headers: {} }, info: { fieldName: inv.fieldName, parentTypeName: inv.typeName } };
  const call = (handler: Handler): { value: unknown; early?: EarlyReturn } => {
    current = inv;
    try {
      return { value: handler(context) };
    } catch (err) {
      if (err instanceof EarlyReturn) return { value: err.value, early: err };
      throw err;
    } finally {
      current = undefined;
    }
  };
  const invoke = async (handlers: Handlers, ds: DataSource): Promise<{ value: unknown; early?: EarlyReturn }> => {
    const req = call(handlers.request);
    if (req.early) return req;
    delete context.error;
    delete context.result;
    try {
      context.result = await dataSource(req.value, ds);
    } catch (err) {
      context.error = { message: (err as Error).message, type: (err as { errorType?: string }).errorType ?? 'DataSourceError' };
      if (err instanceof DataSourceError && err.result !== undefined) context.result = err.result;
    }
    const res = call(handlers.response);
    delete context.error;
    delete context.result;
    return res;
  };
  const finish = (result: unknown): ResolverRun => ({
    result,
    ...(inv.subscriptionFilter ? { subscriptionFilter: inv.subscriptionFilter } : {}),
    appendedErrors: inv.appended,
  });
  const definition = resolver.definition;
  if (!isPipeline(definition)) return finish((await invoke(resolver, definition.dataSource)).value);
  const before = call(resolver.request);
  context.prev = { result: before.value };
  if (!before.early) {
    for (const fn of resolver.functions) {
      const out = await invoke(fn, fn.definition.dataSource);
      context.prev = { result: out.value };
      if (out.early?.skipTo === 'END') break;
    }
  }
  return finish(call(resolver.response).value);
}
