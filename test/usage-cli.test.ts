/**
 * `npm run usage` against a running local stack (in-process, the operator's keys through the edge),
 * with usage items planted as admission and metering write them (tasks/usage.ts: ADD on the
 * tenant's DAY and MONTH items); the same command with `--target aws` runs the AWS code path
 * (cdk-outputs names, default credentials) against the stand-ins.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DynamoDBClient, UpdateItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand, writeCdkOutputs } from './cli-helpers.ts';
import { usageCommand } from '../client/cli/usage.ts';
import type { TenantUsage } from '../client/usage.ts';
import { writeLocalEnv } from '../client/cli/targets.ts';
import { localEnvOf } from '../infra/local/local-env.ts';
import { startLocalStack, type LocalStack } from '../infra/local/stack.ts';
import { assumeTenantRole } from '../tasks/tenant-credentials.ts';
import { daySortKey, monthSortKey, tenantPartition, TENANT_WINDOW_TTL_SECONDS, USAGE_EXPIRY_ATTRIBUTE } from '../tasks/usage.ts';

let stack: LocalStack;
let dataDir: string;
let outputsFile: string;
const HAIKU = 'us.anthropic.claude-haiku-4-5-20251001-v1:0';
/** The CLI's clock: a day in November 2026, so the default month is 2026-11. */
const clock = () => new Date('2026-11-20T10:00:00Z');

/** Adds `counters` to the tenant's DAY item for `iso` and to its MONTH item, as the workflow does (ADD, TTL). */
async function plant(ddb: DynamoDBClient, tenantId: string, iso: string, counters: Record<string, number>): Promise<void> {
  const names = Object.keys(counters);
  const expiresAt = Math.floor(Date.parse(iso) / 1000) + TENANT_WINDOW_TTL_SECONDS;
  for (const sk of [daySortKey(iso), monthSortKey(iso)]) {
    await ddb.send(
      new UpdateItemCommand({
        TableName: stack.tables.usage,
        Key: { pk: { S: tenantPartition(tenantId) }, sk: { S: sk } },
        UpdateExpression: `ADD ${names.map((_, i) => `#c${i} :v${i}`).join(', ')} SET #exp = if_not_exists(#exp, :exp)`,
        ExpressionAttributeNames: { ...Object.fromEntries(names.map((n, i) => [`#c${i}`, n])), '#exp': USAGE_EXPIRY_ATTRIBUTE },
        ExpressionAttributeValues: { ...Object.fromEntries(names.map((n, i) => [`:v${i}`, { N: String(counters[n]) } as AttributeValue])), ':exp': { N: String(expiresAt) } },
      }),
    );
  }
}

