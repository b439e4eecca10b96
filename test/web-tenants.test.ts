/**
 * The operators' Tenants view in a real browser (Debian's Chromium via playwright-core) against the
 * local stack, as `npm start` serves it: the seeded stores with their users, Suspend and Resume from
 * the page (checked in the config table itself), and the keys that do not open it. Screenshots land
 * in test-output/screenshots/.
 */
import { STSClient } from '@aws-sdk/client-sts';
import { DeleteItemCommand, DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWebUi } from '../client/web/build.ts';
import { silentLogger } from '../infra/local/edge/log.ts';
import { startLocalStack, type LocalStack } from '../infra/local/stack.ts';
import { attachWebUi, type WebUi } from '../infra/local/web.ts';
import { assumeTenantRole } from '../tasks/tenant-credentials.ts';
import { launchBrowser, screenshot } from './browser.ts';

let stack: LocalStack;
let web: WebUi;
let browser: Browser;
let ddb: DynamoDBClient;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  const [started, built, launched] = await Promise.all([startLocalStack({ port: 0, seedOrdersPerUser: 0 }), buildWebUi(), launchBrowser()]);
  stack = started;
  browser = launched;
  web = attachWebUi(stack, { dir: built.dir, logger: silentLogger });
  ddb = new DynamoDBClient(stack.clientConfig('operator'));
}, 120_000);

