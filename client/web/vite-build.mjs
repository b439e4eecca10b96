// One Vite build of the web UI into the folder given as the only argument; build.ts runs this in a
// child process with NODE_ENV=production.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

const outDir = process.argv[2];
if (!outDir) {
  process.stderr.write('Usage: node client/web/vite-build.mjs <outDir>\n');
  process.exit(2);
}
await build({
  configFile: path.join(path.dirname(fileURLToPath(import.meta.url)), 'vite.config.ts'),
  build: { outDir: path.resolve(outDir), emptyOutDir: true },
  logLevel: 'error',
});
