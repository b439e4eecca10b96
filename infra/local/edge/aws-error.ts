/**
 * AWS errors as the stand-ins raise them, and their rendering in each wire protocol we speak.
 * Error codes and HTTP statuses follow what the real services answer.
 */
import { randomUUID } from 'node:crypto';

export class AwsError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
    /** Client errors are "Sender" faults in the query protocol. */
    readonly fault: 'Sender' | 'Receiver' = status >= 500 ? 'Receiver' : 'Sender',
  ) {
    super(message);
    this.name = code;
  }
}

/** The authentication failures, named per protocol family (JSON services vs. query services). */
export type AuthFailure =
  | 'MissingAuthenticationToken'
  | 'UnrecognizedClient'
  | 'InvalidSignature'
  | 'SignatureExpired'
  | 'ExpiredToken'
  | 'IncompleteSignature';

const AUTH_MESSAGES: Record<AuthFailure, string> = {
  MissingAuthenticationToken: 'Request is missing Authentication Token',
  UnrecognizedClient: 'The security token included in the request is invalid.',
  InvalidSignature:
    'The request signature we calculated does not match the signature you provided. ' +
    'Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
  SignatureExpired: 'Signature expired',
  ExpiredToken: 'The security token included in the request is expired',
  IncompleteSignature: 'Authorization header requires existence of either a \'X-Amz-Date\' or a \'Date\' header.',
};

/**
 * JSON-protocol services (DynamoDB, KMS, Step Functions, Cognito) vs. query services (STS). REST-JSON
 * services (Bedrock) use the JSON codes with 403, as API Gateway-fronted AWS services answer them.
 */
const AUTH_CODES: Record<AuthFailure, { json: string; query: string; queryStatus: number }> = {
  MissingAuthenticationToken: { json: 'MissingAuthenticationTokenException', query: 'MissingAuthenticationToken', queryStatus: 403 },
  UnrecognizedClient: { json: 'UnrecognizedClientException', query: 'InvalidClientTokenId', queryStatus: 403 },
  InvalidSignature: { json: 'InvalidSignatureException', query: 'SignatureDoesNotMatch', queryStatus: 403 },
  SignatureExpired: { json: 'InvalidSignatureException', query: 'SignatureDoesNotMatch', queryStatus: 403 },
  ExpiredToken: { json: 'ExpiredTokenException', query: 'ExpiredToken', queryStatus: 400 },
  IncompleteSignature: { json: 'IncompleteSignatureException', query: 'IncompleteSignature', queryStatus: 400 },
};

export class AuthError extends Error {
  constructor(
    readonly failure: AuthFailure,
    detail?: string,
  ) {
    super(detail ?? AUTH_MESSAGES[failure]);
    this.name = failure;
  }

  toAwsError(protocol: Protocol): AwsError {
    const codes = AUTH_CODES[this.failure];
    if (protocol.kind === 'query') return new AwsError(codes.query, this.message, codes.queryStatus);
    if (protocol.kind === 'rest-json') return new AwsError(codes.json, this.message, 403);
    // JSON services answer every authentication failure with 400 (DynamoDB documents
    // MissingAuthenticationTokenException among its 400 errors).
    return new AwsError(codes.json, this.message, 400);
  }
}

export type Protocol =
  | { kind: 'json'; version: '1.0' | '1.1'; errorPrefix: string }
  | { kind: 'query'; xmlns: string }
  /** REST-JSON (Bedrock): the operation is in the method and path; errors name their code in `x-amzn-errortype`. */
  | { kind: 'rest-json' };

export interface WireResponse {
  status: number;
  headers: Record<string, string>;
  body: string | Buffer;
  /** A body written part by part as it is produced (an event stream), after `body`. */
  stream?: AsyncIterable<Uint8Array>;
}

export function newRequestId(): string {
  return randomUUID();
}

export function xmlEscape(value: string): string {
  return value.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function renderError(protocol: Protocol, error: AwsError, requestId: string): WireResponse {
  if (protocol.kind === 'query') {
    const body =
      `<ErrorResponse xmlns="${protocol.xmlns}"><Error><Type>${error.fault}</Type>` +
      `<Code>${xmlEscape(error.code)}</Code><Message>${xmlEscape(error.message)}</Message></Error>` +
      `<RequestId>${requestId}</RequestId></ErrorResponse>`;
    return { status: error.status, headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId }, body };
  }
  if (protocol.kind === 'rest-json') {
    // The SDK's restJson1 deserializer reads the code from `x-amzn-errortype` first, then the body.
    return {
      status: error.status,
      headers: { 'content-type': 'application/json', 'x-amzn-requestid': requestId, 'x-amzn-errortype': error.code },
      body: JSON.stringify({ message: error.message }),
    };
  }
  const body = JSON.stringify({ __type: `${protocol.errorPrefix}${error.code}`, message: error.message });
  return {
    status: error.status,
    headers: {
      'content-type': `application/x-amz-json-${protocol.version}`,
      'x-amzn-requestid': requestId,
      'x-amzn-errortype': error.code,
    },
    body,
  };
}

export function jsonResponse(protocol: Protocol, payload: unknown, requestId: string): WireResponse {
  const version = protocol.kind === 'json' ? protocol.version : '1.0';
  return {
    status: 200,
    headers: { 'content-type': `application/x-amz-json-${version}`, 'x-amzn-requestid': requestId },
    body: JSON.stringify(payload),
  };
}

/**
 * The JSON object a JSON-protocol request carries (an empty body is `{}`). Anything else is
 * refused as AWS refuses it: SerializationException.
 */
export function parseJsonBody(body: Buffer, message?: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8') || '{}');
  } catch {
    throw new AwsError('SerializationException', message ?? 'Malformed request body.', 400);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new AwsError('SerializationException', message ?? 'The request body must be a JSON object.', 400);
  }
  return value as Record<string, unknown>;
}
