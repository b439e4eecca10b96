import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { executeSync, Kind, parse, validate, type OperationDefinitionNode } from 'graphql';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { connectRealtime, RealtimeError as ClientError, type RealtimeConnection } from '../../../../client/realtime.ts';
import { loadSchema, type AnswerEventRecord } from './graphql.ts';
import { RealtimeError, RealtimeServer, type RealtimeServerOptions, type RealtimeSubscription, type SubscriptionDocument } from './realtime.ts';
import type { Logger } from '../../edge/log.ts';

const schema = loadSchema();
const TOKENS: Record<string, string> = { 'token-a': 'a', 'token-b': 'b' };
const ON_ANSWER = 'subscription OnAnswer($answerId: ID!) { onAnswer(answerId: $answerId) { answerId userId status seq text } }';

/** Fake but honest: a token table instead of JWT verification. */
async function authenticate(headers: Record<string, string>) {
  const sub = TOKENS[headers.Authorization ?? ''];
  if (!sub) throw new RealtimeError('UnauthorizedException', 'Invalid token');
  return { sub };
}

/** The onAnswer resolver's rules: own answers only (answerId starts with `${sub}.`), filter userId == sub. */
async function subscribe(identity: { sub: string }, doc: SubscriptionDocument): Promise<RealtimeSubscription<AnswerEventRecord>> {
  const document = parse(doc.query);
  const errors = validate(schema, document);
  if (errors.length) throw new RealtimeError('ValidationError', errors[0]!.message);
  const op = document.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  if (op?.operation !== 'subscription') throw new RealtimeError('UnsupportedOperation', `${op?.operation ?? 'unknown'} not supported through the realtime channel`);
  const answerId = doc.variables.answerId;
  if (typeof answerId !== 'string' || !answerId.startsWith(`${identity.sub}.`)) {
    throw new RealtimeError('Unauthorized', 'Not Authorized to access onAnswer on type Subscription');
  }
  return {
    fieldName: 'onAnswer',
    mutations: ['publishAnswer'],
    key: { field: 'answerId', value: answerId },
    shape: `${doc.query}\n${JSON.stringify(doc.variables)}`,
    filter: (e) => e.userId === identity.sub && e.answerId === answerId,
    project: (e) => executeSync({ schema, document, rootValue: { onAnswer: e }, variableValues: doc.variables }).data as Record<string, unknown>,
  };
}

interface LogEntry {
  level: string;
  msg: string;
  fields?: Record<string, unknown>;
}

interface Harness {
  server: http.Server;
  realtime: RealtimeServer<{ sub: string }, AnswerEventRecord>;
  url: string;
  host: string;
  logs: LogEntry[];
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function start(overrides: Partial<RealtimeServerOptions<{ sub: string }, AnswerEventRecord>> = {}): Promise<Harness> {
  const server = http.createServer((_req, res) => res.writeHead(404).end());
  const logs: LogEntry[] = [];
  const logger: Logger = { log: (level, msg, fields) => logs.push({ level, msg, ...(fields ? { fields } : {}) }) };
  const realtime = new RealtimeServer<{ sub: string }, AnswerEventRecord>(server, { authenticate, subscribe, logger, ...overrides });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  cleanups.push(async () => {
    await realtime.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { server, realtime, url: `ws://127.0.0.1:${port}/graphql/realtime`, host: `127.0.0.1:${port}`, logs };
}

async function connect(h: Harness, token: string): Promise<RealtimeConnection> {
  const conn = await connectRealtime({ realtimeUrl: h.url, host: h.host, authorization: token, WebSocketImpl: WebSocket, ackTimeoutMs: 5_000 });
  cleanups.push(() => conn.close());
  return conn;
}

function event(answerId: string, userId: string, seq = 1, text = `answer for ${answerId}`): AnswerEventRecord {
  return { answerId, userId, status: 'DONE', seq, text, error: null, step: null };
}

/** Resolves with the next value pushed, or rejects after `ms` (a wait, not a timing assertion). */
class Inbox<T> {
  readonly items: T[] = [];
  private waiters: { n: number; resolve: () => void }[] = [];
  push = (item: T) => {
    this.items.push(item);
    this.waiters = this.waiters.filter((w) => (this.items.length >= w.n ? (w.resolve(), false) : true));
  };
  async waitFor(n: number, ms = 5_000): Promise<T[]> {
    if (this.items.length < n) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`waited for ${n} items, got ${this.items.length}`)), ms);
        this.waiters.push({ n, resolve: () => (clearTimeout(timer), resolve()) });
      });
    }
    return this.items.slice(0, n);
  }
}

