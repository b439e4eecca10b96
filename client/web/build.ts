/**
 * Builds the web UI with Vite's JS API (client/web/vite.config.ts). Builds are cached by a hash of
 * the UI's sources (client/) and the lock file, under node_modules/.cache/web-ui/<hash>/, so that
 * `npm start` and the browser tests build once per change, and concurrent builders do not collide.
 */
import { spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { WebConfig } from './src/config.ts';

export const WEB_ROOT = fileURLToPath(new URL('.', import.meta.url));
const REPO_ROOT = path.resolve(WEB_ROOT, '../..');
const CLIENT_ROOT = path.join(REPO_ROOT, 'client');
export const DEFAULT_CACHE_DIR = path.join(REPO_ROOT, 'node_modules', '.cache', 'web-ui');
const SKIP = new Set(['dist', 'node_modules']);
/** Files under client/ that no build includes: tests, and the scripts that run the build. */
const NOT_BUILT = /\.test\.tsx?$|^build(-cli)?\.ts$/;
/** A temporary build folder this old belongs to a build that was interrupted. */
const STALE_TEMP_MS = 10 * 60_000;

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (SKIP.has(entry.name) || entry.name.startsWith('.') || (entry.isFile() && NOT_BUILT.test(entry.name))) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(full));
    else if (entry.isFile()) out.push(full);
  }
  return out;
}

/** A hash of everything a build depends on: the client/ sources and the installed versions. */
export function webSourceHash(): string {
  const hash = createHash('sha256');
  const files = [...sourceFiles(CLIENT_ROOT), path.join(REPO_ROOT, 'package-lock.json')].sort();
  for (const file of files) {
    hash.update(path.relative(REPO_ROOT, file)).update('\0').update(readFileSync(file)).update('\0');
  }
  return hash.digest('hex').slice(0, 16);
}

export interface BuildOptions {
  /** Build into this folder (emptied first) instead of the cache. */
  outDir?: string;
  /** @default node_modules/.cache/web-ui */
  cacheDir?: string;
  /** The sources' hash, when the caller has it already. @default webSourceHash() */
  hash?: string;
}

export interface BuiltUi {
  dir: string;
  /** True when the build came from the cache. */
  cached: boolean;
  ms: number;
}

/**
 * Runs Vite in a child process (vite-build.mjs) with NODE_ENV=production: a production build of
 * React whatever the caller's NODE_ENV (vitest sets `test`), and no bundler left in the caller's memory.
 */
function viteBuild(outDir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(WEB_ROOT, 'vite-build.mjs'), outDir], {
      cwd: REPO_ROOT,
      env: { ...process.env, NODE_ENV: 'production' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
    child.on('error', reject);
    child.on('exit', (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`The Vite build failed (${signal ?? `exit ${code}`}): ${stderr.trim() || 'no output'}`)),
    );
  });
}

/** The folder of a cached build of the current sources (of `hash`), if one exists. */
export function cachedWebUi(cacheDir = DEFAULT_CACHE_DIR, hash = webSourceHash()): string | undefined {
  const dir = path.join(cacheDir, hash);
  return existsSync(path.join(dir, 'index.html')) ? dir : undefined;
}

export async function buildWebUi(options: BuildOptions = {}): Promise<BuiltUi> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  if (options.outDir) {
    await viteBuild(path.resolve(options.outDir));
    return { dir: path.resolve(options.outDir), cached: false, ms: elapsed() };
  }
  const cacheDir = options.cacheDir ?? DEFAULT_CACHE_DIR;
  const hash = options.hash ?? webSourceHash();
  const dir = path.join(cacheDir, hash);
  if (existsSync(path.join(dir, 'index.html'))) return { dir, cached: true, ms: elapsed() };
  // Build beside the target and move it in whole: a reader never sees half a build.
  const temp = path.join(cacheDir, `.tmp-${hash}-${randomUUID()}`);
  await mkdir(cacheDir, { recursive: true });
  try {
    await viteBuild(temp);
    try {
      await rename(temp, dir);
    } catch (err) {
      // Another process finished the same build first: use theirs.
      if (!existsSync(path.join(dir, 'index.html'))) throw err;
    }
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
  // Older builds of other sources are no longer needed, nor temporary folders of interrupted builds.
  for (const entry of readdirSync(cacheDir)) {
    const full = path.join(cacheDir, entry);
    const stale = entry.startsWith('.tmp-') ? Date.now() - (statSync(full, { throwIfNoEntry: false })?.mtimeMs ?? Date.now()) > STALE_TEMP_MS : entry !== hash;
    if (stale) await rm(full, { recursive: true, force: true });
  }
  return { dir, cached: false, ms: elapsed() };
}

/** The UI's config for an AWS deployment, from `npm run deploy`'s cdk-outputs.json. */
export function awsWebConfig(outputs: Record<string, Record<string, string>>, stackName?: string): WebConfig {
  const stacks = Object.entries(outputs).filter(([name, o]) => (!stackName || name === stackName) && o.GraphqlUrl);
  if (stacks.length !== 1) {
    throw new Error(
      stacks.length === 0
        ? 'cdk-outputs.json holds no stack with a GraphqlUrl output: run npm run deploy first.'
        : `cdk-outputs.json holds several stacks (${stacks.map(([n]) => n).join(', ')}): pass --stack.`,
    );
  }
  const o = stacks[0]![1];
  for (const key of ['Region', 'UserPoolClientId', 'GraphqlUrl', 'RealtimeUrl']) {
    if (!o[key]) throw new Error(`cdk-outputs.json: the stack has no ${key} output.`);
  }
  return { mode: 'aws', region: o.Region!, userPool: { clientId: o.UserPoolClientId! }, graphqlUrl: o.GraphqlUrl!, realtimeUrl: o.RealtimeUrl! };
}

export async function writeWebConfig(dir: string, config: WebConfig): Promise<string> {
  const file = path.join(dir, 'config.json');
  await writeFile(file, `${JSON.stringify(config, null, 2)}\n`);
  return file;
}
