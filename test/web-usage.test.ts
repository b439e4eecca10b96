/**
 * The operators' Usage view in a real browser (Debian's Chromium via playwright-core) against the
 * local stack, as `npm start` serves it: usage planted as admission and metering write it
 * (tasks/usage.ts) for tenant1 and tenant2 over several days of last month, refusals included; the
 * chart with the plans' limits as lines, the month's totals and the estimated cost; the empty and
 * error states; the keys that do not open it. Screenshots land in test-output/screenshots/.
 */
import { STSClient } from '@aws-sdk/client-sts';
import { DynamoDBClient, UpdateItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWebUi } from '../client/web/build.ts';
import { silentLogger } from '../infra/local/edge/log.ts';
import { startLocalStack, type LocalStack } from '../infra/local/stack.ts';
import { attachWebUi, type WebUi } from '../infra/local/web.ts';
import { assumeTenantRole } from '../tasks/tenant-credentials.ts';
import { daySortKey, monthSortKey, tenantPartition, TENANT_WINDOW_TTL_SECONDS, USAGE_EXPIRY_ATTRIBUTE } from '../tasks/usage.ts';
import { launchBrowser, screenshot } from './browser.ts';

let stack: LocalStack;
let web: WebUi;
let browser: Browser;
const contexts: BrowserContext[] = [];
const HAIKU = 'us.anthropic.claude-haiku-4-5-20251001-v1:0';
/** Last month (UTC): every one of its days is in the past. */
const MONTH = (() => {
  const now = new Date();
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1)).toISOString().slice(0, 7);
})();
const dayIso = (date: number) => `${MONTH}-${String(date).padStart(2, '0')}T12:00:00.000Z`;

/** Adds `counters` to the tenant's DAY and MONTH items, as admission and InvokeAgent's metering do (ADD, TTL). */
async function plant(ddb: DynamoDBClient, tenantId: string, iso: string, counters: Record<string, number>): Promise<void> {
  const names = Object.keys(counters);
  for (const sk of [daySortKey(iso), monthSortKey(iso)]) {
    await ddb.send(
      new UpdateItemCommand({
        TableName: stack.tables.usage,
        Key: { pk: { S: tenantPartition(tenantId) }, sk: { S: sk } },
        UpdateExpression: `ADD ${names.map((_, i) => `#c${i} :v${i}`).join(', ')} SET #exp = if_not_exists(#exp, :exp)`,
        ExpressionAttributeNames: { ...Object.fromEntries(names.map((n, i) => [`#c${i}`, n])), '#exp': USAGE_EXPIRY_ATTRIBUTE },
        ExpressionAttributeValues: {
          ...Object.fromEntries(names.map((n, i) => [`:v${i}`, { N: String(counters[n]) } as AttributeValue])),
          ':exp': { N: String(Math.floor(Date.parse(iso) / 1000) + TENANT_WINDOW_TTL_SECONDS) },
        },
      }),
    );
  }
}

const day = (questions: number, answered: number, input: number, output: number, refused: Record<string, number> = {}) => ({
  questions, answered, inputTokens: input, outputTokens: output, tokens: input + output,
  [`inputTokens#${HAIKU}`]: input, [`outputTokens#${HAIKU}`]: output,
  ...Object.fromEntries(Object.entries(refused).map(([reason, n]) => [`refused#${reason}`, n])),
});

/** tenant1 (standard: 5,000 questions a day, 20M tokens a month): busy weekdays, the daily limit reached on the 12th. */
const TENANT1: [number, ReturnType<typeof day>][] = [
  [2, day(1800, 1790, 520_000, 160_000)],
  [3, day(2400, 2390, 700_000, 210_000, { userPerMinute: 40 })],
  [4, day(2100, 2100, 610_000, 190_000)],
  [5, day(2900, 2880, 840_000, 260_000, { userPerMinute: 85, userConcurrency: 12 })],
  [8, day(3300, 3290, 950_000, 300_000)],
  [9, day(3700, 3690, 1_060_000, 330_000, { userPerMinute: 120 })],
  [10, day(4100, 4080, 1_180_000, 370_000)],
  [11, day(4600, 4590, 1_320_000, 410_000, { userBurstSpan: 30 })],
  [12, day(5000, 4990, 1_430_000, 450_000, { tenantPerDay: 640, userPerMinute: 150 })],
  [15, day(3000, 3000, 860_000, 270_000)],
  [16, day(2600, 2590, 750_000, 230_000)],
];
/** tenant2 (premium: 50,000 a day, 200M tokens a month): light use on a few days. */
const TENANT2: [number, ReturnType<typeof day>][] = [
  [1, day(900, 900, 260_000, 80_000)],
  [6, day(1500, 1490, 430_000, 130_000, { userPerMinute: 25 })],
  [7, day(1200, 1200, 350_000, 110_000)],
];
const sum = (rows: [number, ReturnType<typeof day>][], key: string) => rows.reduce((s, [, d]) => s + ((d as Record<string, number>)[key] ?? 0), 0);

