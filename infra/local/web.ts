/**
 * The web UI on the local AppSync port (http://localhost:3000): the built files, and `config.json`
 * with this stack's endpoints. The UI signs in against the Cognito stand-in and, in the executions
 * view, signs Step Functions calls with the operator's keys: both go to the edge, which therefore
 * answers CORS for the UI's origins (and only for them).
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { buildWebUi, cachedWebUi, webSourceHash } from '../../client/web/build.ts';
import type { WebConfig } from '../../client/web/src/config.ts';
import type { SiteHandler } from './services/appsync/graphql.ts';
import type { Logger } from './edge/log.ts';
import type { LocalStack } from './stack.ts';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};

/** The local UI's config: same-origin GraphQL, Cognito and the operator's Step Functions, DynamoDB and Cognito calls on the edge. */
export function localWebConfig(stack: LocalStack): WebConfig {
  const region = stack.iam.location.region;
  return {
    mode: 'local',
    region,
    userPool: { clientId: stack.cognito.clientId, endpoint: stack.edgeUrl },
    graphqlUrl: '/graphql',
    realtimeUrl: '/graphql/realtime',
    operator: {
      endpoint: stack.edgeUrl,
      region,
      stateMachineArn: stack.iam.resources.stateMachineArn,
      runsTable: stack.tables.runs,
      configTable: stack.tables.config,
      tablePrefix: stack.tables.prefix,
      userPoolId: stack.cognito.poolId,
    },
  };
}

/** The UI's origins for a server listening at `url` (both loopback names). */
export function uiOrigins(url: string): string[] {
  const { port, protocol } = new URL(url);
  return [`${protocol}//localhost:${port}`, `${protocol}//127.0.0.1:${port}`];
}

/** The loopback names a local server answers to: a URL on one of them is reachable on both. */
const LOOPBACK = ['localhost', '127.0.0.1'];

/**
 * The page's Content-Security-Policy, built from the stack's configured endpoints only (never from
 * a request's headers): the realtime socket (on both loopback names, as the UI is served on both)
 * and the edge's origin, besides the page's own origin.
 */
export function contentSecurityPolicy(endpoints: { realtimeUrl: string; edgeUrl: string }): string {
  const realtime = new URL(endpoints.realtimeUrl);
  const hosts = LOOPBACK.includes(realtime.hostname) ? LOOPBACK : [realtime.hostname];
  const sockets = hosts.map((h) => `${realtime.protocol}//${h}${realtime.port ? `:${realtime.port}` : ''}${realtime.pathname}`);
  const connect = ["'self'", ...sockets, new URL(endpoints.edgeUrl).origin].join(' ');
  return `default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src ${connect}; frame-ancestors 'none'; base-uri 'none'; form-action 'none'; object-src 'none'`;
}

/** The headers every UI response carries, the same for every request: remote images, frames and foreign scripts are refused outright. */
function securityHeaders(endpoints: { realtimeUrl: string; edgeUrl: string }): Record<string, string> {
  return {
    'content-security-policy': contentSecurityPolicy(endpoints),
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cross-origin-opener-policy': 'same-origin',
  };
}

export interface StaticSiteOptions {
  /** The built UI's folder, or a promise of it while it builds. */
  dir: string | Promise<string>;
  config: WebConfig;
  /** The stack's realtime WebSocket URL (`ws://127.0.0.1:3000/graphql/realtime`). */
  realtimeUrl: string;
  /** The stack's edge URL (Cognito and the operator's Step Functions calls). */
  edgeUrl: string;
  logger: Logger;
}

/** Serves GET/HEAD for the UI; answers false for anything else (the caller's 404). */
export function staticSite(options: StaticSiteOptions): SiteHandler {
  let dir: string | undefined = typeof options.dir === 'string' ? options.dir : undefined;
  let failure: string | undefined;
  if (typeof options.dir !== 'string') {
    options.dir.then(
      (d) => (dir = d),
      (err: unknown) => {
        failure = (err as Error).message;
        options.logger.log('error', 'web.build_failed', { error: failure });
      },
    );
  }
  const headers = securityHeaders(options);
  const serve: SiteHandler = async (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const url = new URL(req.url ?? '/', 'http://local');
    const send = (status: number, type: string, body: string | Buffer, cache = 'no-cache') => {
      res.writeHead(status, { ...headers, 'content-type': type, 'cache-control': cache, 'content-length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
      return true;
    };
    if (url.pathname === '/config.json') return send(200, TYPES['.json']!, JSON.stringify(options.config), 'no-store');
    if (!dir) {
      const text = failure ? `The web UI failed to build: ${failure}` : 'The web UI is being built; this page reloads in a moment.';
      return send(failure ? 500 : 503, TYPES['.html']!, `<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="2"><title>Store assistant</title><p>${escapeHtml(text)}</p>`, 'no-store');
    }
    let relative: string;
    try {
      relative = decodeURIComponent(url.pathname);
    } catch {
      return send(400, TYPES['.txt']!, 'Bad path');
    }
    if (relative === '/' || relative === '') relative = '/index.html';
    const file = path.resolve(dir, `.${relative}`);
    if (!file.startsWith(dir + path.sep)) return send(404, TYPES['.txt']!, 'Not found');
    const ext = path.extname(file);
    const found = await stat(file).then((s) => s.isFile(), () => false);
    if (!found) {
      // Unknown paths without an extension are the app's (hash routes keep this rare).
      if (ext) return send(404, TYPES['.txt']!, 'Not found');
      return send(200, TYPES['.html']!, await readFile(path.join(dir, 'index.html')));
    }
    const immutable = relative.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache';
    return send(200, TYPES[ext] ?? 'application/octet-stream', await readFile(file), immutable);
  };
  return async (req, res) => {
    try {
      return await serve(req, res);
    } catch (err) {
      options.logger.log('error', 'web.serve_failed', { path: req.url, error: (err as Error).message });
      if (!res.headersSent) res.writeHead(500, { 'content-type': TYPES['.txt']! });
      res.end('The web UI could not be served.');
      return true;
    }
  };
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export interface WebUi {
  /** The UI's address: `http://localhost:<port>/`. */
  url: string;
  /** Resolves once the UI is built (at once when a cached build exists). */
  ready: Promise<string>;
  /** False when a cached build was served from the start. */
  building: boolean;
}

/**
 * Serves the web UI from the stack's AppSync port and lets its origins call the edge. Uses the
 * cached build of the current sources, or builds it in the background (the page says so meanwhile).
 */
export function attachWebUi(stack: LocalStack, options: { dir?: string; logger: Logger }): WebUi {
  const hash = options.dir ? undefined : webSourceHash();
  const cached = options.dir ?? cachedWebUi(undefined, hash);
  const ready = cached
    ? Promise.resolve(cached)
    : buildWebUi({ ...(hash ? { hash } : {}) }).then((b) => {
        options.logger.log('info', 'web.built', { ms: b.ms });
        return b.dir;
      });
  stack.appsync.serveSite(staticSite({ dir: cached ?? ready, config: localWebConfig(stack), realtimeUrl: stack.realtimeUrl, edgeUrl: stack.edgeUrl, logger: options.logger }));
  stack.edge.allowBrowserOrigins(uiOrigins(stack.graphqlUrl));
  return { url: `http://localhost:${new URL(stack.graphqlUrl).port}/`, ready, building: !cached };
}
