/**
 * The local edge: one HTTP server for every AWS stand-in. It reads the SigV4 credential scope,
 * finds the principal that owns the access key, verifies the signature and the session, and
 * routes the request to the service it is for (see `route`), refusing a scope that names another
 * service as that service's endpoint would. Unsigned, forged or expired requests never reach a
 * service.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { AuthError, AwsError, newRequestId, renderError, type Protocol, type WireResponse } from './aws-error.ts';
import type { Logger } from './log.ts';
import type { LocalIam, Principal } from '../iam/principals.ts';
import { authenticateSigned, parseAuthorization, type IncomingSignedRequest } from './sigv4.ts';
import { BodyTooLargeError, readBody } from './http-body.ts';


export interface EdgeCall {
  principal: Principal;
  body: Buffer;
  headers: Record<string, string>;
  /** `X-Amz-Target` for JSON-protocol services. */
  target: string;
  requestId: string;
  /** HTTP method, for REST services (Bedrock) that route by method and path. */
  method: string;
  /** Path and query as received (`req.url`, still percent-encoded). */
  path: string;
}

/** A call that carries no SigV4 signature, hence no principal (see `anonymousRoute`). */
export type AnonymousEdgeCall = Omit<EdgeCall, 'principal'>;

export interface EdgeService {
  readonly protocol: Protocol;
  handle(call: EdgeCall): Promise<WireResponse>;
  /**
   * Unsigned calls, for a service some of whose operations AWS serves without SigV4 (Cognito's
   * sign-in operations carry a password or a token instead). Only a service that defines this
   * receives them; it decides which operations it serves so, and refuses the others.
   */
  handleAnonymous?(call: AnonymousEdgeCall): Promise<WireResponse>;
}

export interface EdgeOptions {
  iam: LocalIam;
  /** Services by SigV4 signing name (`dynamodb`, `sts`, `kms`, ...). */
  services: Record<string, EdgeService>;
  clock: () => Date;
  logger: Logger;
}

const FALLBACK_JSON: Protocol = { kind: 'json', version: '1.0', errorPrefix: '' };
const FALLBACK_QUERY: Protocol = { kind: 'query', xmlns: 'https://sts.amazonaws.com/doc/2011-06-15/' };
const FALLBACK_REST_JSON: Protocol = { kind: 'rest-json' };

/**
 * The protocol of an error answered before the request is routed (no service known yet, e.g. an
 * unsigned request), read from the request's shape: JSON when it names an X-Amz-Target, the query
 * protocol when it is a form or names an Action (STS), REST-JSON otherwise (Bedrock: the operation
 * is in the method and path).
 */
