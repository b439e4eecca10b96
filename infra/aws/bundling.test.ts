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
import { TASK_NAMES } from '../../tasks/task-names.ts';
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
  const entries = [...TASK_NAMES.map((t) => path.join(ROOT, 'tasks/lambda', `${t}.ts`)), path.join(ROOT, 'infra/aws/seed-users-handler.ts')];

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

  it('CDK bundles with the same externals as the benchmark', () => {
    expect(lambdaBundling().externalModules).toEqual([...LAMBDA_EXTERNAL_MODULES]);
  });
});
