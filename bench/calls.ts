/**
 * AWS calls per question (issue 18): N questions, one at a time, through the real client, with warm
 * functions; every signed request the edge serves is counted by service, operation and signing
 * role (the pipeline resolver's DynamoDB data source calls included: they go through the edge,
 * signed by the data source role), and AppSync publishes apart. Prints what each call is for, the
 * AWS quotas a question touches with their documented defaults, and the questions/s each allows.
 * The quota defaults are read from AWS documentation (pages named); where the pages found give no
 * number the table says so and that quota sets no ceiling here.
 */
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import type { RealtimeConnection } from '../client/realtime.ts';
import { connectedClient, type BenchClient } from './clients.ts';
import { startLocalStack } from '../infra/local/stack.ts';
import { definition } from '../states/definition.ts';
import { SEED_TENANTS, SEED_USERS } from '../tasks/seed.ts';
import { monthSortKey, tenantPartition } from '../tasks/usage.ts';
import { ceilingOf, functionSecondsPerQuestion, isDataSourceRole, successPath, lastLine, lowestCeiling, purposeOf, tenantPartitionWrites, type Quota } from './calls-model.ts';
import { RequestCounter } from './machine.ts';
import { positiveIntEnv, sequential, table } from './stats.ts';

export const name = 'calls';
export const description = 'signed AWS calls per warm question by service and operation, and the questions/s each AWS quota allows';

const QUESTION = "What's your return policy?";
const WARM_UP = 10;

