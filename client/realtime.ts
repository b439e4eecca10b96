/**
 * A client for AppSync's realtime WebSocket protocol (GraphQL subscriptions, subprotocol
 * `graphql-ws`, as in "Building a real-time WebSocket client in AWS AppSync"), for Cognito user
 * pool callers. It runs in Node (with `ws`) and in browsers (the global WebSocket): it is written
 * against the small `WebSocketLike` interface below and imports nothing else at runtime.
 *
 * `subscribe` resolves only once AppSync has answered `start_ack`, so a caller that sends its
 * mutation after `await subscribe(...)` does not miss the events it causes.
 *
 * The connection is considered dead when no `ka` arrives for `connectionTimeoutMs` (from
 * `connection_ack`): pending subscribes are rejected and every subscriber's `onError` is called.
 */

/** An event handler property; bivariant in its event (method syntax), so the DOM's and `ws`'s richer event types fit. */
type Handler<E> = { handle(event: E): void }['handle'];

/** The part of the WebSocket API this client uses; the browser's WebSocket and `ws` both fit. */
export interface WebSocketLike {
  readonly readyState: number;
  readonly protocol: string;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: Handler<unknown> | null;
  onmessage: Handler<{ data: unknown }> | null;
  onerror: Handler<unknown> | null;
  onclose: Handler<{ code: number; reason: string }> | null;
}

export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

const OPEN = 1;
const SUBPROTOCOL = 'graphql-ws';

/** A protocol-level failure: `errorType` as AppSync sent it (e.g. 'UnauthorizedException', 'Unauthorized') or one of this client's. */
export class RealtimeError extends Error {
  constructor(
    readonly errorType: string,
    message: string,
    /** Present on `connection_error` entries (401, 400, ...). */
    readonly errorCode?: number,
  ) {
    super(message);
    this.name = 'RealtimeError';
  }
}

export interface ConnectRealtimeOptions {
  /** The realtime endpoint, e.g. `wss://<id>.appsync-realtime-api.<region>.amazonaws.com/graphql` or the local `ws://127.0.0.1:<port>/graphql/realtime`. */
  realtimeUrl: string;
  /** The host of the GraphQL (HTTP) endpoint, e.g. `<id>.appsync-api.<region>.amazonaws.com`. */
  host: string;
  /** The Cognito ID token (a JWT, without "Bearer"), or a function returning the current one (called for the handshake and for each subscribe). */
  authorization: string | (() => string | Promise<string>);
  /** Defaults to the global WebSocket, or `ws` in Node versions without one. */
  WebSocketImpl?: WebSocketConstructor;
  /** How long to wait for `connection_ack`, `start_ack` and `complete`. Default 15 000 ms. */
  ackTimeoutMs?: number;
  /** The connection ended without `close()` (keep-alive timeout, server close) or the server reported an error without an id. */
  onConnectionError?: (error: RealtimeError) => void;
}

export interface RealtimeSubscription {
  readonly id: string;
  /** Sends `stop`; resolves on `complete` (or at once if the connection is gone). No data is delivered after the call. */
  unsubscribe(): Promise<void>;
}

export interface RealtimeConnection {
  /** From `connection_ack`: the longest time between two `ka` messages before the connection counts as dead. */
  readonly connectionTimeoutMs: number;
  /**
   * Starts a subscription. Resolves after `start_ack`; rejects with a RealtimeError on `error`
   * (e.g. errorType 'Unauthorized' from the resolver), on timeout, or when the connection ends.
   * `onError` is called if the subscription ends later for any reason other than `unsubscribe()`/`close()`.
   */
  subscribe<T = Record<string, unknown>>(
    query: string,
    variables: Record<string, unknown>,
    onData: (data: T) => void,
    onError?: (error: RealtimeError) => void,
  ): Promise<RealtimeSubscription>;
  /** Closes the connection. Pending subscribes are rejected; subscribers' `onError` is not called. */
  close(): void;
}

interface Entry {
  id: string;
  state: 'starting' | 'active' | 'stopping';
  onData: (data: unknown) => void;
  onError?: (error: RealtimeError) => void;
  timer?: ReturnType<typeof setTimeout>;
  started?: { resolve: (s: RealtimeSubscription) => void; reject: (e: RealtimeError) => void };
  stopped?: { resolve: () => void; reject: (e: RealtimeError) => void };
  stopping?: Promise<void>;
}

type Message = { type?: unknown; id?: unknown; payload?: unknown };

