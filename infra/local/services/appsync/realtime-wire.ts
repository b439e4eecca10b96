/** Parsing helpers of the realtime endpoint's handshake and messages (realtime.ts). */
import type http from 'node:http';
import type { RawData } from 'ws';

export function errorTypeOf(err: unknown): string | undefined {
  const t = (err as { errorType?: unknown } | null)?.errorType;
  return typeof t === 'string' && t ? t : undefined;
}

export function errorCodeOf(err: unknown): number | undefined {
  const c = (err as { errorCode?: unknown } | null)?.errorCode;
  return typeof c === 'number' ? c : undefined;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Decodes base64 or base64url (a `+` turned into a space by query-string decoding is restored) JSON. */
export function decodeBase64Json(value: string): unknown {
  const normalized = value.trim().replace(/ /g, '+');
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(normalized)) throw new Error('not base64');
  return JSON.parse(Buffer.from(normalized, 'base64').toString('utf8')) as unknown;
}

export function stringHeaders(v: unknown): Record<string, string> | undefined {
  if (!isPlainObject(v)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) if (typeof val === 'string') out[k] = val;
  return out;
}

/** Header-based handshake: `Sec-WebSocket-Protocol: graphql-ws, header-<base64url JSON>`. */
export function headerFromSubprotocol(req: http.IncomingMessage): string | null {
  const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
  const header = offered.find((p) => p.startsWith('header-'));
  return header ? header.slice('header-'.length) : null;
}

export function rawToString(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}
