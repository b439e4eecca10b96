/**
 * Durable, atomic writes of one private file: the content goes to a unique temporary file next to
 * it (`<file>.<pid>.<uuid>.tmp`), which is fsync'd, renamed over the file, and then the directory
 * is fsync'd, so that once the write resolves the new content survives a crash of the process and
 * of the machine, and a reader never sees half of it. A temporary file that a crash left behind is
 * either complete (the rename did not happen) or not valid at all; recovery (store.ts) tells which.
 */
import { randomUUID } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';

/** The temporary file of one write: recognisably ours (the pid) and of which file. */
export const tmpNameOf = (file: string) => `${file}.${process.pid}.${randomUUID()}.tmp`;

/** The record file a temporary file was written for (`<hash>.json.<pid>.<uuid>.tmp` -> `<hash>.json`), or undefined. */
export function targetOfTmp(entry: string): { target: string; pid: number } | undefined {
  const m = /^(.+\.json)\.(\d+)\.[0-9a-f-]{36}\.tmp$/.exec(entry);
  return m ? { target: m[1]!, pid: Number(m[2]) } : undefined;
}

export async function writeDurably(file: string, content: string): Promise<void> {
  const tmp = tmpNameOf(file);
  try {
    const handle = await open(tmp, 'wx', 0o600);
    try {
      await handle.writeFile(content);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await syncDir(path.dirname(file));
}

/** The same, for start-up recovery (nothing else runs yet). */
export function writeDurablySync(file: string, content: string): void {
  const tmp = tmpNameOf(file);
  try {
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      writeFileSync(fd, content);
      fsyncSync(fd);
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
  syncDirSync(path.dirname(file));
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
