declare module 'dynalite' {
  import type { Server } from 'node:http';
  interface DynaliteOptions {
    path?: string | undefined;
    createTableMs?: number;
    deleteTableMs?: number;
    updateTableMs?: number;
    maxItemSizeKb?: number;
    verbose?: boolean;
  }
  export default function dynalite(options?: DynaliteOptions): Server;
}

declare module 'dynalite/db/index.js' {
  /** dynalite's store (db/index.js): only what interrupted-tables.ts uses of it. */
  interface DynaliteStore {
    db: {
      iterator(options: { gte: string; lt: string }): { all(): Promise<unknown[]> };
      put(key: string, value: unknown, callback: (err?: Error | null) => void): void;
      close(): Promise<void>;
    };
  }
  const db: { create(options: { path?: string }): DynaliteStore };
  export default db;
}
