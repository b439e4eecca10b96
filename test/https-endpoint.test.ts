/**
 * The local AppSync over HTTPS and WSS (what the Amplify client opens): a client that trusts the
 * local CA gets a signed-in user's answer and a realtime connection; one that does not fails TLS
 * verification. A second start on the same data directory serves a certificate of the same CA, the
 * data directory's amplify_outputs.json names the HTTPS endpoint, and a damaged CA key refuses the start.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseAmplifyConfig } from 'aws-amplify/utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ON_ANSWER } from '../client/api.ts';
import { signIn } from '../client/auth.ts';
import { connectRealtime, type WebSocketConstructor } from '../client/realtime.ts';
import { DataFileError } from '../infra/local/data-files.ts';
import { LOCK_FILE } from '../infra/local/data-dir-lock.ts';
import { startLocalStack, type LocalStack } from '../infra/local/stack.ts';
import { CA_KEY_FILE, TLS_DIR } from '../infra/local/tls.ts';
import { AMPLIFY_OUTPUTS_FILE, amplifyOutputs } from '../tasks/amplify-outputs.ts';

const NEW_PASSWORD = 'Correct-Horse-Battery-9!';
let dataDir: string;
let stack: LocalStack;
let idToken: string;
let ca: string;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'assistant-https-'));
  stack = await startLocalStack({ port: 0, dataDir, seedOrdersPerUser: 0, lambdaSandbox: false });
  const pool = { region: stack.iam.location.region, clientId: stack.cognito.clientId, endpoint: stack.edgeUrl };
  idToken = (await signIn(pool, 'tenant1-user', stack.cognito.temporaryPasswords()['tenant1-user']!, () => NEW_PASSWORD)).idToken;
  ca = await readFile(stack.tls.caFile, 'utf8');
});
afterAll(async () => {
  await stack?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

/** POST /graphql over HTTPS with Node's https client; `trust` is the CA bundle it trusts (Node's own when undefined). */
function query(url: string, trust: string | undefined, document: string, token = idToken): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: token }, ...(trust ? { ca: trust } : {}) }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as unknown }));
    });
    req.once('error', reject);
    req.end(JSON.stringify({ query: document }));
  });
}

/** `ws` with the local CA trusted (or not), as the realtime client's WebSocket. */
const webSocketTrusting = (trust: string | undefined) =>
  class extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols, trust ? { ca: trust } : {});
      this.on('error', () => undefined); // the handshake's failure is what the test reads
    }
  } as unknown as WebSocketConstructor;

