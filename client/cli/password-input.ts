/**
 * Passwords for `npm run ask -- --target aws`: from standard input (`--password-stdin`, as
 * `docker login` takes them) or from a prompt that does not echo. Never from an argument (it would
 * land in the shell history and the process list) and never printed.
 */

export interface StdinPasswords {
  password: string;
  /** The second line, if any: the new password for a first sign-in. */
  newPassword?: string;
}

/**
 * Reads what `--password-stdin` received: the password on the first line, or the seeded user's
 * secret as the deploy output's command prints it (`{"username":...,"password":...}`); an optional
 * second line is the new password a first sign-in requires.
 */
export function parseStdinPasswords(text: string): StdinPasswords {
  const [first = '', second] = text.replace(/\r/g, '').split('\n');
  let password = first;
  if (first.trimStart().startsWith('{')) {
    let secret: { password?: unknown };
    try {
      secret = JSON.parse(first) as { password?: unknown };
    } catch {
      throw new Error('--password-stdin: the first line looks like JSON but is not valid JSON.');
    }
    if (typeof secret.password !== 'string') throw new Error('--password-stdin: the JSON on the first line has no "password".');
    password = secret.password;
  }
  if (password === '') throw new Error('--password-stdin: standard input held no password.');
  return { password, ...(second ? { newPassword: second } : {}) };
}

export async function readStdin(stream: NodeJS.ReadableStream = process.stdin): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8');
}

/** Prompts on stderr and reads one line from the terminal without echoing it. */
export function promptHidden(question: string, input: NodeJS.ReadStream = process.stdin, output: NodeJS.WritableStream = process.stderr): Promise<string> {
  if (!input.isTTY) return Promise.reject(new Error('No terminal to prompt for a password: pass it with --password-stdin.'));
  output.write(question);
  input.setRawMode(true);
  input.resume();
  return new Promise((resolve, reject) => {
    let value = '';
    const done = (result: () => void) => {
      input.setRawMode(false);
      input.pause();
      input.removeListener('data', onData);
      output.write('\n');
      result();
    };
    const onData = (data: Buffer) => {
      for (const ch of data.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done(() => resolve(value));
        if (ch === '\u0003') return done(() => reject(new Error('Cancelled.')));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    input.on('data', onData);
  });
}
