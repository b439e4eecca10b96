/**
 * The web UI in a real browser (Debian's Chromium via playwright-core) against the local stack, as
 * `npm start` serves it: first sign-in with a new password, two users of two tenants at once, orders,
 * a forced failure and its retry, streaming progress, inert answers, token refresh, sign-out, and
 * the operators' executions view with Replay. Screenshots land in test-output/screenshots/.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { STSClient } from '@aws-sdk/client-sts';
import { PutCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import type { Browser, BrowserContext, Page, Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWebUi } from '../client/web/build.ts';
import { localEnvOf } from '../infra/local/local-env.ts';
import { silentLogger } from '../infra/local/edge/log.ts';
import { ordersCommand } from '../infra/local/cli/orders.ts';
import { startLocalStack, type LocalStack } from '../infra/local/stack.ts';
import { attachWebUi, type WebUi } from '../infra/local/web.ts';
import { IamGraphqlClient } from '../tasks/graphql-client.ts';
import { PUBLISH_ANSWER } from '../tasks/answer-events.ts';
import { assumeTenantRole } from '../tasks/tenant-credentials.ts';
import { SLOT_TTL_SECONDS } from '../tasks/plans.ts';
import { INFLIGHT_SORT_KEY, userPartition } from '../tasks/usage.ts';
import { launchBrowser, screenshot } from './browser.ts';

const NEW_PASSWORD = 'Browser-Tested-Pass-7!';
const RETURN_POLICY = "What's your return policy?";

let stack: LocalStack;
let web: WebUi;
let browser: Browser;
/** Requests that reached the canary server (an exfiltration attempt would land here). */
const canaryHits: string[] = [];
let canary: http.Server;
let canaryOrigin: string;
const contexts: BrowserContext[] = [];
const pages = new Map<string, Page>();

beforeAll(async () => {
  canary = http.createServer((req, res) => {
    canaryHits.push(req.url ?? '');
    res.writeHead(200, { 'content-type': 'image/png' });
    res.end();
  });
  await new Promise<void>((resolve) => canary.listen(0, '127.0.0.1', resolve));
  canaryOrigin = `http://127.0.0.1:${(canary.address() as AddressInfo).port}`;
  const [started, built, launched] = await Promise.all([
    startLocalStack({ port: 0, seedOrdersPerUser: 0, retryIntervalOverrides: 0 }),
    buildWebUi(),
    launchBrowser(),
  ]);
  stack = started;
  browser = launched;
  web = attachWebUi(stack, { dir: built.dir, logger: silentLogger });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  await new Promise<void>((resolve) => (canary ? canary.close(() => resolve()) : resolve()));
});

async function newPage(options: { phone?: boolean } = {}): Promise<Page> {
  const context = await browser.newContext(
    options.phone ? { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true } : { viewport: { width: 1100, height: 800 } },
  );
  contexts.push(context);
  return context.newPage();
}

const temporaryPassword = (username: string) => stack.cognito.temporaryPasswords()[username]!;

