/**
 * AWS calls per question (issue 18): N questions, one at a time, through the real client, with warm
 * functions; every signed request the edge serves is counted by service, operation and signing
 * role (the pipeline resolver's DynamoDB data source calls included: they go through the edge,
 * signed by the data source role), and AppSync publishes apart. Prints what each call is for, the
 * AWS quotas a question touches with their documented defaults, and the questions/s each allows.
 * The quota defaults are read from AWS documentation (pages named), or for the model from Service
 * Quotas values recorded elsewhere (bench/quotas.ts says which); where none was found the table says
 * so and that quota sets no ceiling here.
 *
 * Options (environment): BENCH_ITERATIONS (50); BENCH_AGENT_RUNTIME (the local stack's default,
 * bedrock-agent; or converse, the deployed default); BENCH_MODEL_TPM, BENCH_MODEL_RPM (your
 * account's model quotas, from Service Quotas); BENCH_MODEL_BURNDOWN (output token burndown);
 * BENCH_MODEL_MAX_TOKENS (maxTokens a model call reserves); BENCH_MODEL_LATENCY_S (the model's
 * seconds per question, all its calls: what a Lambda waits on AWS).
 */
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import type { RealtimeConnection } from '../client/realtime.ts';
import { askingInTurn } from './clients.ts';
import { ANSWER_MAX_TOKENS } from '../tasks/agent-runtime-converse.ts';
import { startLocalStack } from '../infra/local/stack.ts';
import { definition } from '../states/definition.ts';
import { SEED_TENANTS, SEED_USERS } from '../tasks/seed.ts';
import { monthSortKey, tenantPartition } from '../tasks/usage.ts';
import { AGENT_RUNTIMES, type AgentRuntimeKind } from '../tasks/config.ts';
import { ceilingOf, isDataSourceRole, successPath, lastLine, lowestCeiling, purposeOf, tenantCeilingLine } from './calls-model.ts';
import { RequestCounter } from './machine.ts';
import { DEFAULT_MODEL_QUOTAS, optionalSetting, quotasFor, setting, type QuotaSettings } from './quotas.ts';
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
  const settings = quotaSettings(process.env);
  const runtime = agentRuntime(process.env.BENCH_AGENT_RUNTIME);
  const stack = await startLocalStack({
    port: 0,
    logger: counter,
    seed: { tenants, users: SEED_USERS },
    lambdaSandbox: process.env.BENCH_LAMBDA_SANDBOX !== 'off',
    ...(runtime ? { agentRuntime: runtime } : {}),
  });
  const connections: RealtimeConnection[] = [];
  const ddb = new DynamoDBClient(stack.clientConfig('operator'));
  /** The model tokens metered so far this month, all tenants (the MONTH items' `inputTokens`, `outputTokens`). */
  const meteredTokens = async () => {
    const sum = { inputTokens: 0, outputTokens: 0 };
    for (const t of tenants) {
      const out = await ddb.send(new GetItemCommand({ TableName: stack.tables.usage, Key: { pk: { S: tenantPartition(t.tenantId) }, sk: { S: monthSortKey(new Date().toISOString()) } }, ConsistentRead: true }));
      sum.inputTokens += Number(out.Item?.inputTokens?.N ?? 0);
      sum.outputTokens += Number(out.Item?.outputTokens?.N ?? 0);
    }
    return sum;
  };
  try {
    const { clients, askOnce } = await askingInTurn(stack, connections, QUESTION);
    // Warm every function (and every user's first question) before counting.
    await sequential(askOnce, Math.max(WARM_UP, clients.length * 2));
    const tokens0 = await meteredTokens();
    counter.reset();
    const wall: number[] = [];
    await sequential(askOnce, iterations, wall);
    const counted = counter.snapshot();
    const tokens1 = await meteredTokens();
    const inputTokens = (tokens1.inputTokens - tokens0.inputTokens) / iterations;
    const outputTokens = (tokens1.outputTokens - tokens0.outputTokens) / iterations;
    const meanWallS = wall.reduce((a, b) => a + b, 0) / wall.length / 1000;

    // (1) Calls per question by service, operation and role, with their purpose.
    const per = (x: number) => x / iterations;
    const rows = [...counted.byOperation]
      .map(([key, n]) => {
        const [service, operation, role] = key.split('\t') as [string, string, string];
        return { service, operation, role, n };
      })
      .sort((a, b) => a.service.localeCompare(b.service) || b.n - a.n);
    process.stdout.write(
      `${iterations} questions, one at a time, after ${Math.max(WARM_UP, clients.length * 2)} to warm the functions; ${clients.length} users in turn; agent runtime ${runtime ?? 'bedrock-agent (the local stack default)'}\n\n`,
    );
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
    const sum = (keep: (r: (typeof rows)[number]) => boolean) => rows.filter(keep).reduce((a, r) => a + per(r.n), 0);
    const transactions = (admission: boolean) => sum((r) => r.service === 'dynamodb' && r.operation === 'TransactWriteItems' && isDataSourceRole(r.role) === admission);
    const path = successPath(definition);
    const quotas = quotasFor(
      {
        calls: (service, operation) => sum((r) => r.service === service && r.operation === operation),
        kmsCrypto: sum((r) => r.service === 'kms' && ['Encrypt', 'Decrypt', 'GenerateDataKey', 'ReEncrypt'].includes(r.operation)),
        publishes: per(counted.publishes),
        admissionTransactions: transactions(true),
        meteringTransactions: transactions(false),
        modelCalls: perService.get('bedrock') ?? 0,
        inputTokens,
        outputTokens,
        successPath: path,
        taskStates: path.filter((n) => (definition.States as Record<string, { Type: string }>)[n]!.Type === 'Task').length,
        localWallS: meanWallS,
      },
      settings,
    );
    const fmt = (x: number | undefined) => (x === undefined ? 'not found in docs' : x.toLocaleString('en-US'));
    process.stdout.write(
      `${table(
        ['quota', 'scope', 'default', 'unit', 'per question', 'questions/s ceiling'],
        quotas.map((q) => [q.name, q.scope, fmt(q.defaultValue), q.unit, q.perQuestion.toFixed(2), ceilingOf(q)?.toFixed(0) ?? '-']),
      )}\n`,
    );
    process.stdout.write('sources and notes:\n');
    for (const q of quotas) process.stdout.write(`  ${q.name}: ${q.source}${q.note ? `; per question: ${q.note}` : ''}\n`);
    process.stdout.write('\n');
    const used = (label: string, x: { value: number; source: string }) => `  ${label}: ${x.value.toLocaleString('en-US')} (${x.source.startsWith('BENCH_') ? x.source : 'default'})\n`;
    process.stdout.write(`model figures used (${DEFAULT_MODEL_QUOTAS.model}; set yours with the BENCH_MODEL_* options):\n`);
    process.stdout.write(used('tokens per minute (BENCH_MODEL_TPM)', settings.tokensPerMinute));
    process.stdout.write(used('requests per minute (BENCH_MODEL_RPM)', settings.requestsPerMinute));
    process.stdout.write(used('output token burndown (BENCH_MODEL_BURNDOWN)', settings.outputBurndown));
    process.stdout.write(used('maxTokens reserved per call (BENCH_MODEL_MAX_TOKENS)', settings.maxTokens));
    process.stdout.write(
      settings.modelLatencyS ? used('model seconds per question (BENCH_MODEL_LATENCY_S)', settings.modelLatencyS) : `  model seconds per question (BENCH_MODEL_LATENCY_S): not set, the local wall time (${meanWallS.toFixed(3)} s) stands in\n`,
    );
    process.stdout.write('\n');
    process.stdout.write(`${tenantCeilingLine(lowestCeiling(quotas, 'tenant'))}\n`);
    process.stdout.write(`${lastLine(perService, per(counted.publishes), lowestCeiling(quotas))}\n`);
  } finally {
    for (const c of connections) c.close();
    ddb.destroy();
    await stack.stop();
  }
}

