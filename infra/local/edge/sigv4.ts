/**
 * SigV4 verification for the edge. The canonical request and signature are computed by
 * `@smithy/signature-v4` (the same signer the SDK uses) over exactly the headers the client signed,
 * and compared in constant time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { AuthError } from './aws-error.ts';

/** AWS accepts a request signed up to five minutes before or after its own clock. */
export const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;

export interface ParsedAuthorization {
  accessKeyId: string;
  shortDate: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
}

export interface IncomingSignedRequest {
  method: string;
  /** Path and query as received (`req.url`). */
  url: string;
  /** Lower-case header names, as Node gives them. */
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

const AUTH_PATTERN =
  /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;_.-]+),\s*Signature=([0-9a-f]{64})$/;

function header(req: IncomingSignedRequest, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/** Reads the credential scope; the edge routes on its service name before it knows the secret. */
export function parseAuthorization(req: IncomingSignedRequest): ParsedAuthorization {
  const auth = header(req, 'authorization');
  if (!auth) throw new AuthError('MissingAuthenticationToken');
  const match = AUTH_PATTERN.exec(auth.trim());
  if (!match) {
    throw new AuthError(
      'IncompleteSignature',
      `Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters of AWS4-HMAC-SHA256.`,
    );
  }
  const [, accessKeyId, shortDate, region, service, signedHeaders, signature] = match as unknown as string[];
  return {
    accessKeyId: accessKeyId!,
    shortDate: shortDate!,
    region: region!,
    service: service!,
    signedHeaders: signedHeaders!.split(';'),
    signature: signature!,
  };
}

function parseAmzDate(value: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as number[];
  return new Date(Date.UTC(y!, mo! - 1, d!, h!, mi!, s!));
}

function amzDate(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

/**
 * Verifies the signature of `req` made with `secretAccessKey`, and its date against `now`.
 * Throws AuthError('InvalidSignature' | 'SignatureExpired' | 'IncompleteSignature').
 */
export async function verifySignature(
  req: IncomingSignedRequest,
  auth: ParsedAuthorization,
  secretAccessKey: string,
  now: Date,
): Promise<void> {
  if (!auth.signedHeaders.includes('host')) {
    throw new AuthError('InvalidSignature', `'Host' must be a 'SignedHeader' in the AWS Authorization.`);
  }
  const dateHeader = header(req, 'x-amz-date');
  if (!dateHeader) throw new AuthError('IncompleteSignature');
  const signingDate = parseAmzDate(dateHeader);
  if (!signingDate) throw new AuthError('IncompleteSignature', `X-Amz-Date must be in the ISO8601 Long Format: ${dateHeader}`);
  if (!auth.signedHeaders.includes('x-amz-date')) {
    throw new AuthError('InvalidSignature', `'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.`);
  }
  if (dateHeader.slice(0, 8) !== auth.shortDate) {
    throw new AuthError(
      'InvalidSignature',
      `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${auth.shortDate}' != '${dateHeader.slice(0, 8)}'`,
    );
  }
  const skew = signingDate.getTime() - now.getTime();
  if (skew < -MAX_CLOCK_SKEW_MS) {
    throw new AuthError(
      'SignatureExpired',
      `Signature expired: ${dateHeader} is now earlier than ${amzDate(new Date(now.getTime() - MAX_CLOCK_SKEW_MS))} (${amzDate(now)} - 5 min.)`,
    );
  }
  if (skew > MAX_CLOCK_SKEW_MS) {
    throw new AuthError(
      'SignatureExpired',
      `Signature not yet current: ${dateHeader} is still later than ${amzDate(new Date(now.getTime() + MAX_CLOCK_SKEW_MS))} (${amzDate(now)} + 5 min.)`,
    );
  }

  const bodyHash = createHash('sha256').update(req.body).digest('hex');
  const declaredHash = header(req, 'x-amz-content-sha256');
  // No service behind the edge accepts an unsigned payload (only S3 does): the body is always signed.
  if (declaredHash !== undefined && declaredHash !== bodyHash) {
    throw new AuthError('InvalidSignature', 'The provided x-amz-content-sha256 header does not match what was computed.');
  }

  const headers: Record<string, string> = {};
  for (const name of auth.signedHeaders) {
    const value = header(req, name);
    if (value === undefined) throw new AuthError('InvalidSignature', `Signed header '${name}' is missing from the request.`);
    headers[name] = value;
  }
  const url = new URL(req.url, 'http://edge.local');
  const query: Record<string, string | string[]> = {};
  for (const [k, v] of url.searchParams) {
    const prev = query[k];
    query[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  const signer = new SignatureV4({
    credentials: { accessKeyId: auth.accessKeyId, secretAccessKey },
    region: auth.region,
    service: auth.service,
    sha256: Hash.bind(null, 'sha256'),
    applyChecksum: false,
  });
  const request = new HttpRequest({
    method: req.method,
    protocol: 'http:',
    hostname: 'edge.local',
    path: url.pathname,
    query,
    headers: { ...headers, 'x-amz-content-sha256': declaredHash ?? bodyHash },
    body: req.body,
  });
  // The payload hash travels in a header we add only for the signer; drop it from the signed set
  // unless the client signed it itself.
  const signableHeaders = new Set(auth.signedHeaders);
  const unsignableHeaders = signableHeaders.has('x-amz-content-sha256') ? undefined : new Set(['x-amz-content-sha256']);
  const signed = await signer.sign(request, {
    signingDate,
    signingRegion: auth.region,
    signingService: auth.service,
    signableHeaders,
    ...(unsignableHeaders ? { unsignableHeaders } : {}),
  });
  const computed = /Signature=([0-9a-f]{64})$/.exec(String(signed.headers.authorization))?.[1] ?? '';
  const a = Buffer.from(computed, 'hex');
  const b = Buffer.from(auth.signature, 'hex');
  if (a.length !== b.length || !timingSafeEqual(a, b)) throw new AuthError('InvalidSignature');
}

/** Who owns an access key, as the local IAM answers it (after checking the session token). */
export type KeyResolver<P> = (accessKeyId: string, sessionToken: string | undefined, now: Date) => { secretAccessKey: string; principal: P };

/**
 * The whole SigV4 check of a caller, for every local server: the credential scope's region (and
 * service, when the server is one service), the key and its session token, then the signature
 * and its date. Returns the principal; throws AuthError.
 */
export async function authenticateSigned<P>(
  req: IncomingSignedRequest,
  auth: ParsedAuthorization,
  options: { region: string; service?: string; now: Date; resolve: KeyResolver<P> },
): Promise<P> {
  if (options.service !== undefined && auth.service !== options.service) {
    throw new AuthError('InvalidSignature', `Credential should be scoped to correct service: '${options.service}'.`);
  }
  if (auth.region !== options.region) {
    throw new AuthError('InvalidSignature', `Credential should be scoped to a valid region, not '${auth.region}'.`);
  }
  const { secretAccessKey, principal } = options.resolve(auth.accessKeyId, header(req, 'x-amz-security-token'), options.now);
  await verifySignature(req, auth, secretAccessKey, options.now);
  return principal;
}
