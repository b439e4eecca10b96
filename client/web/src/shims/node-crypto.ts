/** The browser's stand-in for the one node:crypto export the shared client code uses. */
export function randomUUID(): string {
  return globalThis.crypto.randomUUID();
}
