/**
 * Serialises read-modify-write updates of one local state file across this process (a queue per
 * file) and across processes (`<file>.lock`, created exclusively, holding the holder's pid): `npm
 * start` and each `npm run ask` are separate processes that update `.data/local-users.json`.
 *
 * A lock whose holder is no longer alive (killed mid-update) is taken over; an empty lock file (its
 * holder died between creating and writing it) is taken over once it is older than STALE_EMPTY_MS.
 * A live holder is waited for, at most `timeoutMs`, then the error names the lock file and its pid.
 */
import { readFile, stat, unlink, writeFile } from 'node:fs/promises';

const STALE_EMPTY_MS = 5_000;
const DEFAULT_TIMEOUT_MS = 15_000;

/** The in-process queue: the tail of each file's chain of updates. */
const queues = new Map<string, Promise<unknown>>();

export class FileLockTimeoutError extends Error {
  constructor(lockFile: string, holder: string) {
    super(`${lockFile} is held by process ${holder || '(unknown)'}: another command is updating the file. Retry; if no such process runs, delete ${lockFile}.`);
    this.name = 'FileLockTimeoutError';
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A file already gone is what removing it wanted; any other failure is reported. */
function ignoreMissing(err: unknown): void {
  if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Removes `lockFile` if it still holds `content` (a stale lock), so that a lock taken meanwhile is kept. */
async function removeIfUnchanged(lockFile: string, content: string): Promise<void> {
  const now = await readFile(lockFile, 'utf8').catch(ignoreMissing);
  if (now === content) await unlink(lockFile).catch(ignoreMissing);
}

async function acquire(lockFile: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let wait = 5;
  for (;;) {
    try {
      await writeFile(lockFile, String(process.pid), { flag: 'wx', mode: 0o600 });
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = await readFile(lockFile, 'utf8').catch(ignoreMissing);
    if (holder === undefined) continue; // released meanwhile: try again at once
    const pid = Number(holder);
    if (holder !== '' && Number.isInteger(pid) && pid > 0 && !alive(pid)) {
      await removeIfUnchanged(lockFile, holder);
      continue;
    }
    if (holder === '') {
      const age = await stat(lockFile).then((s) => Date.now() - s.mtimeMs, () => 0);
      if (age > STALE_EMPTY_MS) {
        await removeIfUnchanged(lockFile, holder);
        continue;
      }
    }
    if (Date.now() > deadline) throw new FileLockTimeoutError(lockFile, holder);
    await pause(wait);
    wait = Math.min(wait * 2, 100);
  }
}

/**
 * Runs `update` while holding `file`'s lock, after every earlier update of `file` in this process
 * and while no other process holds the lock. The lock is released however `update` ends.
 */
export function withFileLock<T>(file: string, update: () => Promise<T>, options: { timeoutMs?: number } = {}): Promise<T> {
  const lockFile = `${file}.lock`;
  const run = async () => {
    await acquire(lockFile, options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    try {
      return await update();
    } finally {
      await unlink(lockFile).catch(ignoreMissing);
    }
  };
  const previous = queues.get(file) ?? Promise.resolve();
  const result = previous.then(run, run);
  const tail = result.catch(() => undefined);
  queues.set(file, tail);
  void tail.then(() => {
    if (queues.get(file) === tail) queues.delete(file);
  });
  return result;
}