type Frame = { type: string; id?: string; payload?: Record<string, unknown> };

/** A raw protocol client, for what the real client never sends. */
async function raw(h: Harness, opts: { token?: string | null; protocols?: string[]; payload?: string | null } = {}) {
  const url = new URL(h.url);
  const token = opts.token === undefined ? 'token-a' : opts.token;
  if (token !== null) url.searchParams.set('header', Buffer.from(JSON.stringify({ host: h.host, Authorization: token })).toString('base64'));
  if (opts.payload !== null) url.searchParams.set('payload', opts.payload ?? 'e30=');
  const ws = new WebSocket(url, opts.protocols ?? ['graphql-ws']);
  const frames = new Inbox<Frame>();
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  ws.on('message', (data) => frames.push(JSON.parse(data.toString()) as Frame));
  ws.on('error', () => {});
  cleanups.push(() => ws.terminate());
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const send = (m: unknown) => ws.send(typeof m === 'string' ? m : JSON.stringify(m));
  /** The next frame of `type` (keep-alives and others are skipped). */
  const next = async (type: string, id?: string): Promise<Frame> => {
    for (let n = 1; ; n++) {
      const items = await frames.waitFor(n);
      const f = items[n - 1]!;
      if (f.type === type && (id === undefined || f.id === id) && !seen.has(n)) {
        seen.add(n);
        return f;
      }
    }
  };
  const seen = new Set<number>();
  const startMessage = (id: string, answerId: string, authToken = 'token-a') => ({
    id,
    type: 'start',
    payload: { data: JSON.stringify({ query: ON_ANSWER, variables: { answerId } }), extensions: { authorization: { host: h.host, Authorization: authToken } } },
  });
  return { ws, frames, closed, send, next, startMessage };
}

