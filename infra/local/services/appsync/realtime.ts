/**
 * The local AppSync realtime endpoint: AppSync's GraphQL-over-WebSocket protocol as AWS documents
 * it in "Building a real-time WebSocket client in AWS AppSync" (subprotocol `graphql-ws`; this is
 * not the `graphql-transport-ws` protocol of the `graphql-ws` npm package).
 *
 *   connect  <path>?header=<base64 JSON of the auth headers>&payload=e30=   (subprotocol graphql-ws)
 *        or  <path> with subprotocols graphql-ws, header-<base64url JSON of the auth headers>
 *   -> connection_init                 <- connection_ack {payload: {connectionTimeoutMs}}, then ka
 *   -> start {id, payload: {data: JSON string of {query, variables}, extensions: {authorization}}}
 *                                      <- start_ack {id} | error {id, payload: {errors: [{errorType, message}]}}
 *                                      <- data {id, payload: {data: {onAnswer: {...}}}}
 *   -> stop {id}                       <- complete {id}
 *   a bad handshake (token, subprotocol, query parameters) <- connection_error, then the socket closes
 *
 * It attaches to an existing `http.Server` (the local AppSync's) and knows nothing of how tokens are
 * verified or how subscription resolvers run: `authenticate` and `subscribe` are injected, and
 * events arrive through `publish(mutationField, event)`.
 *
 * A subscription is registered before its `start_ack` is sent, and `publish` picks the receiving
 * subscriptions synchronously, so any event published after a client has seen `start_ack` reaches it.
 *
 * Limits (AWS General Reference, "AWS AppSync endpoints and quotas"): 100 subscriptions per
 * connection (`MaxSubscriptionsReachedError`), 240 kB per subscription payload (a larger one is not
 * delivered; AppSync drops it without telling the subscriber). AppSync documents no limit of
 * connections per user; the twin bounds them (default 20) so no user can make a publish expensive.
 */
import { randomUUID } from 'node:crypto';
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, WebSocket, type RawData } from 'ws';
import type { Logger } from '../../edge/log.ts';
import { RealtimeError } from '../../../../client/realtime.ts';
import { FanOut, type ActiveSubscription, type RealtimeSubscription } from './fanout.ts';
import { decodeBase64Json, errorCodeOf, errorTypeOf, headerFromSubprotocol, isPlainObject, rawToString, stringHeaders } from './realtime-wire.ts';

export const REALTIME_PATH = '/graphql/realtime';
export const REALTIME_SUBPROTOCOL = 'graphql-ws';

/** An error the protocol reports with its `errorType`: the same class the client raises. */
export { RealtimeError };

/** The caller, as `authenticate` verified it. Subscriptions of one connection all belong to one `sub`. */
export interface RealtimeIdentity {
  sub: string;
}

/** The GraphQL request carried (as a JSON string) in a `start` message's `payload.data`. */
export interface SubscriptionDocument {
  query: string;
  variables: Record<string, unknown>;
  operationName?: string;
}

export type { RealtimeSubscription };

export interface RealtimeServerOptions<I extends RealtimeIdentity = RealtimeIdentity, E extends object = object> {
  /**
   * Verifies the authorization headers (for Cognito user pools `{ host, Authorization: <ID token> }`).
   * Called with the handshake's `header` and again with each start's `extensions.authorization`.
   * Throws an error with an `errorType` (e.g. 'UnauthorizedException') when they are not valid.
   */
  authenticate(headers: Record<string, string>): Promise<I>;
  /** Runs the subscription's resolver for this caller; throws an error with an `errorType` to refuse. */
  subscribe(identity: I, document: SubscriptionDocument): Promise<RealtimeSubscription<E>>;
  logger: Logger;
  /** Request path of the endpoint. Default `/graphql/realtime`. */
  path?: string;
  /** Interval of `ka` messages. Default 60 000 ms (AppSync's). */
  keepAliveIntervalMs?: number;
  /** `connectionTimeoutMs` advertised in `connection_ack`. Default 300 000 ms (AppSync's). */
  connectionTimeoutMs?: number;
  /** A connection that sends neither `connection_init` nor `start` in this time is closed. Default 30 000 ms. */
  connectionInitTimeoutMs?: number;
  /** Active plus pending subscriptions per connection. Default 100 (AppSync's quota). */
  maxSubscriptionsPerConnection?: number;
  /** Open connections of one identity (`sub`). Default 20: the twin's bound, AppSync documents none per identity. */
  maxConnectionsPerIdentity?: number;
  /** Largest `data` payload (bytes of its JSON); a larger one is not delivered. Default 240 000 (AppSync: 240 kB). */
  maxPayloadBytes?: number;
  /** `data` messages sent per event-loop turn; the rest follow after a yield, in order. Default 100. */
  deliveryBatch?: number;
  /** Largest inbound WebSocket message; larger ones close the connection with 1009. Default 128 KiB. */
  maxMessageBytes?: number;
}