beforeAll(async () => {
  const [started, built, launched] = await Promise.all([startLocalStack({ port: 0, seedOrdersPerUser: 0 }), buildWebUi(), launchBrowser()]);
  stack = started;
  browser = launched;
  web = attachWebUi(stack, { dir: built.dir, logger: silentLogger });
  const ddb = new DynamoDBClient(stack.clientConfig('operator'));
  for (const [date, counters] of TENANT1) await plant(ddb, 'tenant1', dayIso(date), counters);
  for (const [date, counters] of TENANT2) await plant(ddb, 'tenant2', dayIso(date), counters);
  ddb.destroy();
}, 120_000);

afterAll(async () => {
  await Promise.all(contexts.map((c) => c.close()));
  await browser?.close();
  await stack?.stop();
});

async function newPage(): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
  contexts.push(context);
  return context.newPage();
}

async function openWithKeys(page: Page, keys: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }) {
  await page.getByLabel('Access key ID').fill(keys.accessKeyId);
  await page.getByLabel('Secret access key').fill(keys.secretAccessKey);
  await page.getByLabel('Session token (temporary credentials only)').fill(keys.sessionToken ?? '');
  await page.getByRole('button', { name: 'Open usage' }).click();
}

/** Shows `tenantId` in MONTH and waits until the report is the one asked for. */
async function show(page: Page, tenantId: string) {
  await page.getByLabel('Month (UTC)').fill(MONTH);
  await page.getByLabel('Store').selectOption(tenantId);
  const report = page.getByTestId('usage-report');
  await page.getByLabel('Month (UTC)').blur();
  await expect.poll(async () => [await report.getAttribute('data-tenant'), await report.getAttribute('data-month'), await report.getAttribute('aria-busy')]).toEqual([tenantId, MONTH, 'false']);
}

const total = (page: Page, id: string) => page.locator(`table.usage-totals tr[data-total="${id}"] td`).innerText();