describe('AppSync realtime: subscribe, then publish', () => {
  it('resolves subscribe only after start_ack, so an event published right after is delivered', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let entered!: () => void;
    const inResolver = new Promise<void>((r) => (entered = r));
    const h = await start({
      subscribe: async (identity, doc) => {
        entered();
        await gate;
        return subscribe(identity, doc);
      },
    });
    const conn = await connect(h, 'token-a');
    const data = new Inbox<unknown>();
    let resolved = false;
    const pending = conn.subscribe(ON_ANSWER, { answerId: 'a.1' }, data.push).then((s) => ((resolved = true), s));
    await inResolver;
    expect(resolved).toBe(false); // the resolver has not finished, so no start_ack yet
    expect(h.realtime.stats().subscriptions).toBe(0);
    release();
    const sub = await pending;
    expect(sub.id).toEqual(expect.any(String));
    expect(h.realtime.stats().subscriptions).toBe(1);
    expect(h.realtime.publish('publishAnswer', event('a.1', 'a'))).toBe(1);
    expect(await data.waitFor(1)).toEqual([{ onAnswer: { answerId: 'a.1', userId: 'a', status: 'DONE', seq: 1, text: 'answer for a.1' } }]);
  });

  it("delivers each event only to the matching subscription: a's answer never reaches b", async () => {
    const h = await start();
    const [a, b] = await Promise.all([connect(h, 'token-a'), connect(h, 'token-b')]);
    const gotA = new Inbox<{ onAnswer: AnswerEventRecord }>();
    const gotB = new Inbox<{ onAnswer: AnswerEventRecord }>();
    await a.subscribe(ON_ANSWER, { answerId: 'a.1' }, gotA.push);
    await b.subscribe(ON_ANSWER, { answerId: 'b.1' }, gotB.push);

    h.realtime.publish('publishAnswer', event('a.1', 'a', 1));
    h.realtime.publish('publishAnswer', event('a.2', 'a', 1)); // a's other answer: a is not subscribed to it
    h.realtime.publish('publishAnswer', event('b.1', 'a', 1)); // forged userId: filtered out for b
    h.realtime.publish('publishAnswer', event('b.1', 'b', 2));
    h.realtime.publish('publishAnswer', event('a.1', 'a', 3));
    h.realtime.publish('someOtherMutation', event('b.1', 'b', 4)); // not a mutation onAnswer listens to

    // One socket per client delivers in order: had any earlier event reached b, it would be first.
    expect((await gotB.waitFor(1)).map((d) => [d.onAnswer.answerId, d.onAnswer.seq])).toEqual([['b.1', 2]]);
    expect((await gotA.waitFor(2)).map((d) => [d.onAnswer.answerId, d.onAnswer.seq])).toEqual([
      ['a.1', 1],
      ['a.1', 3],
    ]);
    h.realtime.publish('publishAnswer', event('b.1', 'b', 5));
    await gotB.waitFor(2);
    expect(gotB.items.map((d) => d.onAnswer.seq)).toEqual([2, 5]);
    expect(gotA.items).toHaveLength(2);
  });

  it("refuses a subscription to another user's answerId with Unauthorized, and it never gets data", async () => {
    const h = await start();
    const a = await connect(h, 'token-a');
    const stolen = new Inbox<unknown>();
    const err = await a.subscribe(ON_ANSWER, { answerId: 'b.1' }, stolen.push).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClientError);
    expect(err).toMatchObject({ errorType: 'Unauthorized', message: 'Not Authorized to access onAnswer on type Subscription' });
    expect(h.realtime.stats().subscriptions).toBe(0);

    const own = new Inbox<unknown>();
    await a.subscribe(ON_ANSWER, { answerId: 'a.1' }, own.push);
    h.realtime.publish('publishAnswer', event('b.1', 'b'));
    h.realtime.publish('publishAnswer', event('a.1', 'a'));
    await own.waitFor(1);
    expect(stolen.items).toEqual([]);
  });

  it('stop answers complete and no data follows', async () => {
    const h = await start();
    const a = await connect(h, 'token-a');
    const first = new Inbox<unknown>();
    const second = new Inbox<unknown>();
    const sub = await a.subscribe(ON_ANSWER, { answerId: 'a.1' }, first.push);
    h.realtime.publish('publishAnswer', event('a.1', 'a', 1));
    await first.waitFor(1);
    await sub.unsubscribe(); // resolves on complete
    expect(h.realtime.stats().subscriptions).toBe(0);
    await a.subscribe(ON_ANSWER, { answerId: 'a.2' }, second.push);
    h.realtime.publish('publishAnswer', event('a.1', 'a', 2));
    h.realtime.publish('publishAnswer', event('a.2', 'a', 1));
    await second.waitFor(1);
    expect(first.items).toHaveLength(1);
  });

  it('stop and complete on the wire; a stop during the resolver suppresses start_ack', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const h = await start({
      subscribe: async (identity, doc) => {
        if (doc.variables.answerId === 'a.slow') await gate;
        return subscribe(identity, doc);
      },
    });
    const c = await raw(h);
    c.send({ type: 'connection_init' });
    await c.next('connection_ack');
    c.send(c.startMessage('s1', 'a.1'));
    await c.next('start_ack', 's1');
    c.send({ type: 'stop', id: 's1' });
    expect(await c.next('complete', 's1')).toEqual({ type: 'complete', id: 's1' });

    c.send(c.startMessage('slow', 'a.slow'));
    c.send({ type: 'stop', id: 'slow' });
    await c.next('complete', 'slow');
    release();
    c.send(c.startMessage('s2', 'a.2'));
    await c.next('start_ack', 's2');
    expect(c.frames.items.filter((f) => f.id === 'slow').map((f) => f.type)).toEqual(['complete']);
    expect(h.realtime.stats().subscriptions).toBe(1);
  });
});