/** Close codes. AppSync documents none; these are the RFC 6455 ones closest to each case. */
export const CLOSE_CODES = {
  /** After a `connection_error` for a bad token or missing/invalid handshake parameters. */
  policyViolation: 1008,
  /** After a `connection_error` for a wrong subprotocol or a missing `connection_init`. */
  protocolError: 1002,
  /** The server shuts down. */
  goingAway: 1001,
} as const;

interface ErrorEntry {
  errorType: string;
  message: string;
  errorCode?: number;
}


interface Connection<I extends RealtimeIdentity, E extends object> {
  connectionId: string;
  socket: WebSocket;
  identity?: I;
  initialized: boolean;
  closed: boolean;
  active: Map<string, ActiveSubscription<E>>;
  /** Starts being authorized; `stopped` is set when a `stop` for the id arrives meanwhile. */
  pending: Map<string, { stopped: boolean }>;
  keepAlive?: NodeJS.Timeout;
  initTimer?: NodeJS.Timeout;
}

export class RealtimeServer<I extends RealtimeIdentity = RealtimeIdentity, E extends object = object> {
  private readonly wss: WebSocketServer;
  private readonly connections = new Set<Connection<I, E>>();
  private readonly path: string;
  private readonly keepAliveIntervalMs: number;
  private readonly connectionTimeoutMs: number;
  private readonly connectionInitTimeoutMs: number;
  private readonly maxSubscriptions: number;
  private readonly maxConnectionsPerIdentity: number;
  private readonly perIdentity = new Map<string, number>();
  private readonly fanout: FanOut<E>;
  private readonly logger: Logger;
  /** The servers it serves upgrades on (the local AppSync's HTTP and HTTPS servers), each with its listener. */
  private readonly servers = new Map<http.Server, (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void>();
  private shuttingDown = false;

  constructor(
    server: http.Server,
    private readonly options: RealtimeServerOptions<I, E>,
  ) {
    this.path = options.path ?? REALTIME_PATH;
    this.keepAliveIntervalMs = options.keepAliveIntervalMs ?? 60_000;
    this.connectionTimeoutMs = options.connectionTimeoutMs ?? 300_000;
    this.connectionInitTimeoutMs = options.connectionInitTimeoutMs ?? 30_000;
    this.maxSubscriptions = options.maxSubscriptionsPerConnection ?? 100;
    this.maxConnectionsPerIdentity = options.maxConnectionsPerIdentity ?? 20;
    this.fanout = new FanOut<E>({ logger: options.logger, maxPayloadBytes: options.maxPayloadBytes ?? 240_000, deliveryBatch: options.deliveryBatch ?? 100 });
    this.logger = options.logger;
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      maxPayload: options.maxMessageBytes ?? 128 * 1024,
      // Answer with `graphql-ws` when offered; otherwise no subprotocol, and connection_error below.
      handleProtocols: (protocols) => (protocols.has(REALTIME_SUBPROTOCOL) ? REALTIME_SUBPROTOCOL : false),
    });
    this.attach(server);
  }

  /** Serves the realtime endpoint on another server too (HTTPS beside HTTP): same connections, same subscriptions. */
  attach(server: http.Server): void {
    const onUpgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(server, req, socket, head);
    this.servers.set(server, onUpgrade);
    server.on('upgrade', onUpgrade);
  }

  /** Open connections and their subscriptions (active, i.e. acknowledged with start_ack). */
  stats(): { connections: number; subscriptions: number } {
    let subscriptions = 0;
    for (const c of this.connections) subscriptions += c.active.size;
    return { connections: this.connections.size, subscriptions };
  }

  /**
   * Delivers an event published by `mutationField` (e.g. 'publishAnswer') to every subscription fed
   * by that mutation whose filter accepts it, and returns their number (fanout.ts: indexed, batched).
   */
  publish(mutationField: string, event: E): number {
    return this.fanout.publish(mutationField, event);
  }

  /** Closes every connection (1001) and detaches from the servers. Call before their `close()`. */
  async close(): Promise<void> {
    this.shuttingDown = true;
    for (const [server, onUpgrade] of this.servers) server.off('upgrade', onUpgrade);
    this.servers.clear();
    const closing = [...this.connections].map(
      (conn) =>
        new Promise<void>((resolve) => {
          if (conn.socket.readyState === WebSocket.CLOSED) return resolve();
          const timer = setTimeout(() => conn.socket.terminate(), 1_000);
          conn.socket.once('close', () => {
            clearTimeout(timer);
            resolve();
          });
          conn.socket.close(CLOSE_CODES.goingAway, 'Server shutting down');
        }),
    );
    await Promise.all(closing);
    this.wss.close();
  }

  /** An upgrade never throws: a target that is not a URL gets a 400, and a failing socket is only logged. */
  private upgrade(server: http.Server, req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', (err) => this.logger.log('info', 'realtime.upgrade.socket_error', { error: err.message }));
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://local');
    } catch {
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    try {
      this.route(server, req, socket, head, url);
    } catch (err) {
      this.logger.log('error', 'realtime.upgrade.failed', { error: (err as Error).message });
      socket.end('HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    }
  }

  private route(server: http.Server, req: http.IncomingMessage, socket: Duplex, head: Buffer, url: URL): void {
    if (url.pathname !== this.path || this.shuttingDown) {
      // Leave other paths to other upgrade listeners; if there are none, answer 404.
      if (server.listeners('upgrade').length <= 1 || this.shuttingDown) {
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      }
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, req, url));
  }

  private accept(socket: WebSocket, req: http.IncomingMessage, url: URL): void {
    const conn: Connection<I, E> = { connectionId: randomUUID(), socket, initialized: false, closed: false, active: new Map(), pending: new Map() };
    this.connections.add(conn);
    socket.on('error', (err) => this.logger.log('warn', 'realtime.socket.error', { connectionId: conn.connectionId, error: err.message }));
    socket.on('close', (code) => this.cleanup(conn, code));

    // Messages may arrive while the handshake's token is being verified: handle them, in order, after.
    const ready = this.authenticateHandshake(conn, req, url);
    socket.on('message', (data, isBinary) => {
      void ready.then((ok) => {
        if (ok && !conn.closed) return this.onMessage(conn, data, isBinary);
      });
    });
  }

  private async authenticateHandshake(conn: Connection<I, E>, req: http.IncomingMessage, url: URL): Promise<boolean> {
    if (conn.socket.protocol !== REALTIME_SUBPROTOCOL) {
      // What AppSync answers to a connection without the graphql-ws subprotocol.
      this.connectionError(conn, { errorType: 'SubProtocolNotSupportedError', message: 'SubProtocolNotSupportedError', errorCode: 400 }, CLOSE_CODES.protocolError);
      return false;
    }
    // Two forms of the handshake: the query string (`?header=…&payload=e30=`, both required) or the
    // subprotocol (`Sec-WebSocket-Protocol: graphql-ws, header-<base64url>`, no query string: what
    // Amplify v6 sends). A query-string header wins when both are given, as before.
    const queryHeader = url.searchParams.get('header');
    const subprotocolHeader = queryHeader === null ? headerFromSubprotocol(req) : null;
    const headerParam = queryHeader ?? subprotocolHeader;
    const payloadParam = url.searchParams.get('payload');
    let headers: Record<string, string> | undefined;
    try {
      const payloadRequired = subprotocolHeader === null;
      if (payloadParam === null ? payloadRequired : !isPlainObject(decodeBase64Json(payloadParam))) throw new Error('payload');
      headers = headerParam === null ? undefined : stringHeaders(decodeBase64Json(headerParam));
    } catch {
      this.connectionError(
        conn,
        { errorType: 'BadRequestException', message: 'The header and payload query parameters must be base64-encoded JSON objects.', errorCode: 400 },
        CLOSE_CODES.policyViolation,
      );
      return false;
    }
    if (!headers || Object.keys(headers).length === 0) {
      this.connectionError(conn, { errorType: 'UnauthorizedException', message: 'You are not authorized to make this call.', errorCode: 401 }, CLOSE_CODES.policyViolation);
      return false;
    }
    let identity: I;
    try {
      identity = await this.options.authenticate(headers);
    } catch (err) {
      const errorType = errorTypeOf(err) ?? 'UnauthorizedException';
      this.logger.log('info', 'realtime.connect.refused', { connectionId: conn.connectionId, errorType });
      this.connectionError(
        conn,
        { errorType, message: 'You are not authorized to make this call.', errorCode: errorCodeOf(err) ?? (errorType.startsWith('Unauthorized') ? 401 : 400) },
        CLOSE_CODES.policyViolation,
      );
      return false;
    }
    if (conn.closed) return false;
    const open = this.perIdentity.get(identity.sub) ?? 0;
    if (open >= this.maxConnectionsPerIdentity) {
      this.logger.log('warn', 'realtime.connect.limit', { connectionId: conn.connectionId, sub: identity.sub, limit: this.maxConnectionsPerIdentity });
      this.connectionError(
        conn,
        { errorType: 'LimitExceededError', message: `At most ${this.maxConnectionsPerIdentity} open connections per user.`, errorCode: 429 },
        CLOSE_CODES.policyViolation,
      );
      return false;
    }
    conn.identity = identity;
    this.perIdentity.set(identity.sub, open + 1);
    this.logger.log('info', 'realtime.connect', { connectionId: conn.connectionId, sub: identity.sub });
    conn.initTimer = setTimeout(() => {
      if (conn.initialized || conn.closed) return;
      this.logger.log('info', 'realtime.init.timeout', { connectionId: conn.connectionId });
      this.connectionError(
        conn,
        { errorType: 'ConnectionInitTimeout', message: `No connection_init within ${this.connectionInitTimeoutMs} ms.`, errorCode: 408 },
        CLOSE_CODES.protocolError,
      );
    }, this.connectionInitTimeoutMs);
    return true;
  }

  private onMessage(conn: Connection<I, E>, data: RawData, isBinary: boolean): Promise<void> | void {
    if (isBinary) return this.sendError(conn, undefined, { errorType: 'BadRequestException', message: 'Messages must be JSON text.' });
    let message: unknown;
    try {
      message = JSON.parse(rawToString(data));
    } catch {
      return this.sendError(conn, undefined, { errorType: 'BadRequestException', message: 'The message is not valid JSON.' });
    }
    if (!isPlainObject(message) || typeof message.type !== 'string') {
      return this.sendError(conn, undefined, { errorType: 'BadRequestException', message: 'The message must be a JSON object with a string "type".' });
    }
    const id = typeof message.id === 'string' && message.id ? message.id : undefined;
    switch (message.type) {
      case 'connection_init':
        return this.init(conn);
      case 'start':
        this.init(conn, false); // connection_init is optional in AppSync's protocol
        if (!id) return this.sendError(conn, undefined, { errorType: 'BadRequestException', message: 'A start message needs a non-empty string "id".' });
        return this.start(conn, id, message.payload);
      case 'stop':
        if (!id) return this.sendError(conn, undefined, { errorType: 'BadRequestException', message: 'A stop message needs a non-empty string "id".' });
        return this.stop(conn, id);
      default:
        return this.sendError(conn, id, { errorType: 'UnsupportedOperation', message: `Message type ${JSON.stringify(message.type.slice(0, 64))} is not supported.` });
    }
  }

  private init(conn: Connection<I, E>, ack = true): void {
    if (conn.initialized) {
      if (ack) this.send(conn, { type: 'connection_ack', payload: { connectionTimeoutMs: this.connectionTimeoutMs } });
      return;
    }
    conn.initialized = true;
    clearTimeout(conn.initTimer);
    if (ack) this.send(conn, { type: 'connection_ack', payload: { connectionTimeoutMs: this.connectionTimeoutMs } });
    // AppSync sends a first ka right after the ack, then one per interval.
    this.send(conn, { type: 'ka' });
    conn.keepAlive = setInterval(() => this.send(conn, { type: 'ka' }), this.keepAliveIntervalMs);
  }

  private async start(conn: Connection<I, E>, id: string, payload: unknown): Promise<void> {
    if (conn.active.has(id) || conn.pending.has(id)) {
      return this.sendError(conn, id, { errorType: 'DuplicatedOperationError', message: `Subscription id ${id} is already in use on this connection.` });
    }
    if (conn.active.size + conn.pending.size >= this.maxSubscriptions) {
      // The errorType AppSync answers the 101st subscription with (Amplify's clients match on it).
      return this.sendError(conn, id, { errorType: 'MaxSubscriptionsReachedError', message: `At most ${this.maxSubscriptions} subscriptions per connection.` });
    }
    const pending = { stopped: false };
    conn.pending.set(id, pending);
    let outcome: ActiveSubscription<E> | ErrorEntry;
    try {
      outcome = await this.authorizeStart(conn, id, payload);
    } finally {
      conn.pending.delete(id);
    }
    if (conn.closed || pending.stopped) return; // stop already answered with complete
    if ('errorType' in outcome) {
      this.logger.log('info', 'realtime.start.refused', { connectionId: conn.connectionId, subscriptionId: id, errorType: outcome.errorType });
      return this.sendError(conn, id, outcome);
    }
    // Registered before start_ack leaves: a publish after the client sees start_ack is delivered.
    conn.active.set(id, outcome);
    this.fanout.add(outcome);
    this.send(conn, { id, type: 'start_ack' });
    this.logger.log('info', 'realtime.start', { connectionId: conn.connectionId, subscriptionId: id, fieldName: outcome.subscription.fieldName });
  }

  private async authorizeStart(conn: Connection<I, E>, id: string, payload: unknown): Promise<ActiveSubscription<E> | ErrorEntry> {
    if (!isPlainObject(payload) || typeof payload.data !== 'string') {
      return { errorType: 'BadRequestException', message: 'start.payload.data must be a JSON string of {query, variables}.' };
    }
    const extensions = isPlainObject(payload.extensions) ? payload.extensions : undefined;
    const headers = stringHeaders(extensions?.authorization);
    if (!headers || Object.keys(headers).length === 0) {
      return { errorType: 'UnauthorizedException', message: 'Valid authorization header not provided.' };
    }
    let identity: I;
    try {
      identity = await this.options.authenticate(headers);
    } catch (err) {
      return { errorType: errorTypeOf(err) ?? 'UnauthorizedException', message: 'You are not authorized to make this call.' };
    }
    if (identity.sub !== conn.identity?.sub) {
      this.logger.log('warn', 'realtime.start.identity_mismatch', { connectionId: conn.connectionId, subscriptionId: id });
      return { errorType: 'UnauthorizedException', message: "The subscription's authorization does not belong to this connection's user." };
    }
    let document: SubscriptionDocument;
    try {
      const data = JSON.parse(payload.data) as unknown;
      if (!isPlainObject(data) || typeof data.query !== 'string') throw new Error('query');
      if (data.variables !== undefined && data.variables !== null && !isPlainObject(data.variables)) throw new Error('variables');
      document = {
        query: data.query,
        variables: (data.variables as Record<string, unknown> | null | undefined) ?? {},
        ...(typeof data.operationName === 'string' ? { operationName: data.operationName } : {}),
      };
    } catch {
      return { errorType: 'BadRequestException', message: 'start.payload.data must be a JSON string of {query, variables}.' };
    }
    try {
      const subscription = await this.options.subscribe(identity, document);
      return { id, subscription, conn };
    } catch (err) {
      const errorType = errorTypeOf(err);
      if (errorType) return { errorType, message: (err as Error).message };
      this.logger.log('error', 'realtime.subscribe.failed', { connectionId: conn.connectionId, subscriptionId: id, error: (err as Error)?.name });
      return { errorType: 'InternalFailure', message: 'The subscription could not be started.' };
    }
  }

  private stop(conn: Connection<I, E>, id: string): void {
    const pending = conn.pending.get(id);
    const active = conn.active.get(id);
    if (pending) {
      pending.stopped = true;
    } else if (active) {
      conn.active.delete(id);
      this.fanout.remove(active);
    } else {
      return this.sendError(conn, id, { errorType: 'BadRequestException', message: `No subscription with id ${id} on this connection.` });
    }
    this.send(conn, { id, type: 'complete' });
    this.logger.log('info', 'realtime.stop', { connectionId: conn.connectionId, subscriptionId: id });
  }

  private cleanup(conn: Connection<I, E>, code: number): void {
    if (!this.connections.delete(conn)) return;
    conn.closed = true;
    clearTimeout(conn.initTimer);
    clearInterval(conn.keepAlive);
    this.logger.log('info', 'realtime.disconnect', { connectionId: conn.connectionId, code, subscriptions: conn.active.size });
    if (conn.identity) {
      const open = (this.perIdentity.get(conn.identity.sub) ?? 1) - 1;
      if (open > 0) this.perIdentity.set(conn.identity.sub, open);
      else this.perIdentity.delete(conn.identity.sub);
    }
    for (const entry of conn.active.values()) this.fanout.remove(entry);
    conn.active.clear();
    for (const p of conn.pending.values()) p.stopped = true;
  }

  private send(conn: Connection<I, E>, message: Record<string, unknown>): void {
    if (conn.closed || conn.socket.readyState !== WebSocket.OPEN) return;
    conn.socket.send(JSON.stringify(message));
  }

  private sendError(conn: Connection<I, E>, id: string | undefined, error: ErrorEntry): void {
    this.send(conn, { ...(id ? { id } : {}), type: 'error', payload: { errors: [{ errorType: error.errorType, message: error.message }] } });
  }

  private connectionError(conn: Connection<I, E>, error: ErrorEntry, closeCode: number): void {
    this.send(conn, { type: 'connection_error', payload: { errors: [error] } });
    if (conn.socket.readyState === WebSocket.OPEN) conn.socket.close(closeCode, error.errorType);
    this.cleanup(conn, closeCode);
  }
}