async function submitCredentials(page: Page, username: string, password: string) {
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** First sign-in: the temporary password, then the new password Cognito requires. */
async function firstSignIn(page: Page, username: string): Promise<void> {
  await page.goto(web.url);
  await submitCredentials(page, username, temporaryPassword(username));
  await page.getByRole('heading', { name: 'Choose a new password' }).waitFor();
  await page.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
  await page.getByLabel('Repeat the new password').fill(NEW_PASSWORD);
  await page.getByRole('button', { name: 'Set password and sign in' }).click();
  await page.getByTestId('tenant').waitFor();
}

/** Sends a question with the keyboard and waits for its turn to end; returns the turn. */
async function ask(page: Page, question: string) {
  const before = await page.locator('.turn').count();
  await page.getByLabel('Your question').fill(question);
  await page.getByLabel('Your question').press('Enter');
  const turn = page.locator('.turn').nth(before);
  await turn.locator('xpath=self::*[@data-status="done" or @data-status="failed"]').waitFor({ timeout: 20_000 });
  return turn;
}

async function answerOf(page: Page, question: string): Promise<string> {
  const turn = await ask(page, question);
  expect(await turn.getAttribute('data-status')).toBe('done');
  return turn.getByTestId('answer-text').innerText();
}

describe('signing in', () => {
  it('explains a wrong password and a too weak new password, then signs in with a new password', async () => {
    const page = await newPage();
    pages.set('tenant1-user', page);
    await page.goto(web.url);
    await submitCredentials(page, 'tenant1-user', 'not-the-password');
    expect(await page.getByRole('alert').innerText()).toBe('The username or password is wrong. Check both and try again.');
    await submitCredentials(page, 'tenant1-user', temporaryPassword('tenant1-user'));
    await page.getByRole('heading', { name: 'Choose a new password' }).waitFor();
    // Focus moves to the new password field.
    expect(await page.evaluate('document.activeElement.id')).toBe('new-password');
    await page.getByLabel('New password', { exact: true }).fill('short');
    await page.getByLabel('Repeat the new password').fill('short');
    await page.getByRole('button', { name: 'Set password and sign in' }).click();
    expect(await page.getByRole('alert').innerText()).toMatch(/^That new password is too weak: it needs at least 12 characters/);
    await page.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
    await page.getByLabel('Repeat the new password').fill(NEW_PASSWORD);
    await page.getByRole('button', { name: 'Set password and sign in' }).click();
    // The header names the store from the token's custom:tenantId.
    expect(await page.getByTestId('tenant').innerText()).toBe('Store: tenant1');
    // The account now has the new password; the temporary one is gone.
    expect(stack.cognito.temporaryPasswords()['tenant1-user']).toBeUndefined();
  });
});

describe('chat', () => {
  it('two users of two tenants at once each get their own store\'s answer, and only their own', async () => {
    const first = pages.get('tenant1-user')!;
    const second = await newPage({ phone: true });
    pages.set('tenant2-user', second);
    await firstSignIn(second, 'tenant2-user');
    expect(await second.getByTestId('tenant').innerText()).toBe('Store: tenant2');

    const [a, b] = await Promise.all([answerOf(first, RETURN_POLICY), answerOf(second, RETURN_POLICY)]);
    expect(a).toBe('You can return items within 10 days.');
    expect(b).toBe('You can return items within 20 days.');
    expect(await first.locator('.turns').innerText()).not.toContain('20 days');
    expect(await second.locator('.turns').innerText()).not.toContain('10 days');
    // After sending, the focus is back in the prompt box for the next question.
    expect(await first.evaluate('document.activeElement.id')).toBe('prompt');
    await screenshot(first, 'chat-tenant1-desktop');
    await screenshot(second, 'chat-tenant2-phone');
  });

  it('lists the orders added with npm run orders', async () => {
    const page = pages.get('tenant1-user')!;
    expect(await answerOf(page, 'Which orders did I place?')).toBe('You have not placed any orders yet.');
    const added = await ordersCommand(localEnvOf(stack, false), 'tenant1-user', 'add', 2);
    const listed = await answerOf(page, 'Which orders did I place?');
    expect(listed).toContain('You have 2 orders');
    for (const o of added.orders) expect(listed).toContain(o.orderId);
  });

  it('shows a forced failure with its reason, and Retry answers', async () => {
    const page = pages.get('tenant1-user')!;
    stack.bedrock.injectFault({ kind: 'fail', times: 1 });
    const turn = await ask(page, RETURN_POLICY);
    expect(await turn.getAttribute('data-status')).toBe('failed');
    expect(await turn.getByTestId('answer-error').innerText()).toContain('could not answer');
    await screenshot(page, 'chat-failed');
    await turn.getByRole('button', { name: 'Retry' }).click();
    await turn.locator('xpath=self::*[@data-status="done"]').waitFor({ timeout: 20_000 });
    expect(await turn.getByTestId('answer-text').innerText()).toBe('You can return items within 10 days.');
    expect(await turn.getByTestId('answer-error').count()).toBe(0);
  });

  it('shows a refusal (a limit of the plan) with when to ask again, and Retry is admitted once the limit frees', async () => {
    const page = pages.get('tenant1-user')!;
    const user = stack.user('tenant1-user');
    // Two answers in flight (planted, live): the standard plan's concurrency is spent.
    const held = [1, 2].map((i) => `${Math.floor(Date.now() / 1000) + SLOT_TTL_SECONDS}#${user.sub}.held${i}`);
    const dynamo = new DynamoDBClient(stack.clientConfig('operator'));
    const inflight = { TableName: stack.tables.usage, Key: { pk: { S: userPartition(user.tenantId, user.sub) }, sk: { S: INFLIGHT_SORT_KEY } }, ExpressionAttributeNames: { '#s': 'slots' } };
    await dynamo.send(new UpdateItemCommand({ ...inflight, UpdateExpression: 'ADD #s :s', ExpressionAttributeValues: { ':s': { SS: held } } }));
    const turn = await ask(page, RETURN_POLICY);
    expect(await turn.getAttribute('data-status')).toBe('failed');
    expect(await turn.getByTestId('answer-error').innerText()).toMatch(/^You can have 2 answers in progress at once \(standard plan\); try again when one has ended/);
    expect(await turn.getByTestId('answer-retry-after').innerText()).toMatch(/^You can ask again at \d\d:\d\d\.$/);
    await screenshot(page, 'refused');
    await dynamo.send(new UpdateItemCommand({ ...inflight, UpdateExpression: 'DELETE #s :s', ExpressionAttributeValues: { ':s': { SS: held } } }));
    await turn.getByRole('button', { name: 'Retry' }).click();
    await turn.locator('xpath=self::*[@data-status="done"]').waitFor({ timeout: 20_000 });
    expect(await turn.getByTestId('answer-retry-after').count()).toBe(0);
  });

  it('streams progress steps and chunks as they are published, then the final answer', async () => {
    const page = pages.get('tenant2-user')!;
    // Hold the ask mutation in the browser (no execution starts), and play the workflow's events
    // through the real publishAnswer mutation and the realtime subscription.
    let answerId = '';
    await page.route('**/graphql', async (route) => {
      const body = JSON.parse(route.request().postData() ?? '{}') as { query?: string; variables?: { answerId?: string } };
      if (!body.query?.includes('mutation Ask')) return route.continue();
      answerId = body.variables!.answerId!;
      return route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ data: { ask: { answerId, executionId: 'held-by-the-test' } } }) });
    });
    const publisher = new IamGraphqlClient({ url: stack.graphqlUrl, region: stack.iam.location.region, credentials: stack.iam.credentials('publish-answer') });
    const userId = stack.user('tenant2-user').sub;
    const publish = (status: string, seq: number, fields: { text?: string; step?: string; error?: string } = {}) =>
      publisher.request(PUBLISH_ANSWER, { answerId, userId, status, seq, text: fields.text ?? null, error: null, step: fields.step ?? null });
    try {
      const turns = page.locator('.turn');
      const before = await turns.count();
      await page.getByLabel('Your question').fill('Tell me slowly');
      await page.getByRole('button', { name: 'Send' }).click();
      const turn = turns.nth(before);
      await expect.poll(() => answerId).not.toBe('');
      await publish('ACCEPTED', 1);
      await publish('PROGRESS', 2, { step: 'ValidateContext', text: 'checking your account' });
      await turn.getByText('checking your account').waitFor();
      await publish('PROGRESS', 3, { step: 'InvokeAgent', text: 'Looking up your orders' });
      await turn.getByText('Looking up your orders').waitFor();
      // Chunks are joined in seq order, whatever order they arrive in (the client orders events).
      await publish('CHUNK', 5, { text: 'world.' });
      await publish('CHUNK', 4, { text: 'Hello, ' });
      await expect.poll(() => turn.getByTestId('answer-text').innerText()).toBe('Hello, world.');
      expect(await turn.getAttribute('data-status')).toBe('waiting');
      await screenshot(page, 'chat-streaming-phone');
      await publish('DONE', 1000, { text: 'Hello, world. Done.' });
      await turn.locator('xpath=self::*[@data-status="done"]').waitFor();
      expect(await turn.getByTestId('answer-text').innerText()).toBe('Hello, world. Done.');
      expect(await turn.locator('.progress').count()).toBe(0);
    } finally {
      await page.unroute('**/graphql');
    }
  });

  it('shows an answer holding <img src=...> and markdown images as inert text: nothing is fetched', async () => {
    const page = pages.get('tenant2-user')!;
    const user = stack.user('tenant2-user');
    const html = `<img src="${canaryOrigin}/html.png" onerror="alert(1)">`;
    const markdown = `![receipt](${canaryOrigin}/markdown.png)`;
    const link = `[track](${canaryOrigin}/link)`;
    const doc = DynamoDBDocumentClient.from(new DynamoDBClient(stack.clientConfig('operator')));
    await doc.send(
      new PutCommand({
        TableName: stack.tables.orders('tenant2'),
        Item: { userId: user.sub, orderId: 'ord-20260101-abcdef', orderDate: '2026-01-01', total: 10, status: 'PLACED', items: [html, markdown, link] },
      }),
    );
    doc.destroy();
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    const text = await answerOf(page, 'Which orders did I place?');
    expect(text).toContain(html);
    expect(text).toContain(markdown);
    expect(text).toContain(link);
    expect(await page.locator('.turns img').count()).toBe(0);
    expect(await page.locator('.turns a').count()).toBe(0);
    await page.waitForTimeout(300);
    expect(canaryHits).toEqual([]);
    expect(dialogs).toEqual([]);
    await screenshot(page, 'chat-inert-answer-phone');
  });

  it('refreshes the tokens before they expire and keeps answering', async () => {
    const page = await newPage();
    await page.clock.install();
    await firstSignIn(page, 'tenant1-user2');
    const refreshes: Request[] = [];
    page.on('request', (r) => {
      if (r.method() === 'POST' && (r.postData() ?? '').includes('REFRESH_TOKEN_AUTH')) refreshes.push(r);
    });
    // 59 minutes later, the one-hour ID token is due for its refresh.
    await page.clock.fastForward('59:30');
    await expect.poll(() => refreshes.length).toBe(1);
    expect(await answerOf(page, RETURN_POLICY)).toBe('You can return items within 10 days.');
  });

  it('new conversation clears the turns; sign-out returns to the sign-in form', async () => {
    const page = pages.get('tenant2-user')!;
    expect(await page.locator('.turn').count()).toBeGreaterThan(0);
    await page.getByRole('button', { name: 'New conversation' }).click();
    expect(await page.locator('.turn').count()).toBe(0);
    expect(await page.evaluate('document.activeElement.id')).toBe('prompt');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    expect(await page.getByRole('status').first().innerText()).toBe('You are signed out.');
    expect(await page.getByTestId('tenant').count()).toBe(0);
  });
});

