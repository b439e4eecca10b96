/** Runs the project's CLIs as a person does (`node --import tsx <script>`), for the CLI suites. */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { STACK_NAME } from '../client/cli/targets.ts';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `script` with `args` and waits for it to exit. `env` entries replace the inherited ones; an
 * `undefined` one removes the variable. `stdin`, when given, is written and closed.
 */
export function runCli(script: string, args: readonly string[], options: { env?: Record<string, string | undefined>; stdin?: string } = {}): Promise<CliResult> {
  const env: Record<string, string | undefined> = { ...process.env, ...options.env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
      stdio: [options.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      env: env as NodeJS.ProcessEnv,
    });
    if (options.stdin !== undefined) child.stdin!.end(options.stdin);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Writes a cdk-outputs.json as `npm run deploy` does, holding `outputs` for the stack. */
export async function writeCdkOutputs(file: string, outputs: Record<string, string>): Promise<void> {
  await writeFile(file, JSON.stringify({ [STACK_NAME]: outputs }));
}
