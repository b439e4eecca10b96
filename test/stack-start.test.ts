/**
 * A local stack whose start fails part-way stops what it had started (here: the edge and dynalite,
 * when AppSync's port is taken), so that the ports are free for the next try.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { startLocalStack } from '../infra/local/stack.ts';

async function listenOn(port: number): Promise<http.Server> {
  const server = http.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return server;
}

const close = (server: http.Server) => new Promise<void>((resolve) => server.close(() => resolve()));

async function freePort(): Promise<number> {
  const server = await listenOn(0);
  const { port } = server.address() as AddressInfo;
  await close(server);
  return port;
}

describe('starting the local stack', () => {
  it("releases the edge's port when a later server cannot listen, and the next start on it works", async () => {
    const taken = await listenOn(0);
    const edgePort = await freePort();
    try {
      await expect(
        startLocalStack({ port: edgePort, appsyncPort: (taken.address() as AddressInfo).port, lambdaSandbox: false, seedOrdersPerUser: 0 }),
      ).rejects.toMatchObject({ code: 'EADDRINUSE' });
      // The failed start let go of the edge's port: a stack starts on it.
      const stack = await startLocalStack({ port: edgePort, appsyncPort: 0, lambdaSandbox: false, seedOrdersPerUser: 0 });
      try {
        expect(stack.edgeUrl).toBe(`http://127.0.0.1:${edgePort}`);
        // The control: while a stack holds the port, nothing else can listen on it.
        await expect(listenOn(edgePort)).rejects.toMatchObject({ code: 'EADDRINUSE' });
      } finally {
        await stack.stop();
      }
      await close(await listenOn(edgePort));
    } finally {
      await close(taken);
    }
  });
});