describe('executions view (operators)', () => {
  async function openWithKeys(page: Page, keys: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }) {
    await page.getByLabel('Access key ID').fill(keys.accessKeyId);
    await page.getByLabel('Secret access key').fill(keys.secretAccessKey);
    await page.getByLabel('Session token (temporary credentials only)').fill(keys.sessionToken ?? '');
    await page.getByRole('button', { name: 'Open executions' }).click();
  }

  it('a signed-in store user, their token and their tenant\'s scoped credentials do not open it', async () => {
    const page = pages.get('tenant1-user')!;
    await page.getByRole('link', { name: 'Executions' }).click();
    await page.getByRole('heading', { name: 'Executions: operators only' }).waitFor();
    expect(await page.locator('table.runs').count()).toBe(0);
    // The tenant's scoped credentials (what MintCredentials gives a run): IAM denies Step Functions.
    const sts = new STSClient(stack.clientConfig('mint-credentials'));
    const user = stack.user('tenant1-user');
    const scoped = await assumeTenantRole(
      { tenantId: user.tenantId, userId: user.sub },
      { sts, tenantAccessRoleArn: stack.iam.resources.tenantAccessRoleArn, location: stack.iam.location, tables: stack.tables, durationSeconds: 900 },
    );
    sts.destroy();
    await openWithKeys(page, scoped);
    expect(await page.getByRole('alert').innerText()).toBe('These credentials may not read executions: only the local operator may.');
    await openWithKeys(page, { accessKeyId: 'LOCALNOTAKEY0000', secretAccessKey: 'wrong' });
    await expect.poll(() => page.getByRole('alert').innerText()).toMatch(/does not know this access key/);
    expect(await page.locator('table.runs').count()).toBe(0);
  });

  it('lists executions by status, draws the failed run, and Replay produces a succeeded one', async () => {
    const page = await newPage();
    await page.goto(`${web.url}#/executions`);
    await openWithKeys(page, stack.iam.credentials('operator'));
    await page.locator('table.runs').waitFor();
    await page.getByLabel('Status').selectOption('FAILED');
    await expect.poll(() => page.locator('table.runs tbody tr:not([data-status="FAILED"])').count()).toBe(0);
    expect(await page.locator('table.runs tbody tr[data-status="FAILED"]').count()).toBeGreaterThan(0);
    const failedRow = page.locator('table.runs tbody tr').filter({ hasText: 'tenant1-user' }).first();
    expect(await failedRow.innerText()).toContain('tenant1');
    await screenshot(page, 'executions-failed-list');
    await failedRow.getByRole('link').click();

    await page.getByTestId('state-graph').waitFor();
    const outcome = (state: string) => page.locator(`[data-testid="state-graph"] [data-state="${state}"]`).getAttribute('data-outcome');
    expect(await outcome('ValidateContext')).toBe('succeeded');
    expect(await outcome('MintCredentials')).toBe('succeeded');
    expect(await outcome('InvokeAgent')).toBe('failed');
    expect(await outcome('PublishAnswer')).toBe('not-run');
    expect(await outcome('RecordFailure')).toBe('succeeded');
    expect(await outcome('Failed')).toBe('failed');
    expect(await page.getByTestId('execution-status').innerText()).toBe('FAILED');
    // Selecting a state (keyboard) opens its input, output and timing.
    await page.locator('[data-testid="state-graph"] [data-state="InvokeAgent"]').focus();
    await page.keyboard.press('Enter');
    const details = page.locator('li.state[data-state="InvokeAgent"] details');
    expect(await details.getAttribute('open')).not.toBeNull();
    expect(await details.innerText()).toContain('Input');
    expect(await details.innerText()).toContain('Assistant.AgentFailed');
    await screenshot(page, 'executions-graph-failed');

    const failedUrl = page.url();
    await page.getByRole('button', { name: 'Replay' }).click();
    await expect.poll(() => page.url()).not.toBe(failedUrl);
    await expect.poll(() => page.getByTestId('execution-status').innerText(), { timeout: 15_000 }).toBe('SUCCEEDED');
    expect(await page.getByText('Replay of').count()).toBe(1);
    for (const state of ['ValidateContext', 'MintCredentials', 'InvokeAgent', 'PublishAnswer']) expect(await outcome(state)).toBe('succeeded');
    expect(await outcome('RecordFailure')).toBe('not-run');
    await screenshot(page, 'executions-graph-replayed');
  });
});
