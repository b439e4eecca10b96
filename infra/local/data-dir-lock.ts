/**
 * One local stack per data directory: `<dataDir>/stack.lock`, taken before anything in the directory
 * is read or written, names the process that holds it (pid, host, start time, and its endpoints once
 * they listen). It is created whole or not at all (written aside, then hard-linked into place, which
 * fails when the name exists), so a second start never sees a half-written lock.
 *
 * A lock whose process is gone (a `kill -9`, a power cut) is stale: the next start takes it over and
 * says so. A lock held by a live process refuses the start, naming that process, before any other
 * file is touched.
 */
import { randomUUID } from 'node:crypto';
import { linkSync, mkdirSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { checkDataFiles, DataFileError } from './data-files.ts';

export const LOCK_FILE = 'stack.lock';

/** What the lock file says of the stack that holds it. */
export interface LockHolder {
  pid: number;
  host: string;
  /** ISO time the holder took the lock. */
  startedAt: string;
  /** The holder's endpoints, once they listen. */
  edge?: string;
  graphql?: string;
  graphqlHttps?: string;
}

/** The directory is held by a live stack; nothing in it was read or changed. */
export class DataDirInUseError extends Error {
  readonly code = 'DATA_DIR_IN_USE';
  constructor(
    readonly dataDir: string,
    readonly holder: LockHolder,
  ) {
    const where = holder.host === hostname() ? `pid ${holder.pid}` : `pid ${holder.pid} on host ${holder.host}`;
    const endpoints = holder.edge ? `edge ${holder.edge}${holder.graphql ? `, GraphQL ${holder.graphql}` : ''}${holder.graphqlHttps ? ` and ${holder.graphqlHttps}` : ''}` : 'still starting: no endpoints yet';
    super(
      `${dataDir} is in use by another local stack: ${where} (${endpoints}; started ${holder.startedAt}). ` +
        `Nothing in it was read or changed. Use that stack, stop it first (Ctrl-C in its terminal, or kill ${holder.pid}), ` +
        `or start this one on another directory (--data-dir DIR).`,
    );
    this.name = 'DataDirInUseError';
  }
}

export interface DataDirLock {
  readonly file: string;
  /** The stale lock this start took over (its process was gone), if any. */
  readonly tookOverFrom: LockHolder | undefined;
  /** Records the endpoints in the lock, for a second start to name. */
  listening(endpoints: { edge: string; graphql: string; graphqlHttps?: string }): void;
  /** Removes the lock (idempotent). */
  release(): void;
}

/** Lock files this process holds: released at exit however it exits, and never taken twice. */
const held = new Set<string>();
let exitHook = false;

function parseHolder(text: string): LockHolder | undefined {
  try {
    const h = JSON.parse(text) as Partial<LockHolder>;
    if (typeof h.pid === 'number' && Number.isInteger(h.pid) && typeof h.host === 'string' && typeof h.startedAt === 'string') return h as LockHolder;
  } catch {
    // A lock file that is not one of ours: reported below as such.
  }
  return undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists (another user's); only ESRCH says it is gone.
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** Creates `file` with `content` only if no file has that name (atomic: link fails with EEXIST). */
function createExclusive(file: string, content: string): boolean {
  const aside = `${file}.${process.pid}.${randomUUID()}.new`;
  writeFileSync(aside, content, { mode: 0o600 });
  try {
    linkSync(aside, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    unlinkSync(aside);
  }
}

/**
 * Takes `<dataDir>/stack.lock`, or throws DataDirInUseError naming the live holder. A stale lock (its
 * process is gone, on this host) is taken over and reported in `tookOverFrom`.
 */
export function lockDataDir(dataDir: string, now: () => Date = () => new Date()): DataDirLock {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = path.join(path.resolve(dataDir), LOCK_FILE);
  const self: LockHolder = { pid: process.pid, host: hostname(), startedAt: now().toISOString() };
  if (held.has(file)) throw new DataDirInUseError(dataDir, readHolder(file)?.holder ?? self);
  let tookOverFrom: LockHolder | undefined;
  for (let attempt = 0; ; attempt++) {
    if (createExclusive(file, JSON.stringify(self))) break;
    const found = readHolder(file);
    if (found === undefined) {
      // Released between our attempt and the read: try again (a few times: another start may be racing this one).
      if (attempt > 3) throw new Error(`${file} keeps appearing and disappearing: another start is racing this one; start again`);
      continue;
    }
    const { holder, text } = found;
    const stale = holder.host === self.host && (!alive(holder.pid) || holder.pid === process.pid);
    if (!stale || attempt > 2) throw new DataDirInUseError(dataDir, holder);
    // Moved aside, then checked: a lock another start took over meanwhile is put back, not removed.
    const aside = `${file}.${process.pid}.${randomUUID()}.stale`;
    try {
      renameSync(file, aside);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    const moved = readFileSync(aside, 'utf8');
    if (moved !== text) {
      try {
        linkSync(aside, file);
      } catch (err) {
        // EEXIST: a third start took the name meanwhile; it holds the lock now.
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      } finally {
        unlinkSync(aside);
      }
      throw new DataDirInUseError(dataDir, parseHolder(moved) ?? holder);
    }
    unlinkSync(aside);
    tookOverFrom = holder;
  }
  held.add(file);
  removeLeftovers(file);
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => {
      for (const f of held) {
        try {
          unlinkSync(f);
        } catch {
          // Exiting anyway: a lock left behind is stale, and the next start takes it over.
        }
      }
    });
  }
  let current = self;
  return {
    file,
    tookOverFrom,
    listening({ edge, graphql, graphqlHttps }) {
      if (!held.has(file)) return;
      current = { ...current, edge, graphql, ...(graphqlHttps ? { graphqlHttps } : {}) };
      const next = `${file}.${process.pid}.${randomUUID()}.new`;
      writeFileSync(next, JSON.stringify(current), { mode: 0o600 });
      renameSync(next, file);
    },
    release() {
      if (!held.delete(file)) return;
      removeQuietly(file);
    },
  };
}

/** The holder the lock file names, and its text; undefined when there is no lock file. */
function readHolder(file: string): { holder: LockHolder; text: string } | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const holder = parseHolder(text);
  if (!holder) {
    throw new DataFileError(
      file,
      'it is not a lock this stack wrote (not JSON with pid, host and startedAt)',
      'if no local stack uses this directory (check with ps), delete the file and start again',
    );
  }
  return { holder, text };
}

/** The lock's temporary files (`stack.lock.<pid>.<uuid>.new|.stale`) that a killed process left behind. */
function removeLeftovers(file: string): void {
  const dir = path.dirname(file);
  for (const entry of readdirSync(dir)) {
    const m = /^stack\.lock\.(\d+)\.[0-9a-f-]+\.(new|stale)$/.exec(entry);
    if (m && Number(m[1]) !== process.pid && !alive(Number(m[1]))) removeQuietly(path.join(dir, entry));
  }
}

function removeQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/**
 * What a start does first with its data directory: takes the lock, then checks the files
 * (data-files.ts), before any stand-in reads or writes one. `dataDir`: the persisted state (undefined
 * in memory); `localUsersDir`: where local-users.json and local-env.json are written (npm start
 * writes them in memory mode too, so that directory is locked as well). Undefined when neither is given.
 */
export async function claimDataDir(dataDir: string | undefined, localUsersDir: string | undefined): Promise<DataDirLock | undefined> {
  const dir = dataDir ?? localUsersDir;
  if (!dir) return undefined;
  const lock = lockDataDir(dir);
  try {
    await checkDataFiles(dataDir, localUsersDir ?? dataDir);
  } catch (err) {
    lock.release();
    throw err;
  }
  return lock;
}