describe('usage view (operators)', () => {
  it("a tenant's scoped credentials do not open it", async () => {
    const page = await newPage();
    await page.goto(`${web.url}#/usage`);
    await page.getByRole('heading', { name: 'Usage: operators only' }).waitFor();
    const sts = new STSClient(stack.clientConfig('mint-credentials'));
    const user = stack.user('tenant1-user');
    const scoped = await assumeTenantRole(
      { tenantId: user.tenantId, userId: user.sub },
      { sts, tenantAccessRoleArn: stack.iam.resources.tenantAccessRoleArn, location: stack.iam.location, tables: stack.tables, durationSeconds: 900 },
    );
    sts.destroy();
    await openWithKeys(page, scoped);
    await expect.poll(() => page.getByRole('alert').innerText()).toBe('These credentials may not read usage: only the local operator may.');
    expect(await page.getByTestId('usage-report').count()).toBe(0);
  });

  it("charts tenant1's month: questions and tokens per day, the plan's limits as lines, totals and the cost", async () => {
    const page = await newPage();
    await page.goto(web.url);
    await page.getByRole('link', { name: 'Usage' }).click();
    await openWithKeys(page, stack.iam.credentials('operator'));
    await show(page, 'tenant1');

    const questions = page.getByTestId('questions-chart');
    const tokens = page.getByTestId('tokens-chart');
    // A bar per day with usage, on the day it was planted.
    const planted = TENANT1.map(([date]) => dayIso(date).slice(0, 10));
    expect(await questions.locator('g.bars [data-day]').evaluateAll((gs) => gs.map((g) => g.getAttribute('data-day')))).toEqual(planted);
    expect(await tokens.locator('g.bars [data-day]').count()).toBe(planted.length);
    // The 12th: answered, unanswered and refused stacked (its tooltip names each).
    expect(await questions.locator(`[data-day="${dayIso(12).slice(0, 10)}"] title`).textContent()).toBe(`${dayIso(12).slice(0, 10)}: answered 4,990, admitted, not answered 10, refused 790`);
    expect(await questions.locator(`[data-day="${dayIso(12).slice(0, 10)}"] rect`).count()).toBe(3);
    // The standard plan's limits, as lines, labelled.
    expect(await questions.getByTestId('day-limit').getAttribute('data-value')).toBe('5000');
    expect(await questions.getByTestId('day-limit').textContent()).toBe('standard plan: 5,000 questions a day');
    expect(await page.getByTestId('busiest-day').innerText()).toBe('(busiest day: 5,000 admitted, 100.0% of the daily limit)');
    expect(await tokens.getByTestId('token-budget').getAttribute('data-value')).toBe('20000000');
    expect(await tokens.getByTestId('cumulative-tokens').getAttribute('data-value')).toBe(String(sum(TENANT1, 'tokens')));
    // Axis labels and a legend.
    expect(await questions.locator('.axis-label').allTextContents()).toEqual(['questions', `day of ${MONTH} (UTC)`]);
    expect(await tokens.locator('.axis-label').allTextContents()).toEqual(['tokens per day (bars)', 'tokens this month (line)', `day of ${MONTH} (UTC)`]);
    expect(await tokens.locator('.chart-legend li').allInnerTexts()).toEqual([
      'input tokens per day (left axis)', 'output tokens per day (left axis)', 'tokens this month, running total (right axis)', 'monthly token budget (right axis)',
    ]);

    const fmt = (n: number) => n.toLocaleString('en-US');
    const refused = ['userPerMinute', 'userBurstSpan', 'userConcurrency', 'tenantPerDay'].reduce((s, r) => s + sum(TENANT1, `refused#${r}`), 0);
    expect(await total(page, 'questions')).toBe(fmt(sum(TENANT1, 'questions')));
    expect(await total(page, 'answered')).toBe(fmt(sum(TENANT1, 'answered')));
    expect(await total(page, 'refused')).toBe(fmt(refused));
    expect(await total(page, 'refused-tenantPerDay')).toBe('640');
    expect(await total(page, 'refused-userPerMinute')).toBe(fmt(sum(TENANT1, 'refused#userPerMinute')));
    const tokensUsed = sum(TENANT1, 'tokens');
    expect(await total(page, 'budget')).toBe(`${fmt(tokensUsed)} of 20,000,000 (${((tokensUsed / 20_000_000) * 100).toFixed(2)}%)`);
    expect(await total(page, 'cost')).toBe(`price unknown (${HAIKU}: no price in the models table)`);
    await screenshot(page, 'usage-desktop');

    // Control: another store shows its own month and its own (premium) limits.
    await show(page, 'tenant2');
    expect(await page.getByTestId('day-limit').getAttribute('data-value')).toBe('50000');
    expect(await page.getByTestId('token-budget').getAttribute('data-value')).toBe('200000000');
    expect(await total(page, 'questions')).toBe(fmt(sum(TENANT2, 'questions')));
    expect(await page.getByTestId('questions-chart').locator('g.bars [data-day]').count()).toBe(TENANT2.length);
    // Its busiest day (1,500 admitted; the 25 refused do not count) is far below the premium limit: the caption says how far.
    expect(await page.getByTestId('busiest-day').innerText()).toBe('(busiest day: 1,500 admitted, 3.0% of the daily limit)');
    await screenshot(page, 'usage-tenant2');
  });

  it('says so when a store has no usage in the month (no chart, its plan and zero totals)', async () => {
    const page = await newPage();
    await page.goto(`${web.url}#/usage`);
    await openWithKeys(page, stack.iam.credentials('operator'));
    await show(page, 'tenant3');
    expect(await page.getByTestId('usage-empty').innerText()).toBe(
      `No usage recorded for tenant3 in ${MONTH}: no question was admitted or refused, and no model tokens were used. Its plan allows 500 questions a day and 2,000,000 tokens a month.`,
    );
    expect(await page.getByTestId('questions-chart').count()).toBe(0);
    expect(await total(page, 'questions')).toBe('0');
    expect(await total(page, 'cost')).toBe('$0.0000');
    await screenshot(page, 'usage-empty');
  });

  it('shows an error, and no stale chart, when the usage table cannot be read', async () => {
    const page = await newPage();
    const edge = new URL(stack.edgeUrl).origin;
    const ui = new URL(web.url).origin;
    await page.goto(`${web.url}#/usage`);
    await openWithKeys(page, stack.iam.credentials('operator'));
    await show(page, 'tenant1');
    expect(await page.getByTestId('questions-chart').count()).toBe(1);
    // From now on DynamoDB refuses the usage table's Query (as it would a principal without dynamodb:Query on it).
    await page.route(
      (url) => url.origin === edge,
      (route) =>
        route.request().headers()['x-amz-target'] === 'DynamoDB_20120810.Query'
          ? route.fulfill({
              status: 400,
              headers: { 'content-type': 'application/x-amz-json-1.0', 'access-control-allow-origin': ui, 'access-control-expose-headers': 'x-amzn-requestid, x-amzn-errortype' },
              body: JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#AccessDeniedException', message: 'not authorized' }),
            })
          : route.continue(),
    );
    await page.getByLabel('Store').selectOption('tenant2');
    await expect.poll(() => page.getByRole('alert').innerText()).toBe('These credentials may not read usage: only the local operator may.');
    expect(await page.getByTestId('questions-chart').count()).toBe(0);
  });
});