afterAll(async () => {
  ddb?.destroy();
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
  await page.getByRole('button', { name: 'Open tenants' }).click();
}

/** The config row's status as DynamoDB has it (a strongly consistent read, as the operator). */
async function storedStatus(tenantId: string): Promise<string | undefined> {
  const out = await ddb.send(new GetItemCommand({ TableName: stack.tables.config, Key: { tenantId: { S: tenantId } }, ConsistentRead: true }));
  return out.Item?.status?.S;
}

/** The config row's plan as DynamoDB has it. */
async function storedPlan(tenantId: string): Promise<string | undefined> {
  const out = await ddb.send(new GetItemCommand({ TableName: stack.tables.config, Key: { tenantId: { S: tenantId } }, ConsistentRead: true }));
  return out.Item?.plan?.S;
}

const row = (page: Page, tenantId: string) => page.locator(`table.tenants-table tbody tr[data-tenant="${tenantId}"]`);

describe('tenants view (operators)', () => {
  it('a tenant\'s scoped credentials and unknown keys do not open it', async () => {
    const page = await newPage();
    await page.goto(`${web.url}#/tenants`);
    await page.getByRole('heading', { name: 'Tenants: operators only' }).waitFor();
    // A tenant's scoped credentials (what MintCredentials gives a run): IAM denies the config table's Scan.
    const sts = new STSClient(stack.clientConfig('mint-credentials'));
    const user = stack.user('tenant1-user');
    const scoped = await assumeTenantRole(
      { tenantId: user.tenantId, userId: user.sub },
      { sts, tenantAccessRoleArn: stack.iam.resources.tenantAccessRoleArn, location: stack.iam.location, tables: stack.tables, durationSeconds: 900 },
    );
    sts.destroy();
    await openWithKeys(page, scoped);
    await expect.poll(() => page.getByRole('alert').innerText()).toBe('These credentials may not administer tenants: only the local operator may.');
    await openWithKeys(page, { accessKeyId: 'LOCALNOTAKEY0000', secretAccessKey: 'wrong' });
    await expect.poll(() => page.getByRole('alert').innerText()).toMatch(/does not know this access key/);
    expect(await page.locator('table.tenants-table').count()).toBe(0);
    expect(await page.getByRole('button', { name: /^Suspend / }).count()).toBe(0);
  });

  it('lists the seeded stores with their users, suspends tenant2 from the page and resumes it', async () => {
    const page = await newPage();
    await page.goto(web.url);
    await page.getByRole('link', { name: 'Tenants' }).click();
    await openWithKeys(page, stack.iam.credentials('operator'));
    await page.locator('table.tenants-table').waitFor();

    for (const id of ['tenant1', 'tenant2', 'tenant3']) {
      expect(await row(page, id).getAttribute('data-status')).toBe('ACTIVE');
      expect(await row(page, id).innerText()).toContain(stack.tables.orders(id));
    }
    // Users come from the user pool (ListUsers), matched on custom:tenantId.
    expect(await page.getByTestId('users-unavailable').count()).toBe(0);
    expect(await row(page, 'tenant1').getByTestId('user-count').innerText()).toBe('2');
    expect(await row(page, 'tenant2').getByTestId('user-count').innerText()).toBe('1');
    const toggle = page.getByRole('button', { name: 'Users of tenant1: 2' });
    expect(await toggle.getAttribute('aria-expanded')).toBe('false');
    await toggle.click();
    expect(await toggle.getAttribute('aria-expanded')).toBe('true');
    const users = page.getByRole('list', { name: 'Users of tenant1' });
    expect(await users.locator('li').evaluateAll((lis) => lis.map((li) => li.getAttribute('data-username')))).toEqual(['tenant1-user', 'tenant1-user2']);
    expect(await users.innerText()).toContain('FORCE_CHANGE_PASSWORD');
    await screenshot(page, 'tenants-desktop');

    await page.getByRole('button', { name: 'Suspend tenant2' }).click();
    await expect.poll(() => row(page, 'tenant2').getAttribute('data-status')).toBe('SUSPENDED');
    expect(await page.getByTestId('tenants-announcement').innerText()).toBe('Store tenant2 is now SUSPENDED.');
    expect(await row(page, 'tenant2').getAttribute('class')).toContain('suspended');
    expect(await storedStatus('tenant2')).toBe('SUSPENDED');
    // Control: only the store asked for changed.
    expect(await storedStatus('tenant1')).toBe('ACTIVE');
    expect(await row(page, 'tenant1').getAttribute('data-status')).toBe('ACTIVE');
    // Refresh reads the table again: the page shows what DynamoDB holds, not only its own state.
    await page.getByRole('button', { name: 'Refresh' }).click();
    await expect.poll(() => page.getByRole('button', { name: 'Refresh' }).isEnabled()).toBe(true);
    expect(await row(page, 'tenant2').getAttribute('data-status')).toBe('SUSPENDED');
    await screenshot(page, 'tenants-suspended');

    await page.getByRole('button', { name: 'Resume tenant2' }).click();
    await expect.poll(() => row(page, 'tenant2').getAttribute('data-status')).toBe('ACTIVE');
    expect(await page.getByTestId('tenants-announcement').innerText()).toBe('Store tenant2 is now ACTIVE.');
    expect(await storedStatus('tenant2')).toBe('ACTIVE');
    expect(await page.getByRole('button', { name: 'Suspend tenant2' }).count()).toBe(1);
  });

  it("shows each store's plan and sets tenant3's from the page (checked in the config table), then back", async () => {
    const page = await newPage();
    await page.goto(`${web.url}#/tenants`);
    await openWithKeys(page, stack.iam.credentials('operator'));
    await page.locator('table.tenants-table').waitFor();
    const plans = [];
    for (const id of ['tenant1', 'tenant2', 'tenant3']) plans.push(await row(page, id).getByTestId('tenant-plan').inputValue());
    expect(plans).toEqual(['standard', 'premium', 'basic']);

    await page.getByLabel('Plan of tenant3').selectOption('premium');
    await expect.poll(() => page.getByTestId('tenants-announcement').innerText()).toBe('Store tenant3 is now on the premium plan.');
    expect(await storedPlan('tenant3')).toBe('premium');
    // Control: only the store asked for changed.
    expect([await storedPlan('tenant1'), await storedPlan('tenant2')]).toEqual(['standard', 'premium']);
    await page.getByRole('button', { name: 'Refresh' }).click();
    await expect.poll(() => page.getByRole('button', { name: 'Refresh' }).isEnabled()).toBe(true);
    expect(await page.getByLabel('Plan of tenant3').inputValue()).toBe('premium');
    await screenshot(page, 'tenants-plans');

    await page.getByLabel('Plan of tenant3').selectOption('basic');
    await expect.poll(() => page.getByTestId('tenants-announcement').innerText()).toBe('Store tenant3 is now on the basic plan.');
    expect(await storedPlan('tenant3')).toBe('basic');
  });

  it('shows the stores without users, saying why, when the user pool cannot be listed', async () => {
    const page = await newPage();
    const edge = new URL(stack.edgeUrl).origin;
    const ui = new URL(web.url).origin;
    // The user pool refuses ListUsers (as it would a principal without cognito-idp:ListUsers); everything else reaches the edge.
    await page.route(
      (url) => url.origin === edge,
      (route) =>
        route.request().headers()['x-amz-target'] === 'AWSCognitoIdentityProviderService.ListUsers'
          ? route.fulfill({
              status: 400,
              headers: { 'content-type': 'application/x-amz-json-1.1', 'access-control-allow-origin': ui, 'access-control-expose-headers': 'x-amzn-requestid, x-amzn-errortype' },
              body: JSON.stringify({ __type: 'AccessDeniedException', message: 'not authorized' }),
            })
          : route.continue(),
    );
    await page.goto(`${web.url}#/tenants`);
    await openWithKeys(page, stack.iam.credentials('operator'));
    await page.locator('table.tenants-table').waitFor();
    expect(await page.getByTestId('users-unavailable').innerText()).toBe('Users unavailable: These credentials may not list the users: only the local operator may.');
    expect(await row(page, 'tenant1').getAttribute('data-status')).toBe('ACTIVE');
    expect(await page.getByTestId('user-count').count()).toBe(0);
  });

  it('shows the CLI\'s refusal when the store changed underneath the page', async () => {
    const page = await newPage();
    await page.goto(`${web.url}#/tenants`);
    await openWithKeys(page, stack.iam.credentials('operator'));
    await page.locator('table.tenants-table').waitFor();
    // Another operator removes tenant3 behind the page's back: Suspend names the unknown tenant.
    const saved = (await ddb.send(new GetItemCommand({ TableName: stack.tables.config, Key: { tenantId: { S: 'tenant3' } }, ConsistentRead: true }))).Item!;
    await ddb.send(new DeleteItemCommand({ TableName: stack.tables.config, Key: { tenantId: { S: 'tenant3' } } }));
    try {
      await page.getByRole('button', { name: 'Suspend tenant3' }).click();
      await expect.poll(() => page.getByRole('alert').innerText()).toBe("Unknown tenant 'tenant3': npm run tenants -- list shows the stores.");
      expect(await storedStatus('tenant3')).toBeUndefined();
    } finally {
      await ddb.send(new PutItemCommand({ TableName: stack.tables.config, Item: saved }));
    }
  });
});