describe('AppSync realtime: authorization', () => {
  it('answers a bad token at connect with connection_error (UnauthorizedException, 401) and closes', async () => {
    const h = await start();
    const err = await connect(h, 'token-forged').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClientError);
    expect(err).toMatchObject({ errorType: 'UnauthorizedException', errorCode: 401 });

    const c = await raw(h, { token: 'token-forged' });
    c.send({ type: 'connection_init' });
    expect(await c.next('connection_error')).toEqual({
      type: 'connection_error',
      payload: { errors: [{ errorType: 'UnauthorizedException', message: 'You are not authorized to make this call.', errorCode: 401 }] },
    });
    expect((await c.closed).code).toBe(1008);
    expect(c.frames.items.map((f) => f.type)).toEqual(['connection_error']);
    expect(h.realtime.stats().connections).toBe(0);
  });

  it('refuses a connection without a header, and one without the graphql-ws subprotocol', async () => {
    const h = await start();
    const noHeader = await raw(h, { token: null });
    expect((await noHeader.next('connection_error')).payload).toMatchObject({ errors: [{ errorType: 'UnauthorizedException', errorCode: 401 }] });
    await noHeader.closed;

    const noPayload = await raw(h, { payload: null });
    expect((await noPayload.next('connection_error')).payload).toMatchObject({ errors: [{ errorType: 'BadRequestException', errorCode: 400 }] });

    const wrongProtocol = await raw(h, { protocols: [] });
    expect((await wrongProtocol.next('connection_error')).payload).toEqual({
      errors: [{ errorType: 'SubProtocolNotSupportedError', message: 'SubProtocolNotSupportedError', errorCode: 400 }],
    });
    expect((await wrongProtocol.closed).code).toBe(1002);
  });

  it("refuses a start whose authorization is another user's token, even a valid one", async () => {
    const h = await start();
    const c = await raw(h, { token: 'token-a' });
    c.send({ type: 'connection_init' });
    await c.next('connection_ack');
    c.send(c.startMessage('x', 'b.1', 'token-b')); // b's token, b's answer, on a's connection
    expect(await c.next('error', 'x')).toMatchObject({ id: 'x', type: 'error', payload: { errors: [{ errorType: 'UnauthorizedException' }] } });
    c.send(c.startMessage('y', 'a.1', 'token-forged'));
    expect(await c.next('error', 'y')).toMatchObject({ payload: { errors: [{ errorType: 'UnauthorizedException' }] } });
    c.send({ id: 'z', type: 'start', payload: { data: JSON.stringify({ query: ON_ANSWER, variables: { answerId: 'a.1' } }) } }); // no authorization
    expect(await c.next('error', 'z')).toMatchObject({ payload: { errors: [{ errorType: 'UnauthorizedException' }] } });
    expect(h.realtime.stats().subscriptions).toBe(0);
    h.realtime.publish('publishAnswer', event('b.1', 'b'));
    c.send(c.startMessage('ok', 'a.1'));
    await c.next('start_ack', 'ok');
    expect(c.frames.items.some((f) => f.type === 'data')).toBe(false);
  });

  it('logs structured fields and never a token', async () => {
    const h = await start();
    const a = await connect(h, 'token-a');
    await a.subscribe(ON_ANSWER, { answerId: 'a.1' }, () => {});
    await a.subscribe(ON_ANSWER, { answerId: 'b.1' }, () => {}).catch(() => {});
    await connect(h, 'token-forged').catch(() => {});
    expect(h.logs.map((l) => l.msg)).toEqual(expect.arrayContaining(['realtime.connect', 'realtime.start', 'realtime.start.refused', 'realtime.connect.refused']));
    expect(JSON.stringify(h.logs)).not.toMatch(/token-/);
  });
});