export async function run(): Promise<void> {
  const iterations = positiveIntEnv('BENCH_ITERATIONS', 50);
  const counter = new RequestCounter();
  // Every tenant on the premium plan: the plans' per-user rates must not refuse the measurement.
  const tenants = SEED_TENANTS.map((t) => ({ ...t, plan: 'premium' as const }));
  const stack = await startLocalStack({ port: 0, logger: counter, seed: { tenants, users: SEED_USERS }, lambdaSandbox: process.env.BENCH_LAMBDA_SANDBOX !== 'off' });
  const connections: RealtimeConnection[] = [];
  const ddb = new DynamoDBClient(stack.clientConfig('operator'));
  /** The model tokens metered so far this month, all tenants (the MONTH items' `tokens`). */
  const meteredTokens = async () => {
    let sum = 0;
    for (const t of tenants) {
      const out = await ddb.send(new GetItemCommand({ TableName: stack.tables.usage, Key: { pk: { S: tenantPartition(t.tenantId) }, sk: { S: monthSortKey(new Date().toISOString()) } }, ConsistentRead: true }));
      sum += Number(out.Item?.tokens?.N ?? 0);
    }
    return sum;
  };
  try {
    const clients: BenchClient[] = [];
    for (const u of stack.users) clients.push(await connectedClient(stack, u.username, connections));
    let next = 0;
    const askOnce = async () => {
      const c = clients[next++ % clients.length]!;
      const { final } = await c.api.ask(QUESTION, { connection: c.connection });
      if (final.status !== 'DONE') throw new Error(`A question did not answer: ${final.status} ${final.error ?? ''}`);
    };
    // Warm every function (and every user's first question) before counting.
    await sequential(askOnce, Math.max(WARM_UP, clients.length * 2));
    const tokens0 = await meteredTokens();
    counter.reset();
    const wall: number[] = [];
    await sequential(askOnce, iterations, wall);
    const counted = counter.snapshot();
    const tokensPerAnswer = ((await meteredTokens()) - tokens0) / iterations;
    const meanWallS = wall.reduce((a, b) => a + b, 0) / wall.length / 1000;

    // (1) Calls per question by service, operation and role, with their purpose.
    const per = (x: number) => x / iterations;
    const rows = [...counted.byOperation]
      .map(([key, n]) => {
        const [service, operation, role] = key.split('\t') as [string, string, string];
        return { service, operation, role, n };
      })
      .sort((a, b) => a.service.localeCompare(b.service) || b.n - a.n);
    process.stdout.write(`${iterations} questions, one at a time, after ${Math.max(WARM_UP, clients.length * 2)} to warm the functions; ${clients.length} users in turn\n\n`);
    process.stdout.write(
      `${table(
        ['service', 'operation', 'signed by', 'per question', 'purpose'],
        rows.map((r) => [r.service, r.operation, r.role, per(r.n).toFixed(2), purposeOf(r)]),
      )}\n`,
    );
    process.stdout.write(`AppSync publishes (IAM-signed GraphQL mutations to the API, not edge requests): ${per(counted.publishes).toFixed(2)} per question\n\n`);

    // (2) Quotas.
    const perService = new Map<string, number>();
    for (const [s, n] of counted.byService) perService.set(s, per(n));
    const op = (service: string, operation: string) => rows.filter((r) => r.service === service && r.operation === operation).reduce((a, r) => a + per(r.n), 0);
    const kmsCrypto = rows.filter((r) => r.service === 'kms' && ['Encrypt', 'Decrypt', 'GenerateDataKey', 'ReEncrypt'].includes(r.operation)).reduce((a, r) => a + per(r.n), 0);
    const transactions = (admission: boolean) =>
      rows.filter((r) => r.service === 'dynamodb' && r.operation === 'TransactWriteItems' && isDataSourceRole(r.role) === admission).reduce((a, r) => a + per(r.n), 0);
    const counterWrites = tenantPartitionWrites(transactions(true), transactions(false));
    const path = successPath(definition);
    const tasks = path.filter((n) => (definition.States as Record<string, { Type: string }>)[n]!.Type === 'Task').length;
    const quotas: Quota[] = [
      {
        name: 'Cognito user pools UserRead category (AdminGetUser)',
        defaultValue: undefined,
        unit: 'requests/s',
        source: 'not found in docs (https://docs.aws.amazon.com/cognito/latest/developerguide/quotas.html lists it; the excerpts found give no number)',
        perQuestion: op('cognito-idp', 'AdminGetUser'),
      },
      {
        name: 'STS AssumeRole request rate',
        defaultValue: undefined,
        unit: 'requests/s',
        source: 'not found in docs (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html gives no request rate in the excerpts found)',
        perQuestion: op('sts', 'AssumeRole'),
      },
      {
        name: 'KMS cryptographic operations (symmetric) request rate, shared',
        defaultValue: 10_000,
        unit: 'requests/s',
        source: 'https://docs.aws.amazon.com/kms/latest/developerguide/requests-per-second.html (10,000 shared; 20,000 or more in the Regions it lists)',
        perQuestion: kmsCrypto,
      },
      {
        name: 'Step Functions StartExecution (Express)',
        defaultValue: undefined,
        unit: 'requests/s',
        source: 'not found in docs (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html: the excerpts found give no number)',
        perQuestion: op('states', 'StartExecution'),
      },
      {
        name: 'Step Functions Express state transitions',
        defaultValue: undefined,
        unit: 'transitions/s',
        source: 'not found in docs (same page: the excerpts found give no number for Express)',
        perQuestion: path.length,
        note: `the states of the success path (${path.join(' -> ')}), states/definition.ts`,
      },
      {
        name: 'AppSync rate of request tokens (per account, Region)',
        defaultValue: undefined,
        unit: 'tokens/s',
        source: 'not found in docs (https://docs.aws.amazon.com/general/latest/gr/appsync.html names the quota; the excerpts found give no number)',
        perQuestion: 1 + per(counted.publishes),
        note: '1 ask + the publishes, at >= 1 token each',
      },
      {
        name: 'Lambda concurrent executions',
        defaultValue: 1_000,
        unit: 'concurrent',
        source: 'https://docs.aws.amazon.com/lambda/latest/dg/limits.html',
        perQuestion: functionSecondsPerQuestion(1, meanWallS),
        note:
          `concurrency / function-seconds per question; ${tasks} invocations per question (the Task states of the success path), ` +
          `their local durations not measured apart: their sum is taken as the question's measured local wall time (${(meanWallS * 1000).toFixed(0)} ms, ask -> DONE), ` +
          'an upper bound, since a question runs one task at a time',
      },
      {
        name: "DynamoDB per-partition writes (one tenant's TENANT# counter partition)",
        defaultValue: 1_000,
        unit: 'WCU/s',
        source: 'https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/warm-throughput-scenarios.html (1,000 write units/s per partition)',
        perQuestion: counterWrites,
        note: "item writes on the asking tenant's TENANT# partition (admission: DAY, MONTH; metering: marker, MONTH, DAY), 1 WCU each at least (items under 1 KB; transactional writes may cost more: not counted); one tenant's ceiling, not the platform's",
      },
      {
        name: 'Bedrock requests per minute, Claude Haiku 4.5 (cross-Region profile)',
        defaultValue: undefined,
        unit: 'requests/min',
        source: 'not found in docs (https://docs.aws.amazon.com/bedrock/latest/userguide/quotas-runtime.html names the quota; values are in the General Reference table, not in the excerpts found)',
        perQuestion: perService.get('bedrock') ?? 0,
      },
      {
        name: 'Bedrock tokens per minute, Claude Haiku 4.5 (cross-Region profile)',
        defaultValue: undefined,
        unit: 'tokens/min',
        source: 'not found in docs (same pages)',
        perQuestion: tokensPerAnswer,
        note: "the local model stand-in's tokens per answer, as metered (input + output): a real model's differ",
      },
    ];
    const fmt = (x: number | undefined) => (x === undefined ? 'not found in docs' : x.toLocaleString('en-US'));
    process.stdout.write(
      `${table(
        ['quota', 'default', 'unit', 'per question', 'questions/s ceiling'],
        quotas.map((q) => [q.name, fmt(q.defaultValue), q.unit, q.perQuestion.toFixed(2), ceilingOf(q)?.toFixed(0) ?? '-']),
      )}\n`,
    );
    process.stdout.write('sources and notes:\n');
    for (const q of quotas) process.stdout.write(`  ${q.name}: ${q.source}${q.note ? `; per question: ${q.note}` : ''}\n`);
    process.stdout.write('\n');
    process.stdout.write(`${lastLine(perService, per(counted.publishes), lowestCeiling(quotas))}\n`);
  } finally {
    for (const c of connections) c.close();
    ddb.destroy();
    await stack.stop();
  }
}