function unroutedProtocol(target: string, url: string, headers: Record<string, string>): Protocol {
  if (target) return FALLBACK_JSON;
  const form = (headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');
  // A plain test of the raw URL: this runs before the try block, and must not throw on any URL.
  return form || /[?&]Action=/.test(url) ? FALLBACK_QUERY : FALLBACK_REST_JSON;
}

/**
 * For the log: what a request without X-Amz-Target asks. The query protocol's `Action` (in the URL
 * or the form body: STS's AssumeRole), else the method and path without the query string (REST
 * APIs: Bedrock's `/model/<id>/converse-stream`). Paths carry no credentials; query strings may
 * (presigned URLs), so they are left out.
 */
function untargetedOperation(method: string, url: string, headers: Record<string, string>, body: Buffer): string {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const inUrl = q < 0 ? null : new URLSearchParams(url.slice(q + 1)).get('Action');
  if (inUrl) return inUrl;
  if ((headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
    const action = new URLSearchParams(body.toString('utf8')).get('Action');
    if (action) return action;
  }
  return `${method} ${path}`;
}

/**
 * The only unsigned requests the edge routes: Cognito user pool API calls (the SDK sends
 * InitiateAuth, GetUser, ... without SigV4) and a user pool's JWKS. Both go to `cognito-idp`, and
 * only when the request has no Authorization header at all; any other unsigned request is refused
 * with MissingAuthenticationToken, as before.
 */
const COGNITO_IDP = 'cognito-idp';
const COGNITO_TARGET_PREFIX = 'AWSCognitoIdentityProviderService.';
const JWKS_PATH = /^\/[a-z]{2}(?:-[a-z]+)+-\d_[0-9A-Za-z]+\/\.well-known\/jwks\.json$/;

/** The services the JSON protocol's X-Amz-Target names, by the target's API name (`DynamoDB_20120810.GetItem`). */
const TARGET_SERVICES: Readonly<Record<string, string>> = {
  DynamoDB_20120810: 'dynamodb',
  TrentService: 'kms',
  AWSStepFunctions: 'states',
  Logs_20140328: 'logs',
  AmazonSSM: 'ssm',
  AWSCognitoIdentityProviderService: COGNITO_IDP,
  secretsmanager: 'secretsmanager',
};

/** The response headers a page may read: the request id and the error's type and message. */
const EXPOSED_HEADERS = 'x-amzn-requestid, x-amzn-errortype, x-amzn-errormessage, x-amz-request-id, date';

/**
 * The request headers of an unsigned Cognito call from a browser (Amplify: content-type,
 * x-amz-target, x-amz-user-agent, cache-control; the AWS SDK adds its amz-sdk-* headers). A
 * preflight from a foreign origin asking for any other header (authorization, x-amz-date,
 * x-amz-security-token: a signed call) gets no grant.
 */
const PUBLIC_COGNITO_HEADERS: ReadonlySet<string> = new Set(['content-type', 'x-amz-target', 'x-amz-user-agent', 'cache-control', 'amz-sdk-invocation-id', 'amz-sdk-request']);

function anonymousRoute(method: string, url: string, headers: Record<string, string>): string | undefined {
  if (headers.authorization !== undefined) return undefined;
  const target = headers['x-amz-target'];
  if (target !== undefined) return method === 'POST' && target.startsWith(COGNITO_TARGET_PREFIX) ? COGNITO_IDP : undefined;
  return method === 'GET' && JWKS_PATH.test(new URL(url, 'http://edge.local').pathname) ? COGNITO_IDP : undefined;
}

function flatHeaders(headers: http.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(',') : v;
  return out;
}

/**
 * A fault the edge answers instead of the service, for the next `times` authenticated requests to
 * `service` (tests of the workflow's retries and failure path).
 */
export interface EdgeFault {
  service: string;
  code: string;
  status: number;
  message?: string;
  times: number;
}

export class Edge {
  private server?: http.Server;
  private faults: EdgeFault[] = [];
  private readonly browserOrigins = new Set<string>();

  constructor(private readonly options: EdgeOptions) {}

  /** The SigV4 signing names the edge routes (what `AWS_ENDPOINT_URL` reaches). */
  get serviceNames(): string[] {
    return Object.keys(this.options.services);
  }

  /**
   * Lets pages of these origins (the local web UI) call the edge, as AWS endpoints answer CORS for
   * browsers. Only CORS: every request still needs its signature (or is a public Cognito call).
   */
  allowBrowserOrigins(origins: readonly string[]): void {
    for (const o of origins) this.browserOrigins.add(o);
  }

  /**
   * CORS response headers: the UI's origins for every request; any origin for a public Cognito call
   * (`publicCognito`: unsigned, routed to cognito-idp), as cognito-idp's own endpoint answers any
   * page; none for anything else.
   */
  private corsHeaders(origin: string | undefined, publicCognito = false): Record<string, string> | undefined {
    if (!origin) return undefined;
    if (this.browserOrigins.has(origin)) return { 'access-control-allow-origin': origin, 'access-control-expose-headers': EXPOSED_HEADERS, vary: 'origin' };
    return publicCognito ? { 'access-control-allow-origin': '*', 'access-control-expose-headers': EXPOSED_HEADERS } : undefined;
  }

  /**
   * A CORS preflight. The UI's origins get the methods and the requested (token-shaped) headers.
   * Any other origin gets a grant only for what an unsigned Cognito call sends (POST, or GET of a
   * JWKS; no `authorization`, no `x-amz-security-token`): a preflight names no X-Amz-Target, so
   * the headers are what tells a sign-in call from a signed call to another service, which stays
   * refused to foreign pages.
   */
  private preflight(req: http.IncomingMessage, res: http.ServerResponse): void {
    const origin = req.headers.origin;
    const requested = String(req.headers['access-control-request-headers'] ?? '');
    const method = String(req.headers['access-control-request-method'] ?? '');
    const names = requested.split(',').map((h) => h.trim().toLowerCase()).filter(Boolean);
    const wellFormed = /^[\w-]+(\s*,\s*[\w-]+)*$|^$/.test(requested);
    const ui = origin !== undefined && this.browserOrigins.has(origin);
    const publicCognito = !ui && origin !== undefined && (method === 'POST' || method === 'GET') && names.every((h) => PUBLIC_COGNITO_HEADERS.has(h));
    const cors = ui ? this.corsHeaders(origin) : publicCognito ? { 'access-control-allow-origin': '*' } : undefined;
    if (!cors || !wellFormed) {
      res.writeHead(403, { 'content-type': 'text/plain' });
      res.end('CORS origin not allowed');
      return;
    }
    res.writeHead(ui ? 204 : 200, {
      ...cors,
      'access-control-allow-methods': 'GET, POST',
      ...(requested ? { 'access-control-allow-headers': ui ? requested : names.join(', ') } : {}),
      'access-control-max-age': '600',
    });
    res.end();
  }

  injectFault(fault: EdgeFault): void {
    this.faults.push({ ...fault });
  }

  clearFaults(): void {
    this.faults = [];
  }

  private takeFault(service: string): AwsError | undefined {
    const fault = this.faults.find((f) => f.service === service && f.times > 0);
    if (!fault) return undefined;
    fault.times--;
    return new AwsError(fault.code, fault.message ?? `Injected fault: ${fault.code}`, fault.status);
  }

  /**
   * The service a signed request is for. On AWS the endpoint's host fixes it, and a signature
   * scoped to any other service is refused there (InvalidSignatureException, "Credential should be
   * scoped to correct service: 'dynamodb'"). The edge is one host for every service, so the
   * request's shape stands in for the host: its X-Amz-Target's API (JSON protocol), else the one
   * service here that speaks its protocol (STS's query forms, Bedrock's REST paths). When the shape
   * names no service, the credential scope decides.
   */
  private route(target: string, shape: Protocol['kind'], scope: string): string {
    if (target) {
      const api = target.split('.')[0] ?? '';
      const named = Object.hasOwn(TARGET_SERVICES, api) ? TARGET_SERVICES[api] : undefined;
      return named !== undefined && this.handler(named) ? named : scope;
    }
    if (this.handler(scope)?.protocol.kind === shape) return scope;
    const speakers = Object.keys(this.options.services).filter((name) => this.handler(name)?.protocol.kind === shape);
    return speakers.length === 1 ? speakers[0]! : scope;
  }

  /** The service by signing name; own properties only, so that a scope naming `constructor` is no service. */
  private handler(service: string): EdgeService | undefined {
    return Object.hasOwn(this.options.services, service) ? this.options.services[service] : undefined;
  }

  async listen(port: number, host = '127.0.0.1'): Promise<string> {
    this.server = http.createServer((req, res) => void this.serve(req, res));
    this.server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, host, () => resolve());
    });
    const address = this.server.address() as AddressInfo;
    return `http://${host}:${address.port}`;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (req.method === 'OPTIONS' && req.headers['access-control-request-method']) return this.preflight(req, res);
    const started = performance.now();
    const requestId = newRequestId();
    const headers = flatHeaders(req.headers);
    const target = headers['x-amz-target'] ?? '';
    let protocol = unroutedProtocol(target, req.url ?? '/', headers);
    let service = '';
    let operation = target;
    let principalArn: string | undefined;
    let publicCognito = false;
    let response: WireResponse;
    try {
      const body = await readBody(req).catch((err: unknown) => {
        throw err instanceof BodyTooLargeError ? new AwsError('RequestEntityTooLarge', err.message, 413) : err;
      });
      if (!operation) operation = untargetedOperation(req.method ?? 'GET', req.url ?? '/', headers, body);
      const signed: IncomingSignedRequest = { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body };
      const anonymous = anonymousRoute(signed.method, signed.url, headers);
      const publicHandler = anonymous === undefined ? undefined : this.handler(anonymous);
      if (anonymous !== undefined && publicHandler?.handleAnonymous) {
        service = anonymous;
        publicCognito = anonymous === COGNITO_IDP;
        protocol = publicHandler.protocol;
        response = await publicHandler.handleAnonymous({ body, headers, target, requestId, method: signed.method, path: signed.url });
      } else {
        const auth = parseAuthorization(signed);
        service = this.route(target, protocol.kind, auth.service);
        const handler = this.handler(service);
        if (!handler) throw new AwsError('UnknownServiceException', `The local edge has no service named '${service}'.`, 400);
        protocol = handler.protocol;
        const principal = await authenticateSigned(signed, auth, {
          service,
          region: this.options.iam.location.region,
          now: this.options.clock(),
          resolve: (key, token, now) => this.options.iam.resolve(key, token, now),
        });
        principalArn = principal.arn;
        const fault = this.takeFault(service);
        if (fault) throw fault;
        response = await handler.handle({ principal, body, headers, target, requestId, method: signed.method, path: signed.url });
      }
    } catch (err) {
      const error =
        err instanceof AuthError
          ? err.toAwsError(protocol)
          : err instanceof AwsError
            ? err
            : new AwsError('InternalFailure', 'The request processing has failed because of an unknown error.', 500);
      if (!(err instanceof AuthError) && !(err instanceof AwsError)) {
        this.options.logger.log('error', 'edge.internal_error', { service, error: err instanceof Error ? err.message : String(err) });
      }
      response = renderError(protocol, error, requestId);
    }
    // A body refused for its size was not read to the end: close the connection after the answer.
    const close = response.status === 413 ? { connection: 'close' } : {};
    res.writeHead(response.status, { ...response.headers, 'x-amzn-requestid': requestId, ...this.corsHeaders(req.headers.origin, publicCognito), ...close });
    if (response.stream) await writeStream(res, response.body, response.stream);
    else res.end(response.body);
    this.options.logger.log('debug', 'edge.request', {
      requestId,
      service,
      operation: operation || undefined,
      principal: principalArn,
      status: response.status,
      errorType: response.headers['x-amzn-errortype'],
      ms: Math.round((performance.now() - started) * 100) / 100,
    });
  }
}

/** Writes a streamed body part by part; a producer that fails cuts the response off, as a broken connection would. */
async function writeStream(res: http.ServerResponse, head: string | Buffer, stream: AsyncIterable<Uint8Array>): Promise<void> {
  try {
    if (head.length > 0) res.write(head);
    for await (const part of stream) {
      if (res.destroyed) return;
      res.write(part);
    }
    res.end();
  } catch {
    res.destroy();
  }
}
