/**
 * Data-plane latency: what the local edge (SigV4 verification, IAM policy evaluation, the hop to
 * dynalite) adds to a tenant's GetItem and Query, against the same requests sent straight to
 * dynalite. Both sides use the same SDK client code; only the endpoint and credentials differ.
 *
 * Everything runs in this one process (client, edge and dynalite share an event loop), on
 * loopback. The numbers are for comparing the two paths on one machine, not absolute figures.
 */
import os from 'node:os';
import { DynamoDBClient, GetItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { STSClient } from '@aws-sdk/client-sts';
import { startLocalStack, type LocalStack } from '../infra/local/stack.ts';
import type { LocalCredentials } from '../infra/local/iam/principals.ts';
import { assumeTenantRole } from '../tasks/tenant-credentials.ts';
import { type Stats, ms, positiveIntEnv, sequential, summarise, table, throughput } from './stats.ts';

export const name = 'data-plane';
export const description = 'GetItem/Query latency through the edge (SigV4 + IAM) vs straight to dynalite';

/** The target the edge is held to, per operation, at p50. */
const TARGET = { maxDeltaMs: 1, maxRatio: 2 };
const TENANT_ID = 'tenant1';
const USERNAME = 'tenant1-user';
const WARMUP = 200;
/** Timed requests are taken in blocks, rotating through the variants, so drift hits all alike. */
const BLOCK = 100;
const CONCURRENCY = 8;

type PathName = 'direct' | 'edge' | 'edge, policy cache off';
const PATHS: readonly PathName[] = ['direct', 'edge', 'edge, policy cache off'];

/** Where one variant sends its requests. */
interface Target {
  client: DynamoDBClient;
  tables: LocalStack['tables'];
  userId: string;
}

interface Operation {
  name: 'GetItem' | 'Query';
  /** Sends one request and checks that it returned the tenant's data. */
  send(t: Target): Promise<void>;
}

const OPERATIONS: readonly Operation[] = [
  {
    name: 'GetItem',
    async send(t) {
      const out = await t.client.send(new GetItemCommand({ TableName: t.tables.config, Key: { tenantId: { S: TENANT_ID } } }));
      if (out.Item?.tenantId?.S !== TENANT_ID) throw new Error('GetItem returned no config row');
    },
  },
  {
    name: 'Query',
    async send(t) {
      const out = await t.client.send(
        new QueryCommand({
          TableName: t.tables.orders(TENANT_ID),
          KeyConditionExpression: 'userId = :u',
          ExpressionAttributeValues: { ':u': { S: t.userId } },
        }),
      );
      if (!out.Count) throw new Error('Query returned no orders');
    },
  },
];

/** The one client factory both paths use. */
function dynamoClient(endpoint: string, region: string, credentials: LocalCredentials): DynamoDBClient {
  return new DynamoDBClient({ endpoint, region, credentials, maxAttempts: 1 });
}

async function scopedTarget(stack: LocalStack): Promise<Target> {
  const user = stack.user(USERNAME);
  const sts = new STSClient(stack.clientConfig('mint-credentials'));
  try {
    const creds = await assumeTenantRole(
      { tenantId: user.tenantId, userId: user.sub },
      { sts, tenantAccessRoleArn: stack.iam.resources.tenantAccessRoleArn, location: stack.iam.location, tables: stack.tables },
    );
    const config = stack.clientConfig(creds);
    return { client: dynamoClient(config.endpoint, config.region, config.credentials), tables: stack.tables, userId: user.sub };
  } finally {
    sts.destroy();
  }
}

function directTarget(stack: LocalStack): Target {
  const dummy = { accessKeyId: 'AKIDBENCHDIRECT00000', secretAccessKey: 'bench-direct-not-checked' };
  return {
    client: dynamoClient(stack.dynamo.directEndpoint, 'us-east-1', dummy),
    tables: stack.tables,
    userId: stack.user(USERNAME).sub,
  };
}

export async function run(): Promise<void> {
  const iterations = positiveIntEnv('BENCH_ITERATIONS', 2000);
  const throughputMs = positiveIntEnv('BENCH_THROUGHPUT_MS', 2000);
  const started = performance.now();

  const stacks: LocalStack[] = [];
  const clients: DynamoDBClient[] = [];
  try {
    const cached = await startLocalStack({ port: 0 });
    stacks.push(cached);
    const uncached = await startLocalStack({ port: 0, policyCache: false });
    stacks.push(uncached);
    const track = (t: Target): Target => {
      clients.push(t.client);
      return t;
    };
    const targets: Record<PathName, Target> = {
      edge: track(await scopedTarget(cached)),
      'edge, policy cache off': track(await scopedTarget(uncached)),
      direct: track(directTarget(cached)),
    };

    process.stdout.write(
      `node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model.trim() ?? 'unknown'}); ` +
        `${iterations} sequential requests per variant after ${WARMUP} warm-up; ` +
        `throughput: ${CONCURRENCY} in flight for ${throughputMs} ms per variant\n` +
        `client, edge and dynalite share this process; loopback only\n\n`,
    );

    const latency = new Map<string, Stats>();
    const rps = new Map<string, number>();
    const key = (op: Operation, path: PathName) => `${op.name} ${path}`;

    for (const op of OPERATIONS) {
      for (const path of PATHS) await sequential(() => op.send(targets[path]), WARMUP);
      const samples: Record<PathName, number[]> = { direct: [], edge: [], 'edge, policy cache off': [] };
      for (let done = 0; done < iterations; done += BLOCK) {
        for (const path of PATHS) await sequential(() => op.send(targets[path]), Math.min(BLOCK, iterations - done), samples[path]);
      }
      for (const path of PATHS) latency.set(key(op, path), summarise(samples[path]));
      for (const path of PATHS) rps.set(key(op, path), await throughput(() => op.send(targets[path]), throughputMs, CONCURRENCY));
    }

    const rows = OPERATIONS.flatMap((op) =>
      PATHS.map((path) => {
        const s = latency.get(key(op, path))!;
        return [key(op, path), ms(s.p50), ms(s.p99), ms(s.mean), rps.get(key(op, path))!.toFixed(0)];
      }),
    );
    process.stdout.write(`${table(['variant', 'p50 ms', 'p99 ms', 'mean ms', 'req/s'], rows)}\n\n`);

    process.stdout.write(`target: the edge adds at most ${TARGET.maxDeltaMs} ms at p50 and at most ${TARGET.maxRatio}x the direct p50\n`);
    for (const op of OPERATIONS) {
      const direct = latency.get(key(op, 'direct'))!.p50;
      for (const path of ['edge', 'edge, policy cache off'] as const) {
        const edge = latency.get(key(op, path))!.p50;
        const delta = edge - direct;
        const ratio = edge / direct;
        const verdict = path === 'edge' ? (delta <= TARGET.maxDeltaMs && ratio <= TARGET.maxRatio ? 'PASS' : 'MISS') : 'info';
        process.stdout.write(
          `${verdict.padEnd(4)}  ${op.name.padEnd(7)} ${path.padEnd(22)} vs direct: p50 +${ms(delta)} ms, ${ratio.toFixed(2)}x\n`,
        );
      }
    }

    process.stdout.write('\npolicy evaluator stats (whole run, including seeding and minting):\n');
    process.stdout.write(`  edge:                   ${JSON.stringify(cached.evaluator.stats)}\n`);
    process.stdout.write(`  edge, policy cache off: ${JSON.stringify(uncached.evaluator.stats)}\n`);
    process.stdout.write(`\ntotal ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  } finally {
    for (const client of clients) client.destroy();
    for (const stack of stacks) await stack.stop();
  }
}
