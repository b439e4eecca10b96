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
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import type { Logger } from '../infra/local/edge/log.ts';
import type { LocalStack } from '../infra/local/stack.ts';
import { PUBLISH_ANSWER } from '../tasks/answer-events.ts';
import { dynamoConfig, sdkConfig } from '../tasks/config.ts';
import { IamGraphqlClient } from '../tasks/graphql-client.ts';
import { claimAnswer } from '../tasks/validate-context.ts';
import { operationName, roleName } from './calls-model.ts';

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

export interface StackCallCost {
  /** STS GetCallerIdentity through the edge (signature checked, principal resolved, tiny reply): client and server. */
  edgeCall: { wallUs: number; cpuUs: number };
  /** One PROGRESS event published to the local AppSync (signed, checked, resolved, filtered), no subscriber. */
  publish: { wallUs: number; cpuUs: number };
}

/**
 * The cheapest real calls of the local stack: whatever an execution's calls do beyond these is the
 * services' own work. Publishes go to an answer nobody asked, under the asker prefix of no user
 * (a benchmark's listener for published events sees them, and must ignore that answerId).
 * Measured after the benchmark's own runs, with everything warm.
 */
export async function measureStackCallCost(stack: LocalStack, n = 1000): Promise<StackCallCost> {
  const sts = new STSClient({ ...sdkConfig(stack.clientConfig('validate-context')) });
  const graphql = new IamGraphqlClient({ url: stack.graphqlUrl, region: stack.iam.location.region, credentials: stack.iam.credentials('publish-answer') });
  let seq = 1;
  const variables = { answerId: 'bench-machine.calls', userId: 'bench-machine', status: 'PROGRESS', text: 'benchmark', error: null, step: 'ValidateContext' };
  try {
    const edgeCall = await perCall(() => sts.send(new GetCallerIdentityCommand({})), n);
    const publish = await perCall(() => graphql.request(PUBLISH_ANSWER, { ...variables, seq: (seq++ % 900) + 1 }), n);
    return { edgeCall, publish };
  } finally {
    sts.destroy();
  }
}

export interface ClaimCost {
  /** ValidateContext's claim: one conditional PutItem on the claims table, a new answerId each time. */
  claim: { wallUs: number; cpuUs: number };
  /** Beside it, the config GetItem ValidateContext makes too, with the same role and client. */
  read: { wallUs: number; cpuUs: number };
}

/** What the idempotency claim adds to each question, measured as the task makes it (document client, its role). */
export async function measureClaimCost(stack: LocalStack, n = 1000): Promise<ClaimCost> {
  const dynamodb = new DynamoDBClient(dynamoConfig(stack.clientConfig('validate-context')));
  const executionArn = `${stack.iam.resources.stateMachineArn.replace(':stateMachine:', ':execution:')}:bench-claims`;
  let i = 0;
  try {
    const claim = await perCall(() => claimAnswer({ answerId: `bench-claims.${i++}`, executionArn, tenantId: 'tenant1', userId: 'bench-claims' }, { dynamodb, tables: stack.tables }), n);
    const read = await perCall(() => dynamodb.send(new GetItemCommand({ TableName: stack.tables.config, Key: { tenantId: { S: 'tenant1' } } })), n);
    return { claim, read };
  } finally {
    dynamodb.destroy();
  }
}

/**
 * A stack logger that counts the signed requests the edge served, by service, and the events
 * published to AppSync; everything else is dropped, as with `silentLogger`.
 */
export class RequestCounter implements Logger {
  readonly byService = new Map<string, number>();
  /** By service, operation and signing role: `service\toperation\trole` (bench/calls-model.ts names them). */
  readonly byOperation = new Map<string, number>();
  publishes = 0;

  log(_level: string, msg: string, fields?: Record<string, unknown>): void {
    if (msg === 'edge.request') {
      const service = String(fields?.service || 'other');
      this.byService.set(service, (this.byService.get(service) ?? 0) + 1);
      const operation = operationName(service, typeof fields?.operation === 'string' ? fields.operation : undefined);
      const key = `${service}\t${operation}\t${roleName(typeof fields?.principal === 'string' ? fields.principal : undefined)}`;
      this.byOperation.set(key, (this.byOperation.get(key) ?? 0) + 1);
    } else if (msg === 'appsync.publish') {
      this.publishes++;
    }
  }

  reset(): void {
    this.byService.clear();
    this.byOperation.clear();
    this.publishes = 0;
  }

  /** A copy of the counts so far (the stack keeps counting into this one). */
  snapshot(): RequestCounter {
    const copy = new RequestCounter();
    copy.publishes = this.publishes;
    for (const [service, n] of this.byService) copy.byService.set(service, n);
    for (const [key, n] of this.byOperation) copy.byOperation.set(key, n);
    return copy;
  }

  get edgeRequests(): number {
    let n = 0;
    for (const v of this.byService.values()) n += v;
    return n;
  }
}

/**
 * The lines the workflow and API benchmarks print: per run (an execution, or an answer), the
 * signed SDK calls to the edge and the AppSync publishes, and what they cost at least here.
 */
export function machineBoundLines(
  counter: RequestCounter,
  runs: number,
  sdk: SdkCallCost,
  stackCalls: StackCallCost,
  cpus: number,
  unit: 'execution' | 'answer' = 'execution',
): string {
  const per = (x: number) => x / runs;
  const calls = per(counter.edgeRequests);
  const publishes = per(counter.publishes);
  const services = [...counter.byService].sort((a, b) => b[1] - a[1]).map(([s, v]) => `${s} ${per(v).toFixed(1)}`).join(', ');
  const sdkCpuMs = (calls * sdk.cpuUs) / 1000;
  const floorCpuMs = (calls * stackCalls.edgeCall.cpuUs + publishes * stackCalls.publish.cpuUs) / 1000;
  const us = (x: { wallUs: number; cpuUs: number }) => `${x.wallUs.toFixed(0)} us wall, ${x.cpuUs.toFixed(0)} us CPU`;
  return (
    `machine bound: one ${unit} makes ${calls.toFixed(1)} signed AWS SDK calls to the edge (${services}) and ${publishes.toFixed(1)} IAM-signed publishes to AppSync\n` +
    `  one SDK call as the tasks make them, to a loopback server that does nothing: ${us(sdk)} (a bare HTTP round trip: ${us({ wallUs: sdk.bareHttpWallUs, cpuUs: sdk.bareHttpCpuUs })})\n` +
    `  the cheapest signed call through the edge (STS GetCallerIdentity): ${us(stackCalls.edgeCall)}; one publish to the local AppSync: ${us(stackCalls.publish)}\n` +
    `  so the SDK calls alone need >= ${sdkCpuMs.toFixed(1)} ms of CPU per ${unit}; as the cheapest edge calls, with the publishes, >= ${floorCpuMs.toFixed(1)} ms: ` +
    `at most ${((cpus * 1000) / floorCpuMs).toFixed(0)} ${unit}s/s on ${cpus} CPUs before any service, policy evaluation or engine work\n`
  );
}
