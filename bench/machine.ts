/**
 * What this machine allows, measured in the same run as the benchmarks that print it: the cost of
 * one AWS SDK call against a loopback server that does nothing, and how many signed calls one
 * execution makes. Their product is a lower bound on the CPU an execution needs before any
 * stand-in, signature check, policy evaluation or engine does any work, so it bounds the
 * throughput and latency targets from below, independently of this project's code.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import type { Logger } from '../infra/local/log.ts';
import { sdkConfig } from '../tasks/config.ts';

export interface SdkCallCost {
  /** Wall time of one call, made one after the other. */
  wallUs: number;
  /** Process CPU time per call (client and server side, garbage collection included). */
  cpuUs: number;
  /** The same for a bare HTTP round trip, without the SDK (no signing, no middleware). */
  bareHttpWallUs: number;
  bareHttpCpuUs: number;
}

async function perCall(call: () => Promise<unknown>, n: number): Promise<{ wallUs: number; cpuUs: number }> {
  for (let i = 0; i < Math.min(300, n); i++) await call();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await call();
  const wallUs = ((performance.now() - t0) * 1000) / n;
  const cpu = process.cpuUsage(cpu0);
  return { wallUs, cpuUs: (cpu.user + cpu.system) / n };
}

/**
 * A DynamoDB GetItem, configured as the tasks configure their clients (`sdkConfig`), against an
 * HTTP server in this process that answers `{}` at once; and a bare keep-alive POST to it.
 */
export async function measureSdkCallCost(n = 2000): Promise<SdkCallCost> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
      res.end('{}');
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  // Dummy credentials: the server checks nothing (the call still signs, as every task call does).
  const ddb = new DynamoDBClient({ ...sdkConfig({ region: 'us-east-1', endpoint: `http://127.0.0.1:${port}`, credentials: { accessKeyId: 'BENCHKEY', secretAccessKey: 'bench' } }) });
  const agent = new http.Agent({ keepAlive: true });
  const bare = () =>
    new Promise<void>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/', agent, headers: { 'content-type': 'application/json' } }, (res) => {
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', reject);
      req.end('{"TableName":"bench","Key":{"k":{"S":"v"}}}');
    });
  try {
    const sdk = await perCall(() => ddb.send(new GetItemCommand({ TableName: 'bench', Key: { k: { S: 'v' } } })), n);
    const raw = await perCall(bare, n);
    return { wallUs: sdk.wallUs, cpuUs: sdk.cpuUs, bareHttpWallUs: raw.wallUs, bareHttpCpuUs: raw.cpuUs };
  } finally {
    ddb.destroy();
    agent.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/**
 * A stack logger that counts the signed requests the edge served, by service, and the events
 * published to AppSync; everything else is dropped, as with `silentLogger`.
 */
export class RequestCounter implements Logger {
  readonly byService = new Map<string, number>();
  publishes = 0;

  log(_level: string, msg: string, fields?: Record<string, unknown>): void {
    if (msg === 'edge.request') {
      const service = String(fields?.service || 'other');
      this.byService.set(service, (this.byService.get(service) ?? 0) + 1);
    } else if (msg === 'appsync.publish') {
      this.publishes++;
    }
  }

  reset(): void {
    this.byService.clear();
    this.publishes = 0;
  }

  get edgeRequests(): number {
    let n = 0;
    for (const v of this.byService.values()) n += v;
    return n;
  }
}

/**
 * The lines the workflow and API benchmarks print: per execution, `calls` SDK calls to the edge
 * (and `publishes` AppSync publishes, not counted in the bound), and what they cost at least.
 */
export function machineBoundLines(counter: RequestCounter, executions: number, cost: SdkCallCost, cpus: number): string {
  const per = (x: number) => x / executions;
  const calls = per(counter.edgeRequests);
  const services = [...counter.byService].sort((a, b) => b[1] - a[1]).map(([s, v]) => `${s} ${per(v).toFixed(1)}`).join(', ');
  const cpuMs = (calls * cost.cpuUs) / 1000;
  const wallMs = (calls * cost.wallUs) / 1000;
  return (
    `machine bound: one execution makes ${calls.toFixed(1)} signed AWS SDK calls to the edge (${services}) and ${per(counter.publishes).toFixed(1)} IAM-signed publishes to AppSync\n` +
    `  one SDK call, configured as the tasks' clients, against a loopback server that does nothing: ${cost.wallUs.toFixed(0)} us wall, ${cost.cpuUs.toFixed(0)} us CPU ` +
    `(a bare HTTP round trip: ${cost.bareHttpWallUs.toFixed(0)} us wall, ${cost.bareHttpCpuUs.toFixed(0)} us CPU)\n` +
    `  so the SDK calls alone take ${wallMs.toFixed(1)} ms per execution made one after the other, and >= ${cpuMs.toFixed(1)} ms of CPU: ` +
    `at most ${((cpus * 1000) / cpuMs).toFixed(0)} executions/s on ${cpus} CPUs, before any stand-in, signature check, policy evaluation, publish or engine work\n`
  );
}