function base64Json(value: unknown): string {
  const bytes = new TextEncoder().encode(JSON.stringify(value));
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

function errorFrom(payload: unknown, fallbackType: string): RealtimeError {
  const first = (payload as { errors?: { errorType?: unknown; message?: unknown; errorCode?: unknown }[] } | undefined)?.errors?.[0];
  const message = typeof first?.message === 'string' ? first.message : fallbackType;
  const errorType = typeof first?.errorType === 'string' ? first.errorType : typeof first?.message === 'string' ? first.message : fallbackType;
  return new RealtimeError(errorType, message, typeof first?.errorCode === 'number' ? first.errorCode : undefined);
}

function newId(): string {
  const c = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  if (c?.randomUUID) return c.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}-${Math.random().toString(36).slice(2)}`;
}

async function defaultWebSocket(): Promise<WebSocketConstructor> {
  const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (global) return global;
  const ws = await import('ws');
  return ws.WebSocket as unknown as WebSocketConstructor;
}

class Connection implements RealtimeConnection {
  connectionTimeoutMs = 300_000;
  private readonly entries = new Map<string, Entry>();
  private kaTimer?: ReturnType<typeof setTimeout>;
  private ended = false;
  private connected?: { resolve: () => void; reject: (e: RealtimeError) => void; timer: ReturnType<typeof setTimeout> };

  constructor(
    private readonly socket: WebSocketLike,
    private readonly options: ConnectRealtimeOptions & { ackTimeoutMs: number },
  ) {
    socket.onmessage = (event) => this.onMessage(event.data);
    socket.onclose = (event) => this.end(new RealtimeError('ConnectionClosed', `The realtime connection closed (${event.code}${event.reason ? ` ${event.reason}` : ''}).`, event.code));
    socket.onerror = () => {
      // The close event follows with the code; nothing to do here.
    };
  }

  /** Waits for the socket to open, sends connection_init and waits for connection_ack. */
  handshake(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.end(new RealtimeError('ConnectionAckTimeout', `No connection_ack within ${this.options.ackTimeoutMs} ms.`));
      }, this.options.ackTimeoutMs);
      this.connected = { resolve, reject, timer };
      const init = () => {
        if (this.socket.protocol && this.socket.protocol !== SUBPROTOCOL) {
          this.end(new RealtimeError('SubProtocolNotSupportedError', `The server chose the subprotocol ${this.socket.protocol}.`));
          return;
        }
        this.send({ type: 'connection_init' });
      };
      if (this.socket.readyState === OPEN) init();
      else this.socket.onopen = init;
    });
  }

  async subscribe<T = Record<string, unknown>>(
    query: string,
    variables: Record<string, unknown>,
    onData: (data: T) => void,
    onError?: (error: RealtimeError) => void,
  ): Promise<RealtimeSubscription> {
    if (this.ended) throw new RealtimeError('ConnectionClosed', 'The realtime connection is closed.');
    const token = await this.token();
    if (this.ended) throw new RealtimeError('ConnectionClosed', 'The realtime connection is closed.');
    const id = newId();
    return new Promise<RealtimeSubscription>((resolve, reject) => {
      const entry: Entry = { id, state: 'starting', onData: onData as (data: unknown) => void, ...(onError ? { onError } : {}), started: { resolve, reject } };
      entry.timer = setTimeout(() => {
        this.entries.delete(id);
        this.send({ id, type: 'stop' }); // in case the start_ack is merely late
        reject(new RealtimeError('StartAckTimeout', `No start_ack within ${this.options.ackTimeoutMs} ms.`));
      }, this.options.ackTimeoutMs);
      this.entries.set(id, entry);
      this.send({
        id,
        type: 'start',
        payload: {
          data: JSON.stringify({ query, variables }),
          extensions: { authorization: { host: this.options.host, Authorization: token } },
        },
      });
    });
  }

  close(): void {
    if (this.ended) return;
    this.end(new RealtimeError('ConnectionClosed', 'The realtime connection was closed by the client.'), false);
  }

  async token(): Promise<string> {
    const a = this.options.authorization;
    return typeof a === 'string' ? a : await a();
  }

  private handle(id: string): RealtimeSubscription {
    return { id, unsubscribe: () => this.unsubscribe(id) };
  }

  private unsubscribe(id: string): Promise<void> {
    const entry = this.entries.get(id);
    if (!entry || this.ended) return Promise.resolve();
    entry.stopping ??= new Promise<void>((resolve, reject) => {
      entry.state = 'stopping';
      entry.stopped = { resolve, reject };
      entry.timer = setTimeout(() => {
        this.entries.delete(id);
        reject(new RealtimeError('StopTimeout', `No complete within ${this.options.ackTimeoutMs} ms.`));
      }, this.options.ackTimeoutMs);
      this.send({ id, type: 'stop' });
    });
    return entry.stopping;
  }

  private onMessage(raw: unknown): void {
    if (typeof raw !== 'string') return;
    let message: Message;
    try {
      message = JSON.parse(raw) as Message;
    } catch {
      return;
    }
    const entry = typeof message.id === 'string' ? this.entries.get(message.id) : undefined;
    switch (message.type) {
      case 'connection_ack': {
        const ms = (message.payload as { connectionTimeoutMs?: unknown } | undefined)?.connectionTimeoutMs;
        if (typeof ms === 'number' && ms > 0) this.connectionTimeoutMs = ms;
        this.resetKeepAlive();
        if (this.connected) {
          clearTimeout(this.connected.timer);
          this.connected.resolve();
          this.connected = undefined;
        }
        return;
      }
      case 'ka':
        return this.resetKeepAlive();
      case 'connection_error':
        return this.end(errorFrom(message.payload, 'ConnectionError'));
      case 'start_ack':
        if (entry?.state === 'starting' && entry.started) {
          clearTimeout(entry.timer);
          entry.state = 'active';
          const { resolve } = entry.started;
          entry.started = undefined;
          resolve(this.handle(entry.id));
        }
        return;
      case 'data':
        if (entry && entry.state !== 'stopping') {
          try {
            entry.onData((message.payload as { data?: unknown } | undefined)?.data);
          } catch (err) {
            entry.onError?.(new RealtimeError('SubscriberError', (err as Error)?.message ?? String(err)));
          }
        }
        return;
      case 'complete':
        if (entry) {
          clearTimeout(entry.timer);
          this.entries.delete(entry.id);
          if (entry.stopped) entry.stopped.resolve();
          else if (entry.started) entry.started.reject(new RealtimeError('Completed', 'The server completed the subscription before start_ack.'));
          else entry.onError?.(new RealtimeError('Completed', 'The server completed the subscription.'));
        }
        return;
      case 'error': {
        const error = errorFrom(message.payload, 'Error');
        if (!entry) {
          this.options.onConnectionError?.(error);
          return;
        }
        clearTimeout(entry.timer);
        this.entries.delete(entry.id);
        if (entry.started) entry.started.reject(error);
        else if (entry.stopped) entry.stopped.reject(error);
        else entry.onError?.(error);
        return;
      }
      default:
        return;
    }
  }

  private resetKeepAlive(): void {
    clearTimeout(this.kaTimer);
    this.kaTimer = setTimeout(() => {
      this.end(new RealtimeError('ConnectionTimeout', `No keep-alive within ${this.connectionTimeoutMs} ms.`));
    }, this.connectionTimeoutMs);
  }

  private send(message: Record<string, unknown>): void {
    if (this.socket.readyState === OPEN) this.socket.send(JSON.stringify(message));
  }

  /** Ends the connection once: rejects what is pending and tells subscribers (unless the client closed it). */
  private end(error: RealtimeError, notify = true): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.kaTimer);
    if (this.connected) {
      // The handshake failed: connectRealtime rejects, and there is no connection to report on.
      clearTimeout(this.connected.timer);
      this.connected.reject(error);
      this.connected = undefined;
      notify = false;
    }
    for (const entry of this.entries.values()) {
      clearTimeout(entry.timer);
      if (entry.started) entry.started.reject(error);
      else if (entry.stopped) entry.stopped.resolve();
      else if (notify) entry.onError?.(error);
    }
    this.entries.clear();
    if (this.socket.readyState === OPEN || this.socket.readyState === 0) {
      try {
        this.socket.close(1000, notify ? error.errorType : 'client close');
      } catch {
        // A socket still connecting may refuse close(); it is dropped either way.
      }
    }
    if (notify) this.options.onConnectionError?.(error);
  }
}

/** Opens the WebSocket, sends connection_init and resolves once connection_ack arrives (rejects on connection_error). */
export async function connectRealtime(options: ConnectRealtimeOptions): Promise<RealtimeConnection> {
  const ackTimeoutMs = options.ackTimeoutMs ?? 15_000;
  const token = typeof options.authorization === 'string' ? options.authorization : await options.authorization();
  const url = new URL(options.realtimeUrl);
  url.searchParams.set('header', base64Json({ host: options.host, Authorization: token }));
  url.searchParams.set('payload', base64Json({})); // "e30="
  const WebSocketImpl = options.WebSocketImpl ?? (await defaultWebSocket());
  const connection = new Connection(new WebSocketImpl(url.toString(), [SUBPROTOCOL]), { ...options, ackTimeoutMs });
  await connection.handshake();
  return connection;
}