/** BENCH_AGENT_RUNTIME: one of the runtimes, or undefined for the local stack's default. */
function agentRuntime(raw: string | undefined): AgentRuntimeKind | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (!(AGENT_RUNTIMES as readonly string[]).includes(raw)) throw new Error(`BENCH_AGENT_RUNTIME must be one of ${AGENT_RUNTIMES.join(', ')}, not '${raw}'`);
  return raw as AgentRuntimeKind;
}

/** The model's figures: the operator's (BENCH_MODEL_*) or the defaults with their sources. */
function quotaSettings(env: Readonly<Record<string, string | undefined>>): QuotaSettings {
  return {
    tokensPerMinute: setting(env, 'BENCH_MODEL_TPM', DEFAULT_MODEL_QUOTAS.tokensPerMinute),
    requestsPerMinute: setting(env, 'BENCH_MODEL_RPM', DEFAULT_MODEL_QUOTAS.requestsPerMinute),
    outputBurndown: setting(env, 'BENCH_MODEL_BURNDOWN', DEFAULT_MODEL_QUOTAS.outputBurndown),
    maxTokens: setting(env, 'BENCH_MODEL_MAX_TOKENS', {
      value: ANSWER_MAX_TOKENS,
      source:
        `what the converse runtime sends (tasks/agent-runtime-converse.ts ANSWER_MAX_TOKENS, inferenceConfig.maxTokens); without it the model's maximum would be reserved: ` +
        `${DEFAULT_MODEL_QUOTAS.maxOutputTokens.source}; with bedrock-agent, the agent's default prompt template's maximumLength applies (we set no override; its value was not found in the docs searched)`,
    }),
    modelLatencyS: optionalSetting(env, 'BENCH_MODEL_LATENCY_S'),
  };
}
