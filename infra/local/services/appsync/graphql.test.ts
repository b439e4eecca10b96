import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GraphqlRequestError, IamGraphqlClient } from '../../../../tasks/graphql-client.ts';
import { PUBLISH_ANSWER } from '../../../../tasks/answer-events.ts';
import { publishAnswer } from '../../../../tasks/publish-answer.ts';
import type { LocalAppSync, AnswerEventRecord } from './graphql.ts';
import { startTestAppSync } from './test-server.ts';
import { MAX_GRAPHQL_REQUEST_BYTES as MAX_BODY_BYTES } from './request.ts';
import { LocalIam, type LocalPrincipalName } from '../../iam/principals.ts';

const iam = new LocalIam();
let appsync: LocalAppSync;
let url: string;
let published: AnswerEventRecord[];

beforeAll(async () => {
  ({ appsync, url, published } = await startTestAppSync(iam));
});
afterAll(() => appsync.close());

const client = (who: LocalPrincipalName) => new IamGraphqlClient({ url, region: 'us-east-1', credentials: iam.credentials(who) });

describe('local AppSync: publishAnswer over IAM', () => {
  it('delivers a DONE event published by the publish-answer role, with any Unicode intact', async () => {
    const text = 'Ret\u00fcrns within 10 days \u2705 \u05e9\u05dc\u05d5\u05dd \u4f60\u597d "quoted" \\ back\\slash } { $var \ud83d\udce6';
    const event = await publishAnswer(
      { identity: { userId: 'u-1' }, request: { answerId: 'u-1.a1' }, answer: { text, toolCalls: 1 } },
      { graphql: client('publish-answer') },
    );
    expect(event.status).toBe('DONE');
    expect(published.at(-1)).toMatchObject({ answerId: 'u-1.a1', userId: 'u-1', status: 'DONE', text });
  });

  it('refuses the same mutation from a task role that does not publish (no appsync:GraphQL on the field)', async () => {
    const before = published.length;
    const err = await client('mint-credentials')
      .request(PUBLISH_ANSWER, { answerId: 'u-1.a2', userId: 'u-1', status: 'DONE', seq: 1, text: 'forged' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GraphqlRequestError);
    expect((err as GraphqlRequestError).errors[0]).toMatchObject({ errorType: 'Unauthorized', message: 'Not Authorized to access publishAnswer on type Mutation' });
    expect(published.length).toBe(before);
  });

  it('refuses unsigned and wrongly signed requests', async () => {
    const unsigned = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: PUBLISH_ANSWER, variables: {} }) });
    expect(unsigned.status).toBe(401);
    const wrong = new IamGraphqlClient({ url, region: 'us-east-1', credentials: { ...iam.credentials('publish-answer'), secretAccessKey: 'not-the-secret' } });
    const err = (await wrong.request(PUBLISH_ANSWER, { answerId: 'a', userId: 'u', status: 'DONE', seq: 1 }).catch((e: unknown) => e)) as GraphqlRequestError;
    expect(err.status).toBe(403);
    expect(err.errors[0]?.errorType).toBe('InvalidSignatureException');
  });

  it('refuses a body over the size limit before reading it all (413), and still serves the next request', async () => {
    const { port } = new URL(url);
    // Declared too large: answered from the headers alone (no byte of the body is sent).
    const declared = await rawRequest(port, [`POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${MAX_BODY_BYTES + 1}\r\n\r\n`]);
    expect(declared).toMatch(/^HTTP\/1\.1 413 /);
    expect(declared).toContain('"errorType":"PayloadTooLargeException"');
    // Chunked, with no length announced: refused once the bytes read pass the limit.
    const piece = Buffer.alloc(1024 * 1024, 'x');
    const chunks = Array.from({ length: MAX_BODY_BYTES / piece.length + 1 }, () => Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n')]));
    const streamed = await rawRequest(port, [`POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`, ...chunks]);
    expect(streamed).toMatch(/^HTTP\/1\.1 413 /);
    // Control: a small body is read and judged on its merits (no token: 401).
    const after = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(after.status).toBe(401);
  });
});

/** Sends `parts` on a fresh socket and resolves with everything the server answered before closing it. */
function rawRequest(port: string, parts: (string | Buffer)[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), '127.0.0.1');
    let answer = '';
    socket.on('data', (d) => (answer += d.toString('latin1')));
    // The server may close while we are still writing: what it answered before is what counts.
    socket.on('error', (err: NodeJS.ErrnoException) => (answer ? resolve(answer) : reject(err)));
    socket.on('close', () => resolve(answer));
    (async () => {
      for (const part of parts) {
        if (socket.destroyed || answer) return;
        if (!socket.write(part)) await new Promise((r) => socket.once('drain', r));
      }
    })().catch(reject);
  });
}
