/**
 * The assistant's client API, shared by the CLI and the web UI: GraphQL over HTTP with variables
 * (never string building), and `ask`, which subscribes to the answer over the realtime WebSocket
 * and waits for `start_ack` BEFORE it sends the mutation, so that no event can be missed.
 */
import { EventOrder } from './event-order.ts';
import { connectRealtime, RealtimeError, type RealtimeConnection, type WebSocketConstructor } from './realtime.ts';

export const ASK = /* GraphQL */ `
  mutation Ask($answerId: ID!, $question: String!, $conversationId: ID) {
    ask(answerId: $answerId, question: $question, conversationId: $conversationId) {
      answerId
      executionId
    }
  }
`;

export const ON_ANSWER = /* GraphQL */ `
  subscription OnAnswer($answerId: ID!) {
    onAnswer(answerId: $answerId) {
      answerId
      userId
      status
      seq
      text
      error
      step
    }
  }
`;

/**
 * The schema's `AnswerStatus` and `AnswerEvent` (resolvers/schema.graphql), as the client receives
 * them: client/ depends on the GraphQL schema only, not on the tasks that publish (api.test.ts
 * checks these against the schema).
 */
export const ANSWER_STATUSES = ['ACCEPTED', 'PROGRESS', 'CHUNK', 'DONE', 'FAILED'] as const;
export type AnswerStatus = (typeof ANSWER_STATUSES)[number];

export interface AnswerEvent {
  answerId: string;
  userId: string;
  status: AnswerStatus;
  seq: number;
  text: string | null;
  error: string | null;
  step: string | null;
}

export class ApiError extends Error {
  constructor(
    message: string,
    readonly errorType: string,
    readonly status: number,
    /** The GraphQL error's `errorInfo` (AppSync's util.error fourth argument), when it has one. */
    readonly info: Record<string, unknown> | null = null,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/**
 * The answer's realtime connection ended (the network, or the stack stopped) after the question
 * was sent and before its terminal event (DONE or FAILED) arrived: the run may have finished, failed
 * or been stopped. It names the answer, the execution when the ask returned it, and the last event
 * that did arrive, so that the asker can follow it up (show, replay) or ask again.
 */
export class AnswerCutOffError extends Error {
  readonly errorType = 'AnswerCutOff';
  constructor(
    readonly answerId: string,
    /** The execution's ARN, when the ask mutation returned it. */
    readonly executionId: string | null,
    /** The last event that arrived before the cut, if any. */
    readonly lastEvent: AnswerEvent | null,
    /** What ended it (a RealtimeError, such as `The realtime connection closed (1006).`, or a network error). */
    readonly reason: Error,
  ) {
    super(`The answer ${answerId} was cut off before its DONE or FAILED event arrived: ${reason.message}`);
    this.name = 'AnswerCutOffError';
  }
}

/** A fetch that never got a response (browsers: TypeError "Failed to fetch"; Node: "fetch failed"). */
const isNetworkFailure = (err: unknown) => err instanceof TypeError && /fetch|network|load failed/i.test(err.message);

/**
 * The GraphQL error types of an ask that admission refused (Mutation.ask's pipeline): `Throttled`
 * (the user's per-minute, burst-span or concurrency limit) and `QuotaExceeded` (the tenant's day
 * or monthly token budget). Nothing was started; the message names the limit and when to retry.
 */
export const REFUSAL_TYPES = ['Throttled', 'QuotaExceeded'] as const;

export interface Refusal {
  errorType: (typeof REFUSAL_TYPES)[number];
  message: string;
  /** Which limit (tasks/usage.ts REFUSAL_REASONS), or `busy`. */
  reason: string;
  /** When asking again may be admitted (ISO 8601), if the API said. */
  retryAfter: Date | null;
}

/** The refusal an error is, or null. */
export function refusalOf(err: unknown): Refusal | null {
  if (!(err instanceof ApiError) || !(REFUSAL_TYPES as readonly string[]).includes(err.errorType)) return null;
  const reason = typeof err.info?.reason === 'string' ? err.info.reason : 'unknown';
  const at = typeof err.info?.retryAfter === 'string' ? new Date(err.info.retryAfter) : null;
  return { errorType: err.errorType as Refusal['errorType'], message: err.message, reason, retryAfter: at && !Number.isNaN(at.getTime()) ? at : null };
}

export interface ApiOptions {
  /** `https://<id>.appsync-api.<region>.amazonaws.com/graphql`, or the local one. */
  graphqlUrl: string;
  /** `wss://<id>.appsync-realtime-api.<region>.amazonaws.com/graphql`, or the local one. */
  realtimeUrl: string;
  /** The Cognito ID token of the signed-in user (or a function returning a fresh one). */
  idToken: string | (() => string);
  WebSocketImpl?: WebSocketConstructor;
  /** How long `ask` waits for the terminal event. @default 60 000 */
  answerTimeoutMs?: number;
}

/** A JWT's payload claims, read without verification: for display and for the caller's own ids only. */
export function jwtClaims(token: string): Record<string, unknown> {
  const payload = token.split('.')[1];
  if (!payload) throw new ApiError('The token is malformed.', 'InvalidToken', 0);
  const binary = atob(payload.replace(/-/g, '+').replace(/_/g, '/'));
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)))) as Record<string, unknown>;
}

