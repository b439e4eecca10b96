/**
 * The modules left out of the Lambda bundles are safe to leave out only while the SDK reaches them
 * through a dynamic `import()` (the credential chain after the environment provider). An SDK
 * upgrade that imports one statically would make the function load the runtime's copy at every
 * cold start, a version the tests never ran: this fails first.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { AGENT_RUNTIMES, type AgentRuntimeKind } from '../../tasks/config.ts';
import { LAMBDA_ENTRIES, lambdaEntry } from '../../tasks/lambda-entries.ts';
import { LAMBDA_ESBUILD, LAMBDA_EXTERNAL_MODULES, lambdaBundling } from './bundling.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The bundle's code, and the files with code in it (relative to the project). */
async function bundle(entry: string): Promise<{ code: string; inputs: string[] }> {
  const out = await build({
    ...LAMBDA_ESBUILD,
    mainFields: [...LAMBDA_ESBUILD.mainFields],
    external: [...LAMBDA_ESBUILD.external],
    minify: false,
    entryPoints: [entry],
    write: false,
    outfile: 'index.mjs',
    metafile: true,
    logLevel: 'silent',
  });
  const inputs = Object.values(out.metafile.outputs)[0]!.inputs;
  return { code: out.outputFiles[0]!.text, inputs: Object.keys(inputs).filter((f) => inputs[f]!.bytesInOutput > 0) };
}

describe('Lambda bundles', () => {
  const entries = [...LAMBDA_ENTRIES.map((e) => path.join(ROOT, 'tasks/lambda', `${e}.ts`)), path.join(ROOT, 'infra/aws/seed-users-handler.ts'), path.join(ROOT, 'tasks/pre-token-generation.ts')];

  it.each(entries)('%s imports each external module only dynamically, and nothing else external', async (entry) => {
    const { code } = await bundle(entry);
    const staticImports = [...code.matchAll(/^\s*import\s[^'"]*?from\s*["']([^"']+)["']/gm)].map((m) => m[1]!).filter((s) => !s.startsWith('node:'));
    expect(staticImports).toEqual([]);
    const dynamicImports = new Set([...code.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1]!));
    for (const name of [...dynamicImports].filter((s) => !s.startsWith('node:'))) expect(LAMBDA_EXTERNAL_MODULES, name).toContain(name);
  });

  // zod/mini with its English messages only: classic zod and all its locales were ~440 KB of each bundle.
  it.each(entries)('%s bundles zod/mini and the English locale only', async (entry) => {
    const zod = (await bundle(entry)).inputs.filter((f) => f.includes('node_modules/zod/'));
    expect(zod.filter((f) => /\/(classic|v3)\//.test(f) || (/\/locales\//.test(f) && !/\/locales\/en\.js$/.test(f)))).toEqual([]);
  });

  /** Each runtime's Bedrock client package: a deployment of one runtime never loads the other's. */
  const BEDROCK_CLIENTS: Record<AgentRuntimeKind, string> = {
    converse: 'node_modules/@aws-sdk/client-bedrock-runtime/',
    'bedrock-agent': 'node_modules/@aws-sdk/client-bedrock-agent-runtime/',
  };

  it.each(AGENT_RUNTIMES)("the %s deployment's invoke-agent bundle holds its runtime's Bedrock client only (control: its own client is there)", async (runtime) => {
    const { inputs } = await bundle(path.join(ROOT, 'tasks/lambda', `${lambdaEntry('invoke-agent', runtime)}.ts`));
    const other = AGENT_RUNTIMES.find((r) => r !== runtime)!;
    expect(inputs.filter((f) => f.includes(BEDROCK_CLIENTS[runtime])).length).toBeGreaterThan(0);
    expect(inputs.filter((f) => f.includes(BEDROCK_CLIENTS[other]))).toEqual([]);
    // The adapter's own code goes with its client, and the other adapter's does not.
    expect(inputs).toContain(`tasks/agent-runtime-${runtime}.ts`);
    expect(inputs).not.toContain(`tasks/agent-runtime-${other}.ts`);
  });

  it('CDK bundles with the same externals as the benchmark', () => {
    expect(lambdaBundling().externalModules).toEqual([...LAMBDA_EXTERNAL_MODULES]);
  });
});
