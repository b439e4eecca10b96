/**
 * Realtime fan-out: how long one publish to 1,000 subscriptions holds the event loop (the time no
 * other request, keep-alive or publish is served). 50 users, 2 connections each, 10 subscriptions
 * per connection (within the twin's limits), all subscribed to one key; real WebSocket clients in
 * this process. Measured with `monitorEventLoopDelay` from the publish until every client has its
 * message, for a small and a 100 KB event.
 *
 * Baseline, measured in the same run: the delivery before issue 12 (every subscription on the
 * server scanned, each projected and serialized on its own, every message sent in the publishing
 * turn), reproduced by subscriptions without index key or shape and an unbounded batch.
 * The clients' own receiving (JSON parsing of every message) runs in this process too and counts
 * in both columns.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { executeSync, parse } from 'graphql';
import { WebSocket } from 'ws';
import { connectRealtime, type RealtimeConnection } from '../client/realtime.ts';
import { loadSchema, type AnswerEventRecord } from '../infra/local/services/appsync/graphql.ts';
import { RealtimeServer, type RealtimeSubscription, type SubscriptionDocument } from '../infra/local/services/appsync/realtime.ts';
import { silentLogger } from '../infra/local/edge/log.ts';
import { positiveIntEnv } from './stats.ts';

export const name = 'fanout';
export const description = 'event-loop delay during one realtime publish to 1,000 subscriptions, indexed and batched vs. the old linear delivery';

const USERS = 50;
const CONNECTIONS_PER_USER = 2;
const SUBSCRIPTIONS_PER_CONNECTION = 10;
const KEY = 'broadcast';
const QUERY = 'subscription S($answerId: ID!) { onAnswer(answerId: $answerId) { answerId userId status seq text } }';
const schema = loadSchema();

type Mode = 'baseline' | 'current';

function resolver(mode: Mode) {
  return async (_identity: { sub: string }, doc: SubscriptionDocument): Promise<RealtimeSubscription<AnswerEventRecord>> => {
    const document = parse(doc.query);
    const answerId = doc.variables.answerId;
    return {
      fieldName: 'onAnswer',
      mutations: ['publishAnswer'],
      ...(mode === 'current' ? { key: { field: 'answerId', value: String(answerId) }, shape: `${doc.query}\n${JSON.stringify(doc.variables)}` } : {}),
      filter: (e) => e.answerId === answerId,
      project: (e) => executeSync({ schema, document, rootValue: { onAnswer: e }, variableValues: doc.variables }).data as Record<string, unknown>,
    };
  };
}

async function measure(mode: Mode, textBytes: number, rounds: number): Promise<{ maxMs: number; publishMs: number; totalMs: number }> {
  const server = http.createServer((_req, res) => res.writeHead(404).end());
  const realtime = new RealtimeServer<{ sub: string }, AnswerEventRecord>(server, {
    authenticate: async (headers) => ({ sub: headers.Authorization ?? '' }),
    subscribe: resolver(mode),
    logger: silentLogger,
    ...(mode === 'baseline' ? { deliveryBatch: Number.POSITIVE_INFINITY } : {}),
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const connections: RealtimeConnection[] = [];
  let received = 0;
  let allIn: (() => void) | undefined;
  const total = USERS * CONNECTIONS_PER_USER * SUBSCRIPTIONS_PER_CONNECTION;
  try {
    for (let u = 0; u < USERS; u++) {
      for (let c = 0; c < CONNECTIONS_PER_USER; c++) {
        const conn = await connectRealtime({ realtimeUrl: `ws://${host}/graphql/realtime`, host, authorization: `user-${u}`, WebSocketImpl: WebSocket });
        connections.push(conn);
        for (let s = 0; s < SUBSCRIPTIONS_PER_CONNECTION; s++) {
          await conn.subscribe(QUERY, { answerId: KEY }, () => {
            if (++received === total) allIn?.();
          });
        }
      }
    }
    const text = 'x'.repeat(textBytes);
    const samples = { maxMs: 0, publishMs: 0, totalMs: 0 };
    for (let r = 0; r < rounds; r++) {
      received = 0;
      const done = new Promise<void>((resolve) => (allIn = resolve));
      const histogram = monitorEventLoopDelay({ resolution: 1 });
      histogram.enable();
      const t0 = performance.now();
      realtime.publish('publishAnswer', { answerId: KEY, userId: 'publisher', status: 'DONE', seq: r + 1, text, error: null, step: null });
      const t1 = performance.now();
      await done;
      const t2 = performance.now();
      // One more timer turn, so that the monitor records the delay of the last blocked turn.
      await new Promise((resolve) => setTimeout(resolve, 5));
      histogram.disable();
      samples.maxMs = Math.max(samples.maxMs, histogram.max / 1e6);
      samples.publishMs += (t1 - t0) / rounds;
      samples.totalMs += (t2 - t0) / rounds;
    }
    return samples;
  } finally {
    for (const c of connections) c.close();
    await realtime.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

export async function run(): Promise<void> {
  const rounds = positiveIntEnv('BENCH_FANOUT_ROUNDS', 5);
  const total = USERS * CONNECTIONS_PER_USER * SUBSCRIPTIONS_PER_CONNECTION;
  process.stdout.write(`${total} subscriptions (${USERS} users x ${CONNECTIONS_PER_USER} connections x ${SUBSCRIPTIONS_PER_CONNECTION}), ${rounds} publishes each\n`);
  for (const [label, bytes] of [['small event', 100], ['100 KB event', 100 * 1024]] as const) {
    const before = await measure('baseline', bytes, rounds);
    const after = await measure('current', bytes, rounds);
    const row = (m: string, v: { maxMs: number; publishMs: number; totalMs: number }) =>
      `  ${m.padEnd(9)} max event-loop delay ${v.maxMs.toFixed(1).padStart(7)} ms   publish() call ${v.publishMs.toFixed(1).padStart(7)} ms   until all delivered ${v.totalMs.toFixed(1).padStart(7)} ms\n`;
    process.stdout.write(`${label}:\n${row('baseline', before)}${row('current', after)}`);
    // The publishing turn itself is the one the monitor can miss (it blocks before the monitor's first tick).
    const longest = (v: { maxMs: number; publishMs: number }) => Math.max(v.maxMs, v.publishMs);
    process.stdout.write(`  longest blocked turn (max of the two): ${longest(before).toFixed(1)} ms -> ${longest(after).toFixed(1)} ms\n`);
  }
}
