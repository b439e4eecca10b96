/**
 * Local state files hold keys, password hashes and execution data: they are written atomically
 * (a unique temporary file, then a rename) and readable by their owner only.
 */
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { chmod, mkdir, rename, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';

const tmpName = (file: string) => `${file}.${process.pid}.${randomUUID()}.tmp`;

export async function writePrivateFile(file: string, content: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = tmpName(file);
  try {
    await writeFile(tmp, content, { mode: 0o600 });
    await chmod(tmp, 0o600);
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

/** The same, for shutdown paths that cannot await. */
export function writePrivateFileSync(file: string, content: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = tmpName(file);
  try {
    writeFileSync(tmp, content, { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, file);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // The temporary file was never created; the original error is what matters.
    }
    throw err;
  }
}
