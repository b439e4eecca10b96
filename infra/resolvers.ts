/**
 * The API's resolvers: which file serves which field, with which data source (unit resolvers) or
 * which functions, each with its own data source (pipeline resolvers), and how a resolver or
 * function file is bundled for the APPSYNC_JS runtime. One source for infra/aws (CDK) and
 * infra/local.
 */
import { fileURLToPath } from 'node:url';
import { build, buildSync, type BuildOptions } from 'esbuild';

/** The tables a DynamoDB data source of the API may name (TableNames' getters of the same name). */
export type ApiTable = 'usage' | 'config';

export type DataSource = { kind: 'NONE' } | { kind: 'HTTP'; service: 'states' } | { kind: 'DYNAMODB'; table: ApiTable };

/** One function of a pipeline resolver: its own file (request and response) and data source. */
export interface FunctionDefinition {
  /** The function's name (AppSync function names: letters, digits and underscores). */
  name: string;
  /** Path of the TypeScript function, relative to the repository root. */
  file: string;
  dataSource: DataSource;
}

interface FieldDefinition {
  typeName: 'Query' | 'Mutation' | 'Subscription';
  fieldName: string;
  /** Path of the TypeScript resolver, relative to the repository root (a pipeline's: its before and after handlers). */
  file: string;
}

/** A unit resolver: request handler, one data source call, response handler. */
export interface UnitResolverDefinition extends FieldDefinition {
  kind?: 'UNIT';
  dataSource: DataSource;
}

/** A pipeline resolver: request (before), then each function in order, then response (after). */
export interface PipelineResolverDefinition extends FieldDefinition {
  kind: 'PIPELINE';
  functions: readonly FunctionDefinition[];
}

export type ResolverDefinition = UnitResolverDefinition | PipelineResolverDefinition;

export const isPipeline = (r: ResolverDefinition): r is PipelineResolverDefinition => r.kind === 'PIPELINE';

/**
 * `ctx.env` of the API (AppSync environment variables), the same in CDK and locally: the state
 * machine `ask` starts and the tables its DynamoDB functions name (TransactWriteItems names each
 * item's table; a data source's own table is its `table`).
 */
export const API_ENV_NAMES = { stateMachineArn: 'STATE_MACHINE_ARN', usageTable: 'USAGE_TABLE', configTable: 'CONFIG_TABLE' } as const;

export function apiEnvironment(values: { stateMachineArn: string; tables: { usage: string; config: string } }): Record<string, string> {
  return {
    [API_ENV_NAMES.stateMachineArn]: values.stateMachineArn,
    [API_ENV_NAMES.usageTable]: values.tables.usage,
    [API_ENV_NAMES.configTable]: values.tables.config,
  };
}

export const RESOLVERS: readonly ResolverDefinition[] = [
  { typeName: 'Mutation', fieldName: 'ask', file: 'resolvers/Mutation.ask.ts', dataSource: { kind: 'HTTP', service: 'states' } },
  { typeName: 'Mutation', fieldName: 'publishAnswer', file: 'resolvers/Mutation.publishAnswer.ts', dataSource: { kind: 'NONE' } },
  { typeName: 'Subscription', fieldName: 'onAnswer', file: 'resolvers/Subscription.onAnswer.ts', dataSource: { kind: 'NONE' } },
];

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * How a resolver is bundled for AppSync: a single ES module, `@aws-appsync/utils` left as an
 * import (the runtime supplies it), ES2020 syntax, no source maps inlined.
 */
function resolverBuildOptions(file: string): BuildOptions & { write: false } {
  return {
    entryPoints: [fileURLToPath(new URL(file, `file://${ROOT}`))],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'neutral',
    target: 'es2020',
    external: ['@aws-appsync/utils'],
    sourcemap: false,
    logLevel: 'silent',
  };
}

function resolverCode(file: string, out: { outputFiles: { text: string }[] }): string {
  const code = out.outputFiles[0]?.text;
  if (!code) throw new Error(`esbuild produced no output for ${file}`);
  return code;
}

/** Bundles one resolver for the APPSYNC_JS runtime (the local AppSync loads it at start). */
export async function bundleResolver(file: string): Promise<string> {
  return resolverCode(file, await build(resolverBuildOptions(file)));
}

/** The same bundle, synchronously: CDK needs the code while it synthesizes. */
export function bundleResolverSync(file: string): string {
  return resolverCode(file, buildSync(resolverBuildOptions(file)));
}
