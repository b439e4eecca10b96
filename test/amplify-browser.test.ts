/**
 * A team's own Amplify v6 app in a browser, on its own origin, against the local stack: the page
 * (test/fixtures/amplify-browser.html + amplify-browser-app.ts, bundled here with esbuild) is served
 * from http://localhost:<port> with the stack's amplify_outputs.json, an origin that is neither the
 * edge's nor AppSync's; so every sign-in call and GraphQL call it makes is a CORS request that the
 * browser lets through only on the stand-ins' CORS answers (test/cors.test.ts). Chromium trusts the
 * HTTPS endpoint's certificate by its key alone (--ignore-certificate-errors-spki-list), never by
 * ignoring certificate errors.
 *
 * Controls: another user's subscription to the answer is refused in the browser too; in the same
 * page, a request to AppSync with a header outside AppSync's list is blocked by the browser while
 * the same request without it is read (so the browser does enforce CORS against these endpoints);
 * a page trusting no key cannot reach the HTTPS endpoint.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, screenshot } from './browser.ts';
import { startLocalStack, type LocalStack } from '../infra/local/stack.ts';
import { CERT_FILE } from '../infra/local/tls.ts';

const FIXTURES = path.join(import.meta.dirname, 'fixtures');
const NEW_PASSWORD = 'Correct-Horse-Battery-9!';

let dataDir: string;
let stack: LocalStack;
let site: http.Server;
let pageOrigin: string;
let browser: Browser;

/** The page's own origin: the HTML, the bundle and the stack's outputs file, nothing else. */
async function serveApp(): Promise<http.Server> {
  const bundle = await build({
    entryPoints: [path.join(FIXTURES, 'amplify-browser-app.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'chrome120',
    write: false,
    logLevel: 'silent',
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  const files: Record<string, { type: string; body: string | Uint8Array }> = {
    '/': { type: 'text/html', body: await readFile(path.join(FIXTURES, 'amplify-browser.html'), 'utf8') },
    '/app.js': { type: 'text/javascript', body: bundle.outputFiles[0]!.contents },
    '/amplify_outputs.json': { type: 'application/json', body: await readFile(stack.amplifyOutputsFile!, 'utf8') },
  };
  const server = http.createServer((req, res) => {
    const file = files[new URL(req.url ?? '/', 'http://page.local').pathname];
    res.writeHead(file ? 200 : 404, { 'content-type': file?.type ?? 'text/plain' });
    res.end(file?.body ?? 'not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

/** base64(SHA-256(SubjectPublicKeyInfo)) of the HTTPS endpoint's certificate: what Chromium's SPKI list names. */
async function certificateKeyHash(): Promise<string> {
  const cert = new X509Certificate(await readFile(path.join(path.dirname(stack.tls.caFile), CERT_FILE)));
  return createHash('sha256').update(cert.publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
}

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'assistant-amplify-browser-'));
  stack = await startLocalStack({ port: 0, dataDir, seedOrdersPerUser: 0, retryIntervalOverrides: 0 });
  site = await serveApp();
  pageOrigin = `http://localhost:${(site.address() as AddressInfo).port}`;
  browser = await launchBrowser([`--ignore-certificate-errors-spki-list=${await certificateKeyHash()}`]);
});

afterAll(async () => {
  await browser?.close();
  if (site) await new Promise<void>((resolve) => site.close(() => resolve()));
  await stack?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** A fresh browser profile's page of the app, configured (its "ready" line shown). */
async function openApp(): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${pageOrigin}/?userPoolEndpoint=${encodeURIComponent(stack.edgeUrl)}`);
  await page.locator('#ready, #error').first().waitFor();
  expect(await page.locator('#error').count(), await page.locator('#log').innerText()).toBe(0);
  return page;
}

async function fillSignIn(page: Page, username: string): Promise<void> {
  await page.fill('#username', username);
  await page.fill('#password', stack.cognito.temporaryPasswords()[username]!);
  await page.fill('#new-password', NEW_PASSWORD);
}

describe('an Amplify app in a browser, on its own origin', () => {
  let answerId: string | undefined;

  it('runs on an origin that is neither the edge nor AppSync, and Chromium trusts only the endpoint certificate key', () => {
    const origins = new Set([pageOrigin, new URL(stack.edgeUrl).origin, new URL(stack.graphqlHttpsUrl).origin]);
    expect(origins.size).toBe(3);
    expect(stack.graphqlHttpsUrl).toMatch(/^https:/);
  });

  it("signs in (USER_PASSWORD_AUTH, new password), subscribes over WSS, waits for the ack, asks, and shows ACCEPTED ... DONE with its store's answer", async () => {
    const page = await openApp();
    await fillSignIn(page, 'tenant1-user');
    await page.click('#ask');
    await page.locator('#events li[data-status="DONE"], #events li[data-status="FAILED"], #error').first().waitFor();
    await screenshot(page, 'amplify-browser-done');
    expect(await page.locator('#error').count(), await page.locator('#log').innerText()).toBe(0);

    const sub = await page.locator('#signed-in').getAttribute('data-sub');
    expect(sub).toBe(stack.user('tenant1-user').sub);
    answerId = (await page.locator('#subscribed').getAttribute('data-answer-id')) ?? undefined;
    expect(answerId).toMatch(new RegExp(`^${sub}\\.`));
    expect(await page.locator('#asked').getAttribute('data-answer-id')).toBe(answerId);

    const events = await page.locator('#events li').evaluateAll((lis) =>
      lis.map((li) => {
        const el = li as unknown as { dataset: Record<string, string>; textContent: string };
        return { status: el.dataset.status, seq: Number(el.dataset.seq), answerId: el.dataset.answerId, userId: el.dataset.userId, text: el.textContent };
      }),
    );
    expect(events[0]).toMatchObject({ status: 'ACCEPTED' });
    expect(events.at(-1)).toMatchObject({ status: 'DONE' });
    // Tenant One Outfitters' policy (tasks/seed.ts: 10 days), never another store's.
    expect(events.at(-1)!.text).toContain('10 days');
    for (const e of events) expect(e).toMatchObject({ answerId, userId: sub });
    expect(events.map((e) => e.seq)).toEqual([...events.map((e) => e.seq)].sort((a, b) => a - b));
    await page.context().close();
  });

  it("refuses another user's subscription to that answer in the browser too (control: its owner's was acknowledged above)", async () => {
    expect(answerId).toBeDefined();
    const page = await openApp();
    await fillSignIn(page, 'tenant2-user');
    await page.fill('#answer-id', answerId!);
    await page.click('#subscribe');
    await page.locator('#refused, #subscribed, #error').first().waitFor();
    expect(await page.locator('#signed-in').count()).toBe(1);
    expect(await page.locator('#subscribed').count()).toBe(0);
    expect(await page.locator('#refused').innerText()).toMatch(/Unauthorized|Not Authorized/i);
    await page.context().close();
  });

  it("control: the browser enforces CORS on these endpoints: from the page, a header outside AppSync's list is blocked; without it the answer is read", async () => {
    const page = await openApp();
    const post = (headers: Record<string, string>) =>
      page.evaluate(
        async ({ url, headers }) => {
          try {
            const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{"query":"{ me }"}' });
            return `status ${res.status}`;
          } catch (err) {
            return `blocked: ${(err as Error).name}`;
          }
        },
        { url: stack.graphqlHttpsUrl, headers },
      );
    expect(await post({ authorization: 'not-a-token' })).toBe('status 401');
    expect(await post({ authorization: 'not-a-token', 'sentry-trace': '0123' })).toBe('blocked: TypeError');
    // The edge: a sign-in call is read; a call shaped for another service (signed headers) is not.
    const edge = (headers: Record<string, string>) =>
      page.evaluate(
        async ({ url, headers }) => {
          try {
            const res = await fetch(url, { method: 'POST', headers, body: '{}' });
            return `status ${res.status}`;
          } catch (err) {
            return `blocked: ${(err as Error).name}`;
          }
        },
        { url: stack.edgeUrl, headers },
      );
    expect(await edge({ 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AWSCognitoIdentityProviderService.InitiateAuth' })).toBe('status 400');
    expect(await edge({ 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'DynamoDB_20120810.ListTables', authorization: 'AWS4-HMAC-SHA256 Credential=x' })).toBe('blocked: TypeError');
    await page.context().close();
  });

  it('control: a browser that trusts no key for the endpoint cannot reach it (the certificate was verified above)', async () => {
    const untrusting = await launchBrowser();
    try {
      const page = await untrusting.newPage();
      await page.goto(`${pageOrigin}/?userPoolEndpoint=${encodeURIComponent(stack.edgeUrl)}`);
      await page.locator('#ready').waitFor();
      const result = await page.evaluate(async (url) => {
        try {
          const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
          return `status ${res.status}`;
        } catch (err) {
          return `blocked: ${(err as Error).name}`;
        }
      }, stack.graphqlHttpsUrl);
      expect(result).toBe('blocked: TypeError');
    } finally {
      await untrusting.close();
    }
  });
});
