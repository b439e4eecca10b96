/**
 * Lambda bundles: each task's entry (tasks/lambda/<task>.ts) bundled as infra/aws bundles it, its
 * size, and its cold module-load time: `import()` of the bundle in a fresh Node process (with the
 * environment CDK sets, dummy values, and role credentials in the environment as Lambda sets them),
 * the part of a cold start that the bundle decides. The modules left external stay resolvable, as
 * the runtime's SDK is on Lambda: the bundles sit beside a `node_modules` link to the project's.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { LAMBDA_ESBUILD } from '../infra/aws/bundling.ts';
import { TASK_NAMES } from '../tasks/policies.ts';
import { positiveIntEnv } from './stats.ts';

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

export async function run(): Promise<void> {
  const loads = positiveIntEnv('BENCH_ITERATIONS', 5);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-bundles-'));
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  try {
    process.stdout.write(`target: < ${TARGET.maxKb} KB and < ${TARGET.maxLoadMs} ms each (median of ${loads} cold loads, Node ${process.version})\n`);
    for (const task of TASK_NAMES) {
      const outfile = path.join(dir, task, 'index.mjs');
      await build({ ...LAMBDA_ESBUILD, mainFields: [...LAMBDA_ESBUILD.mainFields], external: [...LAMBDA_ESBUILD.external], entryPoints: [path.join(ROOT, 'tasks/lambda', `${task}.ts`)], outfile, logLevel: 'silent' });
      const kb = statSync(outfile).size / 1024;
      const times = Array.from({ length: loads }, () => coldLoadMs(outfile)).sort((a, b) => a - b);
      const median = times[Math.floor(times.length / 2)] ?? Number.NaN;
      const verdict = kb < TARGET.maxKb && median < TARGET.maxLoadMs ? 'ok' : 'OVER TARGET';
      process.stdout.write(`  ${task.padEnd(18)} ${kb.toFixed(0).padStart(5)} KB  ${median.toFixed(1).padStart(6)} ms  ${verdict}\n`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