/** The `sub` claim of a JWT, read without verification: only to build the caller's own answerId. */
export function subOf(idToken: string): string {
  const sub = jwtClaims(idToken).sub;
  if (typeof sub !== 'string' || !sub) throw new ApiError('The ID token has no sub.', 'InvalidToken', 0);
  return sub;
}

export class AssistantApi {
  constructor(private readonly options: ApiOptions) {}

  private token(): string {
    return typeof this.options.idToken === 'function' ? this.options.idToken() : this.options.idToken;
  }

  async graphql<T>(query: string, variables: Record<string, unknown>): Promise<T> {
    const response = await fetch(this.options.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: this.token() },
      body: JSON.stringify({ query, variables }),
    });
    const payload = (await response.json().catch(() => ({}))) as { data?: T; errors?: { message: string; errorType?: string; errorInfo?: unknown }[] };
    const first = payload.errors?.[0];
    if (!response.ok || first) {
      const info = first?.errorInfo && typeof first.errorInfo === 'object' ? (first.errorInfo as Record<string, unknown>) : null;
      throw new ApiError(first?.message ?? `GraphQL request failed with HTTP ${response.status}`, first?.errorType ?? 'HttpError', response.status, info);
    }
    return payload.data as T;
  }

  /**
   * Opens the realtime connection (one per client is enough for many questions: each subscribe
   * sends the current token). `onConnectionError`: the connection ended without `close()`.
   */
  connect(options: { onConnectionError?: (error: RealtimeError) => void } = {}): Promise<RealtimeConnection> {
    const url = new URL(this.options.graphqlUrl);
    return connectRealtime({
      realtimeUrl: this.options.realtimeUrl,
      host: url.host,
      authorization: () => this.token(),
      ...(this.options.WebSocketImpl ? { WebSocketImpl: this.options.WebSocketImpl } : {}),
      ...(options.onConnectionError ? { onConnectionError: options.onConnectionError } : {}),
    });
  }

  /**
   * Asks a question and resolves with every event up to and including the terminal one (DONE or
   * FAILED). `onEvent` sees each event as it arrives (progress, chunks), in seq order: one that
   * arrives early waits for those before it (event-order.ts), a repeated one is dropped.
   */
  async ask(
    question: string,
    options: { conversationId?: string; connection?: RealtimeConnection; onEvent?: (e: AnswerEvent) => void } = {},
  ): Promise<{ answerId: string; executionId: string; events: AnswerEvent[]; final: AnswerEvent }> {
    const answerId = `${subOf(this.token())}.${globalThis.crypto.randomUUID()}`;
    const connection = options.connection ?? (await this.connect());
    const events: AnswerEvent[] = [];
    let settle!: { resolve: (e: AnswerEvent) => void; reject: (e: Error) => void };
    const final = new Promise<AnswerEvent>((resolve, reject) => (settle = { resolve, reject }));
    // Awaited only once the ask mutation returned: when the mutation fails (the stack went away), the
    // connection's error that follows is not left as an unhandled rejection; the mutation's is thrown.
    final.catch(() => undefined);
    const order = new EventOrder<AnswerEvent>((event) => {
      events.push(event);
      options.onEvent?.(event);
      if (event.status === 'DONE' || event.status === 'FAILED') settle.resolve(event);
    });
    const subscription = await connection.subscribe(
      ON_ANSWER,
      { answerId },
      (data) => {
        const event = (data as { onAnswer?: AnswerEvent }).onAnswer;
        if (event) order.accept(event);
      },
      (err) => settle.reject(err),
    );
    const timeoutMs = this.options.answerTimeoutMs ?? 60_000;
    const timer = setTimeout(() => settle.reject(new ApiError(`No answer within ${timeoutMs} ms`, 'Timeout', 0)), timeoutMs);
    let executionId: string | null = null;
    try {
      // Only now that start_ack arrived is it safe to start the run that will publish the answer.
      const receipt = await this.graphql<{ ask: { answerId: string; executionId: string } }>(ASK, {
        answerId,
        question,
        conversationId: options.conversationId ?? null,
      });
      executionId = receipt.ask.executionId;
      const last = await final;
      return { answerId, executionId, events, final: last };
    } catch (err) {
      // Sent (or being sent) and then cut off: say which answer, and which run if it started.
      if (err instanceof RealtimeError || isNetworkFailure(err)) throw new AnswerCutOffError(answerId, executionId, events.at(-1) ?? null, err as Error);
      throw err;
    } finally {
      clearTimeout(timer);
      order.close();
      await subscription.unsubscribe().catch(() => undefined);
      if (!options.connection) connection.close();
    }
  }
}