describe('AppSync realtime: protocol hygiene', () => {
  it('acknowledges connection_init with connectionTimeoutMs and sends keep-alives', async () => {
    const h = await start({ keepAliveIntervalMs: 20, connectionTimeoutMs: 1_000 });
    const c = await raw(h);
    c.send({ type: 'connection_init' });
    expect(await c.next('connection_ack')).toEqual({ type: 'connection_ack', payload: { connectionTimeoutMs: 1_000 } });
    await c.next('ka');
    await c.next('ka');
    await c.next('ka');
  });

  it('answers malformed JSON and unknown message types with error, and the connection survives', async () => {
    const h = await start();
    const c = await raw(h);
    c.send({ type: 'connection_init' });
    await c.next('connection_ack');
    c.send('{not json');
    expect(await c.next('error')).toEqual({ type: 'error', payload: { errors: [{ errorType: 'BadRequestException', message: 'The message is not valid JSON.' }] } });
    c.send('[1,2]');
    expect((await c.next('error')).payload).toMatchObject({ errors: [{ errorType: 'BadRequestException' }] });
    c.send({ type: 'subscribe', id: 'q' }); // graphql-transport-ws, not AppSync's protocol
    expect(await c.next('error', 'q')).toMatchObject({ payload: { errors: [{ errorType: 'UnsupportedOperation' }] } });
    c.send({ id: 'bad', type: 'start', payload: { data: '{nope', extensions: { authorization: { host: h.host, Authorization: 'token-a' } } } });
    expect(await c.next('error', 'bad')).toMatchObject({ payload: { errors: [{ errorType: 'BadRequestException' }] } });
    c.send({ type: 'stop', id: 'never-started' });
    expect(await c.next('error', 'never-started')).toMatchObject({ payload: { errors: [{ errorType: 'BadRequestException' }] } });

    c.send(c.startMessage('s', 'a.1'));
    await c.next('start_ack', 's');
    h.realtime.publish('publishAnswer', event('a.1', 'a'));
    expect((await c.next('data', 's')).payload).toEqual({ data: { onAnswer: { answerId: 'a.1', userId: 'a', status: 'DONE', seq: 1, text: 'answer for a.1' } } });
  });

  it('refuses duplicate ids and more subscriptions than the limit (MaxSubscriptionsReachedError)', async () => {
    const h = await start({ maxSubscriptionsPerConnection: 2 });
    const c = await raw(h);
    c.send({ type: 'connection_init' });
    await c.next('connection_ack');
    c.send(c.startMessage('1', 'a.1'));
    await c.next('start_ack', '1');
    c.send(c.startMessage('1', 'a.1'));
    expect(await c.next('error', '1')).toMatchObject({ payload: { errors: [{ errorType: 'DuplicatedOperationError' }] } });
    c.send(c.startMessage('2', 'a.2'));
    await c.next('start_ack', '2');
    c.send(c.startMessage('3', 'a.3'));
    expect(await c.next('error', '3')).toMatchObject({ payload: { errors: [{ errorType: 'MaxSubscriptionsReachedError' }] } });
    c.send({ type: 'stop', id: '1' });
    await c.next('complete', '1');
    c.send(c.startMessage('3', 'a.3'));
    await c.next('start_ack', '3');
  });

  it('closes a connection that never sends connection_init', async () => {
    const h = await start({ connectionInitTimeoutMs: 50 });
    const c = await raw(h);
    expect((await c.next('connection_error')).payload).toMatchObject({ errors: [{ errorType: 'ConnectionInitTimeout' }] });
    expect((await c.closed).code).toBe(1002);
  });

  it('closes on a message over the size limit (1009)', async () => {
    const h = await start({ maxMessageBytes: 1024 });
    const c = await raw(h);
    c.send({ type: 'connection_init' });
    await c.next('connection_ack');
    c.send({ type: 'start', id: 'big', payload: { data: 'x'.repeat(2048) } });
    expect((await c.closed).code).toBe(1009);
  });

  it('accepts the header-based handshake (Sec-WebSocket-Protocol: graphql-ws, header-<base64url>)', async () => {
    const h = await start();
    const header = Buffer.from(JSON.stringify({ host: h.host, Authorization: 'token-b' })).toString('base64url');
    const c = await raw(h, { token: null, protocols: ['graphql-ws', `header-${header}`] });
    expect(c.ws.protocol).toBe('graphql-ws');
    c.send({ type: 'connection_init' });
    await c.next('connection_ack');
    c.send(c.startMessage('b', 'b.1', 'token-b'));
    await c.next('start_ack', 'b');
  });

  it('accepts the header-based handshake without any query string, as Amplify v6 opens it (unpadded base64url)', async () => {
    const h = await start();
    // A header whose base64 needs padding and holds the characters base64url changes (`-`, `_`).
    const header = Buffer.from(JSON.stringify({ host: h.host, Authorization: 'token-b', pad: '>>?' })).toString('base64url');
    expect(header).toMatch(/[-_]/);
    const c = await raw(h, { token: null, payload: null, protocols: ['graphql-ws', `header-${header}`] });
    expect(c.ws.protocol).toBe('graphql-ws');
    c.send({ type: 'connection_init' });
    await c.next('connection_ack');
    c.send(c.startMessage('b', 'b.1', 'token-b'));
    await c.next('start_ack', 'b');

    // Control: the same subprotocol header with a token the API refuses, and no header at all, are refused.
    const bad = Buffer.from(JSON.stringify({ host: h.host, Authorization: 'not-a-token' })).toString('base64url');
    const refused = await raw(h, { token: null, payload: null, protocols: ['graphql-ws', `header-${bad}`] });
    expect((await refused.next('connection_error')).payload).toMatchObject({ errors: [{ errorType: 'UnauthorizedException', errorCode: 401 }] });
    const none = await raw(h, { token: null, payload: null, protocols: ['graphql-ws'] });
    expect((await none.next('connection_error')).payload).toMatchObject({ errors: [{ errorType: 'BadRequestException', errorCode: 400 }] });
  });
});

