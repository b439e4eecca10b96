/**
 * Lambda bundles: each Lambda entry (tasks/lambda/<entry>.ts: one per task, and invoke-agent's one
 * per agent runtime) bundled as infra/aws bundles it, its
 * size, and its cold module-load time: `import()` of the bundle in a fresh Node process (with the
 * environment CDK sets, dummy values, and role credentials in the environment as Lambda sets them),
 * the part of a cold start that the bundle decides. The modules left external stay resolvable, as
 * the runtime's SDK is on Lambda: the bundles sit beside a `node_modules` link to the project's.
 * The invoke-agent entry from before the split per runtime (both Bedrock clients:
 * bench/invoke-agent-combined.ts) is measured in the same run, as the split's baseline.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { LAMBDA_ESBUILD } from '../infra/aws/bundling.ts';
import { AGENT_RUNTIMES, type AgentRuntimeKind } from '../tasks/config.ts';
import { LAMBDA_ENTRIES, lambdaEntry } from '../tasks/lambda-entries.ts';
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

/** Milliseconds to import `file` in a fresh process, measured inside it (`agentRuntime`: the deployment's AGENT_RUNTIME). */
function coldLoadMs(file: string, agentRuntime: AgentRuntimeKind): number {
  const script = `const t = performance.now(); await import(${JSON.stringify(`file://${file}`)}); process.stdout.write(String(performance.now() - t));`;
  const env = { ...process.env, ...LAMBDA_ENV, AGENT_RUNTIME: agentRuntime };
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env, encoding: 'utf8' });
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
function medianLoadMs(file: string, loads: number, agentRuntime: AgentRuntimeKind = 'bedrock-agent'): number {
  return median(Array.from({ length: loads }, () => coldLoadMs(file, agentRuntime)));
}

interface Measured {
  kb: number;
  loadMs: number;
  file: string;
}

/** Medians of `a`'s and `b`'s cold loads taken in turns, so that the machine's drift weighs on both alike. */
function pairedLoadMs(a: string, b: string, loads: number, agentRuntime: AgentRuntimeKind): [number, number] {
  const [as, bs]: [number[], number[]] = [[], []];
  for (let i = 0; i < loads; i++) {
    as.push(coldLoadMs(a, agentRuntime));
    bs.push(coldLoadMs(b, agentRuntime));
  }
  return [median(as), median(bs)];
}

/** The runtime an entry is deployed with: its own for an invoke-agent entry (the others do not mind). */
function runtimeOf(entry: string): AgentRuntimeKind {
  return AGENT_RUNTIMES.find((r) => entry === lambdaEntry('invoke-agent', r)) ?? 'bedrock-agent';
}

/** Bundles `source` into dir/name/, prints its row, and returns its size and load time. */
async function measure(dir: string, name: string, source: string, loads: number, agentRuntime: AgentRuntimeKind): Promise<Measured> {
  const out = path.join(dir, name.replace(/[^\w-]+/g, '_'));
  const outfile = path.join(out, 'index.mjs');
  await build({ ...LAMBDA_ESBUILD, mainFields: [...LAMBDA_ESBUILD.mainFields], external: [...LAMBDA_ESBUILD.external], entryPoints: [source], outfile, logLevel: 'silent' });
  const kb = statSync(outfile).size / 1024;
  const load = medianLoadMs(outfile, loads, agentRuntime);
  const builtins = path.join(out, 'builtins.mjs');
  writeFileSync(builtins, staticBuiltins(readFileSync(outfile, 'utf8')).map((b) => `import ${JSON.stringify(b)};\n`).join('') + 'export {};\n');
  const base = medianLoadMs(builtins, loads);
  const verdict = kb < TARGET.maxKb && load < TARGET.maxLoadMs ? 'ok' : 'OVER TARGET';
  process.stdout.write(
    `  ${name.padEnd(36)} ${`${kb.toFixed(0)} KB`.padStart(8)}  ${`${load.toFixed(1)} ms`.padStart(9)}  ${`${base.toFixed(1)} ms`.padStart(9)}  ${`${(load - base).toFixed(1)} ms`.padStart(9)}  ${verdict}\n`,
  );
  return { kb, loadMs: load, file: outfile };
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
    process.stdout.write(`  ${'entry'.padEnd(36)} ${'size'.padStart(8)}  ${'load'.padStart(9)}  ${'built-ins'.padStart(9)}  ${'own code'.padStart(9)}\n`);
    const measured = new Map<string, Measured>();
    for (const entry of LAMBDA_ENTRIES) {
      measured.set(entry, await measure(dir, entry, path.join(ROOT, 'tasks/lambda', `${entry}.ts`), loads, runtimeOf(entry)));
    }
    // The baseline of the split: the one invoke-agent bundle with both clients, loaded as each runtime.
    const combined = path.join(ROOT, 'bench/invoke-agent-combined.ts');
    process.stdout.write('  baseline, before the split per runtime (both Bedrock clients in one bundle):\n');
    for (const runtime of AGENT_RUNTIMES) {
      const before = await measure(dir, `invoke-agent (both) as ${runtime}`, combined, loads, runtime);
      const after = measured.get(lambdaEntry('invoke-agent', runtime))!;
      const [beforeMs, afterMs] = pairedLoadMs(before.file, after.file, loads, runtime);
      process.stdout.write(
        `    -> ${lambdaEntry('invoke-agent', runtime)}: ${(after.kb - before.kb).toFixed(0)} KB (${before.kb.toFixed(0)} -> ${after.kb.toFixed(0)} KB); ` +
          `load, both again in turns: ${(afterMs - beforeMs).toFixed(1)} ms (${beforeMs.toFixed(1)} -> ${afterMs.toFixed(1)} ms, ${((afterMs / beforeMs - 1) * 100).toFixed(0)}%)\n`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
