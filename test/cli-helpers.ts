/**
 * Runs the project's CLIs for the CLI suites: their commands in-process with captured streams
 * (`runCommand`), or a script as a person does (`node --import tsx <script>`, `runCli`).
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { Readable, Writable } from 'node:stream';
import type { CommandIo } from '../client/cli/command.ts';
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

/** A writable stream that keeps what is written to it. */
class Captured extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _encoding: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

/** Runs a CLI command in-process with stdout and stderr captured; `io` gives the rest of its surroundings. */
export async function runCommand<Rest extends Omit<CommandIo, 'stdout' | 'stderr'>>(
  command: (argv: string[], io: CommandIo & Rest) => Promise<number>,
  argv: string[],
  io: Rest,
): Promise<CliResult> {
  const stdout = new Captured();
  const stderr = new Captured();
  const code = await command(argv, { ...io, stdout, stderr });
  await Promise.all([stdout, stderr].map((s) => new Promise<void>((resolve) => s.end(resolve))));
  return { code, stdout: stdout.text, stderr: stderr.text };
}

/** Standard input that is not a terminal (a pipe), holding `text`, or nothing. */
export function stdinOf(text?: string): NodeJS.ReadStream {
  return Object.assign(Readable.from(text === undefined ? [] : [Buffer.from(text)]), { isTTY: false }) as unknown as NodeJS.ReadStream;
}

/** Writes a cdk-outputs.json as `npm run deploy` does, holding `outputs` for the stack. */
export async function writeCdkOutputs(file: string, outputs: Record<string, string>): Promise<void> {
  await writeFile(file, JSON.stringify({ [STACK_NAME]: outputs }));
}