describe('AppSync realtime client: connection loss', () => {
  it('treats a connection without keep-alives for connectionTimeoutMs as dead and tells the subscribers', async () => {
    // The server advertises 100 ms but sends only the first ka (right after the ack).
    const h = await start({ keepAliveIntervalMs: 60_000, connectionTimeoutMs: 100 });
    const lost = new Inbox<ClientError>();
    const conn = await connectRealtime({ realtimeUrl: h.url, host: h.host, authorization: 'token-a', WebSocketImpl: WebSocket, onConnectionError: lost.push });
    cleanups.push(() => conn.close());
    expect(conn.connectionTimeoutMs).toBe(100);
    const subErrors = new Inbox<ClientError>();
    await conn.subscribe(ON_ANSWER, { answerId: 'a.1' }, () => {}, subErrors.push);
    expect((await subErrors.waitFor(1))[0]).toMatchObject({ errorType: 'ConnectionTimeout' });
    expect((await lost.waitFor(1))[0]).toMatchObject({ errorType: 'ConnectionTimeout' });
    await expect(conn.subscribe(ON_ANSWER, { answerId: 'a.2' }, () => {})).rejects.toMatchObject({ errorType: 'ConnectionClosed' });
  });

  it('rejects a pending subscribe and notifies active subscribers when the server goes away', async () => {
    let entered!: () => void;
    const inResolver = new Promise<void>((r) => (entered = r));
    const h = await start({
      subscribe: async (identity, doc) => {
        if (doc.variables.answerId === 'a.hang') {
          entered();
          return new Promise<never>(() => {});
        }
        return subscribe(identity, doc);
      },
    });
    const conn = await connect(h, 'token-a');
    const subErrors = new Inbox<ClientError>();
    await conn.subscribe(ON_ANSWER, { answerId: 'a.1' }, () => {}, subErrors.push);
    const pending = conn.subscribe(ON_ANSWER, { answerId: 'a.hang' }, () => {}).catch((e: unknown) => e);
    await inResolver;
    await h.realtime.close();
    expect(await pending).toMatchObject({ errorType: 'ConnectionClosed', errorCode: 1001 });
    expect((await subErrors.waitFor(1))[0]).toMatchObject({ errorType: 'ConnectionClosed' });
  });
});

/** The test resolver, with its filter and projection calls counted, and optionally without its index key or shape. */
function counting(options: { key: boolean; shape: boolean }) {
  const calls = { filter: 0, project: 0 };
  const wrapped = async (identity: { sub: string }, doc: SubscriptionDocument): Promise<RealtimeSubscription<AnswerEventRecord>> => {
    const { key, shape, filter, project, ...rest } = await subscribe(identity, doc);
    return {
      ...rest,
      ...(options.key ? { key } : {}),
      ...(options.shape ? { shape } : {}),
      filter: (e) => (calls.filter++, filter(e)),
      project: (e) => (calls.project++, project(e)),
    };
  };
  return { calls, subscribe: wrapped };
}

