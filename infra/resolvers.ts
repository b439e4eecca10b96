/**
 * The API's resolvers: which file serves which field, with which data source, and how a resolver
 * file is bundled for the APPSYNC_JS runtime. One source for infra/aws (CDK) and infra/local.
 */
import { fileURLToPath } from 'node:url';
import { build, buildSync, type BuildOptions } from 'esbuild';

export type DataSource = { kind: 'NONE' } | { kind: 'HTTP'; service: 'states' };

export interface ResolverDefinition {
  typeName: 'Query' | 'Mutation' | 'Subscription';
  fieldName: string;
  /** Path of the TypeScript resolver, relative to the repository root. */
  file: string;
  dataSource: DataSource;
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
