/**
 * Concurrent first sign-ins each keep their password in `local-users.json`: the read-modify-write
 * is serialised within a process (a queue) and across processes and module instances (a lock
 * file), and written atomically. A stale lock (its holder is dead) is taken over; a live one is
 * waited for, and named when the wait is too long.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FileLockTimeoutError, withFileLock } from './file-lock.ts';
import { LOCAL_USERS_FILE, readLocalUsers, rememberLocalPassword, writeLocalUsersFile, type LocalUsersFile } from './targets.ts';

const N = 6;
const usernames = Array.from({ length: N }, (_, i) => `tenant1-user${i}`);

let dir: string;

function usersDoc(): LocalUsersFile {
  return {
    region: 'us-east-1',
    userPoolId: 'us-east-1_local',
    clientId: 'client',
    issuer: 'http://127.0.0.1/us-east-1_local',
    users: usernames.map((username, i) => ({ username, tenantId: 'tenant1', sub: `sub-${i}`, status: 'FORCE_CHANGE_PASSWORD' as const, temporaryPassword: `Temp-${i}-aA1!` })),
  };
}

/** Every user's saved password, parsed from the file as the CLI reads it (so the file is valid JSON). */
async function savedPasswords(): Promise<Record<string, string | undefined>> {
  const doc = await readLocalUsers(dir);
  return Object.fromEntries(doc.users.map((u) => [u.username, u.status === 'CONFIRMED' ? u.password : undefined]));
}

const expected = Object.fromEntries(usernames.map((u, i) => [u, `Chosen-${i}-aA1!`]));

beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'local-users-'));
  await writeLocalUsersFile(dir, usersDoc());
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** The files left in the data directory: the users file only (no lock, no temporary file). */
const leftovers = () => readdirSync(dir).filter((f) => f !== LOCAL_USERS_FILE);

describe('saving passwords of concurrent first sign-ins', () => {
  it('in one process: every save is kept', async () => {
    await Promise.all(usernames.map((u) => rememberLocalPassword(dir, u, expected[u]!)));
    expect(await savedPasswords()).toEqual(expected);
    expect(leftovers()).toEqual([]);
  });

  it('from separate module instances (their own queues; only the lock file is shared): every save is kept', async () => {
    const instances: (typeof import('./targets.ts'))[] = [];
    for (let i = 0; i < N; i++) {
      vi.resetModules();
      instances.push(await import('./targets.ts'));
    }
    expect(instances[0]).not.toBe(instances[1]);
    await Promise.all(usernames.map((u, i) => instances[i]!.rememberLocalPassword(dir, u, expected[u]!)));
    expect(await savedPasswords()).toEqual(expected);
    expect(leftovers()).toEqual([]);
  });

  it('control: the same saves unserialised (read all, then write each) lose all but one', async () => {
    const file = path.join(dir, LOCAL_USERS_FILE);
    const reads = await Promise.all(usernames.map(async () => JSON.parse(await readFile(file, 'utf8')) as LocalUsersFile));
    for (const [i, doc] of reads.entries()) {
      doc.users[i] = { ...doc.users[i]!, status: 'CONFIRMED', password: expected[usernames[i]!]! };
      await writeFile(file, JSON.stringify(doc));
    }
    const kept = Object.values(await savedPasswords()).filter(Boolean);
    expect(kept).toHaveLength(1);
  });

  it('from separate processes started together: every save is kept, the file is valid JSON', async () => {
    const targets = pathToFileURL(path.resolve(import.meta.dirname, 'targets.ts')).href;
    const script = path.join(dir, 'save.mts');
    // Each process says it is ready, waits for "go" on stdin, then saves its user's password.
    await writeFile(
      script,
      `import { rememberLocalPassword } from ${JSON.stringify(targets)};\n` +
        `const [dataDir, username, password] = process.argv.slice(2);\n` +
        `process.stdin.once('data', async () => { await rememberLocalPassword(dataDir, username, password); process.exit(0); });\n` +
        `process.stdout.write('ready\\n');\n`,
    );
    const children = usernames.map((u) => spawn(process.execPath, ['--import', 'tsx', script, dir, u, expected[u]!], { stdio: ['pipe', 'pipe', 'inherit'] }));
    await Promise.all(children.map((c) => new Promise<void>((resolve) => c.stdout.once('data', () => resolve()))));
    const exits = children.map((c) => new Promise<number | null>((resolve) => c.on('exit', resolve)));
    for (const c of children) c.stdin.write('go\n');
    expect(await Promise.all(exits)).toEqual(usernames.map(() => 0));
    rmSync(script);
    expect(await savedPasswords()).toEqual(expected);
    expect(leftovers()).toEqual([]);
  });

  it('the pool rewriting the file meanwhile (npm start: a user added) keeps the saved passwords', async () => {
    const confirmed = usersDoc();
    confirmed.users = confirmed.users.map(({ temporaryPassword: _t, ...u }) => ({ ...u, status: 'CONFIRMED' as const }));
    await Promise.all([...usernames.map((u) => rememberLocalPassword(dir, u, expected[u]!)), writeLocalUsersFile(dir, confirmed)]);
    // In whichever order they ran, the pool's rewrite kept every password saved before it.
    expect(await savedPasswords()).toEqual(expected);
  });
});

describe('withFileLock', () => {
  it('takes over a lock whose holder is dead (control: the update runs and the lock is released)', async () => {
    const file = path.join(dir, 'state.json');
    const dead = spawn(process.execPath, ['-e', '0']);
    const pid = dead.pid!;
    await new Promise((resolve) => dead.on('exit', resolve));
    await writeFile(`${file}.lock`, String(pid));
    expect(await withFileLock(file, async () => 'ran')).toBe('ran');
    expect(existsSync(`${file}.lock`)).toBe(false);
  });

  it('waits for a live holder, and names the lock and its pid when the wait is too long', async () => {
    const file = path.join(dir, 'state.json');
    await writeFile(`${file}.lock`, String(process.pid));
    const update = vi.fn(async () => 'ran');
    const err = await withFileLock(file, update, { timeoutMs: 30 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FileLockTimeoutError);
    expect((err as Error).message).toBe(
      `${file}.lock is held by process ${process.pid}: another command is updating the file. Retry; if no such process runs, delete ${file}.lock.`,
    );
    expect(update).not.toHaveBeenCalled();
    // Control: released by its holder, the same update runs.
    rmSync(`${file}.lock`);
    expect(await withFileLock(file, update)).toBe('ran');
  });

  it('releases the lock when the update fails, and runs the next update', async () => {
    const file = path.join(dir, 'state.json');
    const failing = withFileLock(file, async () => {
      throw new Error('boom');
    });
    const next = withFileLock(file, async () => existsSync(`${file}.lock`));
    await expect(failing).rejects.toThrow('boom');
    expect(await next).toBe(true);
    expect(existsSync(`${file}.lock`)).toBe(false);
  });
});