describe('AppSync realtime: bounded fan-out', () => {
  it('a publish looks only at the subscriptions of its key (control: unkeyed subscriptions are all filtered)', async () => {
    for (const keyed of [true, false]) {
      const counter = counting({ key: keyed, shape: true });
      const h = await start({ subscribe: counter.subscribe });
      const conn = await connect(h, 'token-a');
      const data = new Inbox<unknown>();
      for (let i = 1; i <= 20; i++) await conn.subscribe(ON_ANSWER, { answerId: `a.${i}` }, i === 7 ? data.push : () => {});
      expect(h.realtime.publish('publishAnswer', event('a.7', 'a'))).toBe(1);
      expect(await data.waitFor(1)).toEqual([{ onAnswer: expect.objectContaining({ answerId: 'a.7' }) }]);
      expect(counter.calls.filter).toBe(keyed ? 1 : 20);
    }
  });

  it('builds the payload once per shape, however many subscriptions receive it (control: without a shape, once each)', async () => {
    for (const shaped of [true, false]) {
      const counter = counting({ key: true, shape: shaped });
      const h = await start({ subscribe: counter.subscribe });
      const conn = await connect(h, 'token-a');
      const data = new Inbox<unknown>();
      for (let i = 0; i < 3; i++) await conn.subscribe(ON_ANSWER, { answerId: 'a.1' }, data.push);
      expect(h.realtime.publish('publishAnswer', event('a.1', 'a'))).toBe(3);
      expect(await data.waitFor(3)).toEqual(Array.from({ length: 3 }, () => ({ onAnswer: expect.objectContaining({ answerId: 'a.1' }) })));
      expect(counter.calls.project).toBe(shaped ? 1 : 3);
    }
  });

  it('sends a large fan-out in batches, every subscription getting every event in publish order', async () => {
    const counter = counting({ key: true, shape: false }); // one projection per message sent
    const h = await start({ deliveryBatch: 2, subscribe: counter.subscribe });
    const conn = await connect(h, 'token-a');
    const inboxes = Array.from({ length: 5 }, () => new Inbox<{ onAnswer: { seq: number } }>());
    for (const inbox of inboxes) await conn.subscribe(ON_ANSWER, { answerId: 'a.1' }, inbox.push as (d: unknown) => void);
    expect(h.realtime.publish('publishAnswer', event('a.1', 'a', 1))).toBe(5);
    expect(counter.calls.project).toBe(2); // one batch now, the rest after a yield
    expect(h.realtime.publish('publishAnswer', event('a.1', 'a', 2))).toBe(5);
    expect(counter.calls.project).toBe(4); // still the first event's messages: order is kept
    for (const inbox of inboxes) expect((await inbox.waitFor(2)).map((d) => d.onAnswer.seq)).toEqual([1, 2]);
    expect(counter.calls.project).toBe(10);
  });

  it('does not deliver a payload over 240 kB, silently as AppSync; the events around it arrive', async () => {
    const h = await start();
    const conn = await connect(h, 'token-a');
    const data = new Inbox<{ onAnswer: { seq: number; text: string } }>();
    await conn.subscribe(ON_ANSWER, { answerId: 'a.1' }, data.push as (d: unknown) => void);
    const under = 'x'.repeat(239_000); // with the event's other fields, still under 240 000 bytes
    h.realtime.publish('publishAnswer', event('a.1', 'a', 1, under));
    h.realtime.publish('publishAnswer', event('a.1', 'a', 2, 'x'.repeat(240_000)));
    h.realtime.publish('publishAnswer', event('a.1', 'a', 3, 'small'));
    const got = await data.waitFor(2);
    expect(got.map((d) => d.onAnswer.seq)).toEqual([1, 3]);
    expect(got[0]!.onAnswer.text).toBe(under);
    expect(h.logs.find((l) => l.msg === 'realtime.deliver.too_large')).toMatchObject({ level: 'warn', fields: { payloads: 1, limitBytes: 240_000 } });
  });

  it("bounds one user's open connections (LimitExceededError, then close); other users and a freed slot are unaffected", async () => {
    const h = await start({ maxConnectionsPerIdentity: 2 });
    const first = await raw(h);
    const second = await raw(h);
    for (const c of [first, second]) {
      c.send({ type: 'connection_init' });
      await c.next('connection_ack');
    }
    const third = await raw(h);
    expect((await third.next('connection_error')).payload).toEqual({ errors: [{ errorType: 'LimitExceededError', message: 'At most 2 open connections per user.', errorCode: 429 }] });
    expect((await third.closed).code).toBe(1008);
    // Control: another user connects, and so does the first user once a connection of theirs closes.
    const other = await raw(h, { token: 'token-b' });
    other.send({ type: 'connection_init' });
    await other.next('connection_ack');
    first.ws.close();
    await first.closed;
    await expect.poll(() => h.realtime.stats().connections).toBe(2);
    const again = await raw(h);
    again.send({ type: 'connection_init' });
    await again.next('connection_ack');
  });
});