describe('the local AppSync over HTTPS and WSS', () => {
  it("answers a signed-in user's query when the client trusts the local CA, and fails TLS verification when it does not", async () => {
    expect(stack.graphqlHttpsUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/graphql$/);
    // `me` has no resolver (null), but only a verified user pool token gets an answer at all.
    expect(await query(stack.graphqlHttpsUrl, ca, '{ me }')).toEqual({ status: 200, body: { data: { me: null } } });
    expect(await query(stack.graphqlHttpsUrl, ca, '{ me }', 'not-a-token')).toMatchObject({ status: 401, body: { errors: [{ errorType: 'UnauthorizedException' }] } });
    // The same by the name the certificate gives too (localhost).
    const byName = stack.graphqlHttpsUrl.replace('127.0.0.1', 'localhost');
    expect((await query(byName, ca, '{ me }')).status).toBe(200);
    // The control: a client with only the public CAs refuses the certificate.
    await expect(query(stack.graphqlHttpsUrl, undefined, '{ me }')).rejects.toMatchObject({ code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    // The plain HTTP endpoint is unchanged (the bundled web UI and the CLIs use it).
    const plain = await fetch(stack.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json', authorization: idToken }, body: JSON.stringify({ query: '{ me }' }) });
    expect(await plain.json()).toEqual({ data: { me: null } });
  });

  it('opens the realtime WebSocket over WSS with the local CA, and not without it', async () => {
    expect(stack.realtimeWssUrl).toBe(`${stack.graphqlHttpsUrl.replace(/^https/, 'wss')}/realtime`);
    const host = new URL(stack.graphqlHttpsUrl).host;
    const connection = await connectRealtime({ realtimeUrl: stack.realtimeWssUrl, host, authorization: idToken, WebSocketImpl: webSocketTrusting(ca) });
    try {
      expect(connection.connectionTimeoutMs).toBeGreaterThan(0);
      // A subscription starts (start_ack) on it, as on the plain endpoint.
      const subscription = await connection.subscribe(ON_ANSWER, { answerId: `${stack.user('tenant1-user').sub}.wss-check` }, () => undefined);
      await subscription.unsubscribe();
    } finally {
      connection.close();
    }
    // The control: without the CA, the TLS handshake fails (the client sees the connection close before any ack).
    const refused = await new Promise<Error>((resolve) => {
      const ws = new WebSocket(stack.realtimeWssUrl, ['graphql-ws']);
      ws.once('error', resolve);
      ws.once('open', () => resolve(new Error('opened')));
    });
    expect(refused).toMatchObject({ code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    await expect(connectRealtime({ realtimeUrl: stack.realtimeWssUrl, host, authorization: idToken, WebSocketImpl: webSocketTrusting(undefined), ackTimeoutMs: 60_000 })).rejects.toThrow(
      /The realtime connection closed/,
    );
  });

  it('writes amplify_outputs.json with the HTTPS endpoint, which Amplify reads; the lock names the HTTPS endpoint', async () => {
    const file = path.join(dataDir, AMPLIFY_OUTPUTS_FILE);
    expect(stack.amplifyOutputsFile).toBe(file);
    const written = JSON.parse(await readFile(file, 'utf8')) as ReturnType<typeof amplifyOutputs>;
    expect(written).toEqual(amplifyOutputs({ region: stack.iam.location.region, userPoolId: stack.cognito.poolId, userPoolClientId: stack.cognito.clientId, graphqlUrl: stack.graphqlHttpsUrl }));
    expect(parseAmplifyConfig(written)).toMatchObject({
      Auth: { Cognito: { userPoolId: stack.cognito.poolId, userPoolClientId: stack.cognito.clientId } },
      API: { GraphQL: { endpoint: stack.graphqlHttpsUrl, defaultAuthMode: 'userPool', region: stack.iam.location.region } },
    });
    expect(JSON.parse(await readFile(path.join(dataDir, LOCK_FILE), 'utf8'))).toMatchObject({ graphql: stack.graphqlUrl, graphqlHttps: stack.graphqlHttpsUrl });
  });
});

describe('the local CA across starts', () => {
  it('a second start reuses the CA (same fingerprint) and its certificate is trusted with the same ca.pem; a damaged CA key refuses the start', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'assistant-https-restart-'));
    try {
      const first = await startLocalStack({ port: 0, dataDir: dir, seedOrdersPerUser: 0, lambdaSandbox: false });
      const firstCa = await readFile(first.tls.caFile, 'utf8');
      expect(first.tls.made.ca).toBe(true);
      await first.stop();
      const second = await startLocalStack({ port: 0, dataDir: dir, seedOrdersPerUser: 0, lambdaSandbox: false });
      try {
        expect(second.tls.made).toEqual({ ca: false, cert: false });
        expect(second.tls.caFingerprint).toBe(first.tls.caFingerprint);
        // Trusted with the first start's ca.pem (the answer is AppSync's refusal of a request without a token: TLS held).
        const res = await new Promise<number>((resolve, reject) =>
          https.request(second.graphqlHttpsUrl, { method: 'POST', ca: firstCa }, (r) => (r.resume(), resolve(r.statusCode ?? 0))).once('error', reject).end('{}'),
        );
        expect(res).toBe(401);
      } finally {
        await second.stop();
      }
      const keyFile = path.join(dir, TLS_DIR, CA_KEY_FILE);
      await writeFile(keyFile, 'garbage');
      const refused = await startLocalStack({ port: 0, dataDir: dir, seedOrdersPerUser: 0, lambdaSandbox: false }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(DataFileError);
      expect((refused as Error).message).toContain(`${keyFile}: the local CA's private key cannot be read`);
      expect((refused as Error).message).toContain(`Way out: restore ${path.join(dir, TLS_DIR)} from a backup, or remove it`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
