// Entry of the local Lambda sandbox's worker thread. A TypeScript loader is registered per thread,
// so the worker registers tsx's own before it loads the sandbox (worker.ts).
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
