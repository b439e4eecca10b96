// Installs dependencies when node_modules is missing or older than package-lock.json, so that
// `npm start` and `npm test` work on a fresh clone by themselves. Uses only Node built-ins.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const lockFile = path.join(root, 'package-lock.json');
const stampFile = path.join(root, 'node_modules', '.deps-stamp');
const npmLock = path.join(root, 'node_modules', '.package-lock.json');

const lockHash = createHash('sha256').update(readFileSync(lockFile)).digest('hex');
const stamp = existsSync(stampFile) ? readFileSync(stampFile, 'utf8').trim() : '';

function upToDate() {
  if (stamp === lockHash) return true;
  // Installed by hand with npm: trust it when npm's own record is at least as new as the lock.
  return !stamp && existsSync(npmLock) && statSync(npmLock).mtimeMs >= statSync(lockFile).mtimeMs;
}

if (!upToDate()) {
  const reason = existsSync(path.join(root, 'node_modules')) ? 'package-lock.json changed' : 'node_modules is missing';
  process.stderr.write(`Installing dependencies (${reason}): npm ci\n`);
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const result = spawnSync(npm, ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    process.stderr.write(`npm ci failed (exit ${result.status ?? result.signal}); fix the error above and retry.\n`);
    process.exit(result.status ?? 1);
  }
}
writeFileSync(stampFile, `${lockHash}\n`);
