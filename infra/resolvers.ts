/**
 * The API's resolvers: which file serves which field, with which data source, and how a resolver
 * file is bundled for the APPSYNC_JS runtime. One source for infra/aws (CDK) and infra/local.
 */
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

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
 * Bundles one resolver as AppSync requires: a single ES module, `@aws-appsync/utils` left as an
 * import (the runtime supplies it), ES2020 syntax, no source maps inlined.
 */
export async function bundleResolver(file: string): Promise<string> {
  const out = await build({
    entryPoints: [fileURLToPath(new URL(file, `file://${ROOT}`))],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'neutral',
    target: 'es2020',
    external: ['@aws-appsync/utils'],
    sourcemap: false,
    logLevel: 'silent',
  });
  const code = out.outputFiles[0]?.text;
  if (!code) throw new Error(`esbuild produced no output for ${file}`);
  return code;
}
