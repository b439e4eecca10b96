/**
 * The web UI's own Vite config (the test runner's vitest.config.ts stays separate). Built by
 * infra/local/web.ts for `npm start` and the browser tests, and by `npm run web:build` for AWS.
 */
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  root: here('.'),
  // Relative asset URLs: the built folder can be served from any path or bucket.
  base: './',
  plugins: [react()],
  build: { outDir: here('./dist'), emptyOutDir: true, target: 'es2022', sourcemap: false, chunkSizeWarningLimit: 2048 },
  logLevel: 'warn',
});