const answered = (n: number, input: number, output: number) => ({
  questions: n, answered: n, inputTokens: input, outputTokens: output, tokens: input + output, [`inputTokens#${HAIKU}`]: input, [`outputTokens#${HAIKU}`]: output,
});

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'assistant-usage-'));
  stack = await startLocalStack({ port: 0, dataDir, retryIntervalOverrides: 0, lambdaSandbox: false, seedOrdersPerUser: 0 });
  await writeLocalEnv(localEnvOf(stack, true), dataDir);
  outputsFile = path.join(dataDir, 'cdk-outputs.json');
  await writeCdkOutputs(outputsFile, {
    Region: stack.iam.location.region,
    UserPoolId: stack.cognito.poolId,
    ConfigTableName: stack.tables.config,
    TablePrefix: stack.tables.prefix,
    UserSecretPrefix: 'MultiTenantAiAssistant/seed-users/',
  });
  const ddb = new DynamoDBClient(stack.clientConfig('operator'));
  await plant(ddb, 'tenant1', '2026-11-02T09:00:00Z', answered(40, 120_000, 30_000));
  await plant(ddb, 'tenant1', '2026-11-03T09:00:00Z', { ...answered(55, 150_000, 40_000), questions: 60, 'refused#userPerMinute': 7, 'refused#userConcurrency': 2 });
  await plant(ddb, 'tenant2', '2026-11-03T12:00:00Z', answered(8, 20_000, 5_000));
  // Another month: not in November's report.
  await plant(ddb, 'tenant1', '2026-10-31T23:59:00Z', answered(5, 1_000, 1_000));
  ddb.destroy();
}, 60_000);
afterAll(async () => {
  await stack?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

const usage = (...args: string[]) => runCommand(usageCommand, ['--data-dir', dataDir, ...args], { clock });
const awsUsage = (...args: string[]) =>
  runCommand(usageCommand, ['--target', 'aws', '--outputs-file', outputsFile, ...args], {
    clock,
    aws: { credentials: stack.iam.credentials('operator'), endpoints: { dynamodb: stack.edgeUrl, cognito: stack.edgeUrl, secretsmanager: stack.edgeUrl } },
  });
const report = async (run: Promise<{ code: number | null; stdout: string; stderr: string }>) => {
  const r = await run;
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as { month: string; tenants: TenantUsage[] };
};

describe('npm run usage (local)', () => {
  it('--json: every tenant of the config table with its plan, counters, refusals, budget share and cost (unknown: no price)', async () => {
    const { month, tenants } = await report(usage('--json'));
    expect(month).toBe('2026-11');
    expect(tenants.map((t) => [t.tenantId, t.plan, t.questions, t.answered, t.refusedTotal, t.inputTokens, t.outputTokens, t.tokens])).toEqual([
      ['tenant1', 'standard', 100, 95, 9, 270_000, 70_000, 340_000],
      ['tenant2', 'premium', 8, 8, 0, 20_000, 5_000, 25_000],
      ['tenant3', 'basic', 0, 0, 0, 0, 0, 0],
    ]);
    const t1 = tenants[0]!;
    expect(t1.refused).toEqual({ userPerMinute: 7, userBurstSpan: 0, userConcurrency: 2, tenantPerDay: 0, tenantTokensPerMonth: 0 });
    expect(t1.limits).toEqual({ questionsPerTenantPerDay: 5_000, tokensPerTenantPerMonth: 20_000_000 });
    expect(t1.tokensOfBudgetPercent).toBeCloseTo(1.7, 10);
    expect(t1.models).toEqual([{ modelId: HAIKU, inputTokens: 270_000, outputTokens: 70_000, costUsd: null }]);
    expect(t1).toMatchObject({ costUsd: null, unpricedModels: [HAIKU] });
    expect(t1.days).toBeUndefined();
    expect(tenants[2]).toMatchObject({ costUsd: 0, models: [], tokensOfBudgetPercent: 0 });
  });

  it('--month picks another month (control: October holds only the planted October day)', async () => {
    const { tenants } = await report(usage('--json', '--month', '2026-10'));
    expect(tenants.map((t) => [t.tenantId, t.questions, t.tokens])).toEqual([['tenant1', 5, 2_000], ['tenant2', 0, 0], ['tenant3', 0, 0]]);
  });

  it('--tenant --days --json: one tenant, its days in order (Query of DAY#yyyy-mm-*)', async () => {
    const { tenants } = await report(usage('--json', '--days', '--tenant', 'tenant1'));
    expect(tenants.map((t) => t.tenantId)).toEqual(['tenant1']);
    expect(tenants[0]!.days!.map((d) => [d.day, d.questions, d.answered, d.refusedTotal, d.tokens])).toEqual([
      ['2026-11-02', 40, 40, 0, 150_000],
      ['2026-11-03', 60, 55, 9, 190_000],
    ]);
  });

  it('prints a table with refusals by reason, the budget and "price unknown"', async () => {
    const r = await usage('--tenant', 'tenant1');
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('Usage in 2026-11 (UTC month). Cost: estimated at the on-demand prices of the models table (tasks/models.ts).');
    expect(lines[2]).toMatch(/^tenant1 +standard +100 +95 +9 +270,000 +70,000 +340,000 +1\.70%$/);
    expect(lines).toContain('  refused: userPerMinute 7, userConcurrency 2');
    expect(lines).toContain('tenant1 (standard plan: 5,000 questions a day, 20,000,000 tokens a month)');
    expect(lines).toContain(`  estimated cost: price unknown (${HAIKU}: no price in the models table)`);
  });

  it('refuses an unknown tenant and a bad month with a clear message, exit 1, nothing printed on stdout', async () => {
    const unknown = await usage('--tenant', 'tenant9');
    expect(unknown).toEqual({ code: 1, stdout: '', stderr: "Unknown tenant 'tenant9': npm run tenants -- list shows the stores.\n" });
    const bad = await usage('--month', '2026-13');
    expect(bad).toEqual({ code: 1, stdout: '', stderr: "Invalid month '2026-13': give a UTC calendar month as YYYY-MM, e.g. 2026-11.\n" });
    expect((await usage('--month', 'Nov')).code).toBe(1);
    // Control: the same commands with a known tenant and a good month succeed.
    expect((await usage('--tenant', 'tenant2', '--month', '2026-11')).code).toBe(0);
    // A stray argument is a usage error (2).
    expect((await usage('list')).code).toBe(2);
  });
});

describe('npm run usage --target aws (the AWS code path against the stand-ins)', () => {
  it('reads the same report with cdk-outputs names and the given credentials', async () => {
    const aws = await report(awsUsage('--json', '--days'));
    const local = await report(usage('--json', '--days'));
    expect(aws).toEqual(local);
    expect(aws.tenants[0]!.questions).toBe(100);
  });

  it("explains a refusal by IAM: a tenant's scoped credentials may not read the report (control above: the operator may)", async () => {
    const sts = new STSClient(stack.clientConfig('mint-credentials'));
    const user = stack.user('tenant1-user');
    const scoped = await assumeTenantRole(
      { tenantId: user.tenantId, userId: user.sub },
      { sts, tenantAccessRoleArn: stack.iam.resources.tenantAccessRoleArn, location: stack.iam.location, tables: stack.tables, durationSeconds: 900 },
    );
    sts.destroy();
    const r = await runCommand(usageCommand, ['--target', 'aws', '--outputs-file', outputsFile], {
      clock,
      aws: { credentials: { accessKeyId: scoped.accessKeyId, secretAccessKey: scoped.secretAccessKey, sessionToken: scoped.sessionToken }, endpoints: { dynamodb: stack.edgeUrl } },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^AccessDeniedException: /);
  });
});
