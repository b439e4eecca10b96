/**
 * Lambda bundles: each task's entry (tasks/lambda/<task>.ts) bundled as infra/aws bundles it, its
 * size, and its cold module-load time: `import()` of the bundle in a fresh Node process (with the
 * environment CDK sets, dummy values, and role credentials in the environment as Lambda sets them),
 * the part of a cold start that the bundle decides. The modules left external stay resolvable, as
 * the runtime's SDK is on Lambda: the bundles sit beside a `node_modules` link to the project's.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { LAMBDA_ESBUILD } from '../infra/aws/bundling.ts';
import { TASK_NAMES } from '../tasks/task-names.ts';
import { median, positiveIntEnv } from './stats.ts';

export const name = 'bundles';
export const description = 'each task Lambda bundle: size, and cold module-load time in a fresh Node process';

const TARGET = { maxKb: 300, maxLoadMs: 60 };
const ROOT = fileURLToPath(new URL('..', import.meta.url));

const LAMBDA_ENV = {
  AWS_REGION: 'us-east-1',
  TABLE_PREFIX: 'bench-',
  TENANT_ACCESS_ROLE_ARN: 'arn:aws:iam::111111111111:role/bench-tenant-access',
  PUBLISH_ROLE_ARN: 'arn:aws:iam::111111111111:role/bench-publish-answer',
  SEAL_KEY_ID: 'arn:aws:kms:us-east-1:111111111111:key/00000000-0000-0000-0000-000000000000',
  GRAPHQL_URL: 'https://example.appsync-api.us-east-1.amazonaws.com/graphql',
  USER_POOL_ID: 'us-east-1_bench',
  AGENT_RUNTIME: 'bedrock-agent',
  AGENT_ID: 'BENCHAGENT',
  AGENT_ALIAS_ID: 'BENCHALIAS',
  MODEL_ID: 'anthropic.claude-3-haiku-20240307-v1:0',
  // Lambda puts the role's credentials in the environment (dummy ones: nothing is called).
  AWS_ACCESS_KEY_ID: 'BENCHDUMMYKEYID',
  AWS_SECRET_ACCESS_KEY: 'bench-dummy-secret',
  AWS_SESSION_TOKEN: 'bench-dummy-token',
};

/** Milliseconds to import `file` in a fresh process, measured inside it. */
function coldLoadMs(file: string): number {
  const script = `const t = performance.now(); await import(${JSON.stringify(`file://${file}`)}); process.stdout.write(String(performance.now() - t));`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, ...LAMBDA_ENV }, encoding: 'utf8' });
  if (child.status !== 0) throw new Error(`Loading ${file} failed: ${child.stderr.slice(-600)}`);
  return Number(child.stdout);
}

/** The Node built-ins a bundle imports statically (loaded with it; dynamic `import()`s are not). */
function staticBuiltins(code: string): string[] {
  const found = new Set<string>();
  for (const m of code.matchAll(/\b(?:from|import)\s*["'](node:[\w/]+)["']/g)) found.add(m[1]!);
  return [...found].sort();
}

/** Median cold load of a module, over `loads` fresh processes. */
function medianLoadMs(file: string, loads: number): number {
  return median(Array.from({ length: loads }, () => coldLoadMs(file)));
}

export async function run(): Promise<void> {
  const loads = positiveIntEnv('BENCH_ITERATIONS', 5);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-bundles-'));
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  try {
    process.stdout.write(`target: < ${TARGET.maxKb} KB and < ${TARGET.maxLoadMs} ms each (median of ${loads} cold loads, Node ${process.version})\n`);
    // The baseline, in the same run: what loading costs here before any of the bundle's own code.
    const empty = path.join(dir, 'empty.mjs');
    writeFileSync(empty, 'export {};\n');
    process.stdout.write(`baseline: an empty module loads in ${medianLoadMs(empty, loads).toFixed(1)} ms; "built-ins" below is a module importing only the Node built-ins that bundle imports\n`);
    process.stdout.write(`  ${'task'.padEnd(18)} ${'size'.padStart(8)}  ${'load'.padStart(9)}  ${'built-ins'.padStart(9)}  ${'own code'.padStart(9)}\n`);
    for (const task of TASK_NAMES) {
      const outfile = path.join(dir, task, 'index.mjs');
      await build({ ...LAMBDA_ESBUILD, mainFields: [...LAMBDA_ESBUILD.mainFields], external: [...LAMBDA_ESBUILD.external], entryPoints: [path.join(ROOT, 'tasks/lambda', `${task}.ts`)], outfile, logLevel: 'silent' });
      const kb = statSync(outfile).size / 1024;
      const load = medianLoadMs(outfile, loads);
      const builtins = path.join(dir, task, 'builtins.mjs');
      writeFileSync(builtins, staticBuiltins(readFileSync(outfile, 'utf8')).map((b) => `import ${JSON.stringify(b)};\n`).join('') + 'export {};\n');
      const base = medianLoadMs(builtins, loads);
      const verdict = kb < TARGET.maxKb && load < TARGET.maxLoadMs ? 'ok' : 'OVER TARGET';
      process.stdout.write(
        `  ${task.padEnd(18)} ${`${kb.toFixed(0)} KB`.padStart(8)}  ${`${load.toFixed(1)} ms`.padStart(9)}  ${`${base.toFixed(1)} ms`.padStart(9)}  ${`${(load - base).toFixed(1)} ms`.padStart(9)}  ${verdict}\n`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
