/**
 * The web UI's server side: the static site on the AppSync port (config.json, security headers,
 * no path escapes, the page shown while building) and CORS at the edge for the UI's origins only.
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from './edge/log.ts';
import { startLocalStack, type LocalStack } from './stack.ts';
import type { SiteHandler } from './services/appsync/graphql.ts';
import { attachWebUi, contentSecurityPolicy, localWebConfig, staticSite, uiOrigins } from './web.ts';

let dir: string;
let stack: LocalStack;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'web-ui-'));
  await mkdir(path.join(dir, 'assets'));
  await writeFile(path.join(dir, 'index.html'), '<!doctype html><title>ui</title>');
  await writeFile(path.join(dir, 'assets', 'app-1234.js'), 'console.log(1)');
  stack = await startLocalStack({ port: 0, seedOrdersPerUser: 0 });
  attachWebUi(stack, { dir, logger: silentLogger });
});

afterAll(async () => {
  await stack?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** A server for one site handler (404 for what it declines). */
async function serve(site: SiteHandler): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    void site(req, res).then((served) => {
      if (!served) res.writeHead(404).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('the UI on the AppSync port', () => {
  const base = () => new URL(stack.graphqlUrl).origin;

  it('serves index.html with a policy that refuses remote images, scripts and frames', async () => {
    const res = await fetch(`${base()}/`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('<title>ui</title>');
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toContain("img-src 'self' data:");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    const port = new URL(stack.graphqlUrl).port;
    expect(csp).toContain(`connect-src 'self' ws://localhost:${port}/graphql/realtime ws://127.0.0.1:${port}/graphql/realtime ${stack.edgeUrl};`);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('builds the policy from the configured endpoints only: a forged Host header changes nothing', async () => {
    const get = (host?: string) =>
      new Promise<http.IncomingMessage>((resolve, reject) => {
        const { hostname, port } = new URL(base());
        http.get({ hostname, port, path: '/', headers: host === undefined ? {} : { host } }, resolve).on('error', reject);
      });
    const configured = contentSecurityPolicy({ realtimeUrl: stack.realtimeUrl, edgeUrl: stack.edgeUrl });
    // Control: the normal page carries the policy of the configured endpoints.
    const normal = await get();
    normal.resume();
    expect(normal.statusCode).toBe(200);
    expect(normal.headers['content-security-policy']).toBe(configured);
    for (const forged of ['evil.example', 'evil.example:443', 'localhost:1']) {
      const res = await get(forged);
      res.resume();
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-security-policy']).toBe(configured);
      expect(res.headers['content-security-policy']).not.toContain(forged);
    }
  });

  it('names a non-loopback realtime host alone, with its path, and the edge by origin', () => {
    expect(contentSecurityPolicy({ realtimeUrl: 'wss://api.example.com/graphql/realtime', edgeUrl: 'https://edge.example.com/x' })).toContain(
      "connect-src 'self' wss://api.example.com/graphql/realtime https://edge.example.com;",
    );
  });

  it('serves config.json with this stack\'s endpoints (same-origin GraphQL, Cognito and operator calls at the edge)', async () => {
    const res = await fetch(`${base()}/config.json`);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.json()).toEqual(localWebConfig(stack));
    expect(localWebConfig(stack)).toMatchObject({ graphqlUrl: '/graphql', userPool: { endpoint: stack.edgeUrl }, operator: { endpoint: stack.edgeUrl } });
  });

  it('caches hashed assets, refuses paths outside the build, and leaves POST /graphql to AppSync', async () => {
    expect((await fetch(`${base()}/assets/app-1234.js`)).headers.get('cache-control')).toContain('immutable');
    expect((await fetch(`${base()}/assets/missing.js`)).status).toBe(404);
    expect((await fetch(`${base()}/%2e%2e/%2e%2e/package.json`)).status).toBe(404);
    const graphql = await fetch(stack.graphqlUrl, { method: 'POST', body: '{"query":"{ me }"}', headers: { 'content-type': 'application/json' } });
    expect(graphql.status).toBe(401);
  });

  it('says the UI is being built until it is, and why when the build failed', async () => {
    let finish!: (dir: string) => void;
    const building = serve(staticSite({ dir: new Promise<string>((resolve) => (finish = resolve)), config: localWebConfig(stack), realtimeUrl: stack.realtimeUrl, edgeUrl: stack.edgeUrl, logger: silentLogger }));
    const failed = serve(staticSite({ dir: Promise.reject(new Error('vite said no')), config: localWebConfig(stack), realtimeUrl: stack.realtimeUrl, edgeUrl: stack.edgeUrl, logger: silentLogger }));
    const [a, b] = await Promise.all([building, failed]);
    try {
      const waiting = await fetch(`${a.url}/`);
      expect(waiting.status).toBe(503);
      expect(await waiting.text()).toContain('being built');
      expect((await fetch(`${a.url}/config.json`)).status).toBe(200);
      finish(dir);
      await new Promise((r) => setTimeout(r, 0));
      expect((await fetch(`${a.url}/`)).status).toBe(200);
      const broken = await fetch(`${b.url}/`);
      expect(broken.status).toBe(500);
      expect(await broken.text()).toContain('vite said no');
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

describe('CORS at the edge', () => {
  const origin = () => uiOrigins(stack.graphqlUrl)[0]!;
  const preflight = (from: string) =>
    fetch(stack.edgeUrl, {
      method: 'OPTIONS',
      headers: { origin: from, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type,x-amz-date,x-amz-target' },
    });
  const initiateAuth = (from: string) =>
    fetch(stack.edgeUrl, {
      method: 'POST',
      headers: { origin: from, 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AWSCognitoIdentityProviderService.InitiateAuth' },
      body: JSON.stringify({ AuthFlow: 'USER_PASSWORD_AUTH', ClientId: stack.cognito.clientId, AuthParameters: { USERNAME: 'tenant1-user', PASSWORD: 'wrong-Password-1!' } }),
    });

  it('answers the UI\'s preflights with the requested headers, and refuses other origins', async () => {
    expect(uiOrigins(stack.graphqlUrl)).toEqual([origin(), `http://127.0.0.1:${new URL(stack.graphqlUrl).port}`]);
    const ok = await preflight(origin());
    expect(ok.status).toBe(204);
    expect(ok.headers.get('access-control-allow-origin')).toBe(origin());
    expect(ok.headers.get('access-control-allow-headers')).toBe('authorization,content-type,x-amz-date,x-amz-target');
    const other = await preflight('http://evil.example');
    expect(other.status).toBe(403);
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('lets the UI read responses (and error codes); another origin only the public Cognito calls (test/cors.test.ts)', async () => {
    const ok = await initiateAuth(origin());
    expect(ok.status).toBe(400);
    expect(ok.headers.get('access-control-allow-origin')).toBe(origin());
    expect(ok.headers.get('access-control-expose-headers')).toContain('x-amzn-errortype');
    expect(((await ok.json()) as { __type: string }).__type).toContain('NotAuthorizedException');
    // Sign-in answers any page, as cognito-idp does; a call to another service does not.
    const other = await initiateAuth('http://evil.example');
    expect(other.headers.get('access-control-allow-origin')).toBe('*');
    const otherService = await fetch(stack.edgeUrl, {
      method: 'POST',
      headers: { origin: 'http://evil.example', 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'AWSStepFunctions.ListExecutions' },
      body: '{}',
    });
    expect(otherService.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('still requires a signature: CORS opens nothing by itself', async () => {
    const res = await fetch(stack.edgeUrl, {
      method: 'POST',
      headers: { origin: origin(), 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'AWSStepFunctions.ListExecutions' },
      body: JSON.stringify({ stateMachineArn: stack.iam.resources.stateMachineArn }),
    });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.headers.get('access-control-allow-origin')).toBe(origin());
  });
});
