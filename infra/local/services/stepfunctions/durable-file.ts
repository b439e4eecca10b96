/**
 * The execution records' temporary files: records are written with `writePrivateFile(…, { durable:
 * true })` (client/cli/private-file.ts), whose temporary file is `<file>.<pid>.<uuid>.tmp`; recovery
 * (store.ts) finds the ones a crash left behind and tells a complete one from a torn one.
 */

/** The record file a temporary file was written for (`<hash>.json.<pid>.<uuid>.tmp` -> `<hash>.json`), or undefined. */
export function targetOfTmp(entry: string): { target: string; pid: number } | undefined {
  const m = /^(.+\.json)\.(\d+)\.[0-9a-f-]{36}\.tmp$/.exec(entry);
  return m ? { target: m[1]!, pid: Number(m[2]) } : undefined;
}
