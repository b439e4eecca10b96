/**
 * Local state files hold keys, password hashes and execution data: they are written atomically (a
 * unique temporary file next to the file, `<file>.<pid>.<uuid>.tmp`, then a rename, so a reader
 * never sees half of one) and readable by their owner only. `durable: true` also fsyncs the
 * temporary file before the rename and the directory after it, so that once the write resolves the
 * new content survives a crash of the process and of the machine (the local Step Functions'
 * execution records). A temporary file a crash left behind is either complete (the rename did not
 * happen) or not valid at all.
 */
import { randomUUID } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';

/** The temporary file of one write: recognisably ours (the pid) and of which file. */
const tmpNameOf = (file: string) => `${file}.${process.pid}.${randomUUID()}.tmp`;

/** The file a temporary file (a directory entry named by `tmpNameOf`) was written for, and the writer's pid; undefined for any other entry. */
export function targetOfTmp(entry: string): { target: string; pid: number } | undefined {
  const m = /^(.+)\.(\d+)\.[0-9a-f-]{36}\.tmp$/.exec(entry);
  return m ? { target: m[1]!, pid: Number(m[2]) } : undefined;
}

export interface PrivateWriteOptions {
  /** fsync the file and its directory: the write survives a machine crash once it resolves. @default false */
  durable?: boolean;
}

export async function writePrivateFile(file: string, content: string, options: PrivateWriteOptions = {}): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = tmpNameOf(file);
  try {
    const handle = await open(tmp, 'wx', 0o600);
    try {
      await handle.writeFile(content);
      if (options.durable) await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  if (options.durable) await syncDir(path.dirname(file));
}

/** The same, for paths that cannot await (start-up recovery, before anything else runs). */
export function writePrivateFileSync(file: string, content: string, options: PrivateWriteOptions = {}): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = tmpNameOf(file);
  try {
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      writeFileSync(fd, content);
      if (options.durable) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // Never created: the write's own error is the one to report.
    }
    throw err;
  }
  if (options.durable) syncDirSync(path.dirname(file));
}

/** Makes a rename in `dir` durable. */
async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export function syncDirSync(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
