/**
 * Streaming: ask -> first CHUNK and ask -> DONE, through the real client (ask mutation, AppSync,
 * realtime WebSocket), for each agent runtime in one run, printed side by side. The local model
 * writes its answer in pieces of a few words; each piece waits BENCH_STREAM_PACE_MS (default 40 ms,
 * about 100 tokens/s for pieces of ~4 tokens, the order of a small model on Bedrock) so that the
 * time to the first piece and to the whole answer differ as they do with a real model. With
 * BENCH_STREAM_PACE_MS=0 the local model is instant. Every run is checked: a FAILED answer stops it.
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { AssistantApi, type AnswerEvent } from '../client/api.ts';
import { signIn } from '../client/auth.ts';
import { startLocalStack } from '../infra/local/stack.ts';
import { AGENT_RUNTIMES } from '../tasks/config.ts';
import { ms, positiveIntEnv, summarise, table, type Stats } from './stats.ts';

export const name = 'stream';
export const description = 'ask -> first CHUNK and ask -> DONE through the real client, converse vs bedrock-agent, side by side';

/** One question whose answer has several pieces (the return policy and two orders). */
const QUESTION = "What's your return policy, and which orders did I place?";

function paceMs(): number {
  const raw = process.env.BENCH_STREAM_PACE_MS;
  if (raw === undefined || raw === '') return 40;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error('BENCH_STREAM_PACE_MS must be a number >= 0');
  return n;
}

interface RuntimeResult {
  firstChunk: Stats;
  done: Stats;
  chunks: number;
}

async function measure(agentRuntime: (typeof AGENT_RUNTIMES)[number], iterations: number, pace: number): Promise<RuntimeResult> {
  // Logs nothing: stopping the stack right after the last DONE may cut that execution's last state short.
  const stack = await startLocalStack({ port: 0, seedOrdersPerUser: 2, agentRuntime, logger: { log: () => {} } });
  if (pace > 0) stack.bedrock.setStreamGate(() => sleep(pace));
  const user = stack.users[0]!;
  const pool = { region: stack.iam.location.region, clientId: stack.cognito.clientId, endpoint: stack.edgeUrl };
  const tokens = await signIn(pool, user.username, stack.cognito.temporaryPasswords()[user.username]!, () => `Bench-${randomUUID()}-9!`);
  const api = new AssistantApi({ graphqlUrl: stack.graphqlUrl, realtimeUrl: stack.realtimeUrl, idToken: tokens.idToken, answerTimeoutMs: 30_000 });
  const connection = await api.connect();
  try {
    const firstChunk: number[] = [];
    const done: number[] = [];
    let chunks = 0;
    const once = async (record: boolean) => {
      const started = performance.now();
      let first: number | undefined;
      const { events, final } = await api.ask(QUESTION, {
        connection,
        onEvent: (e: AnswerEvent) => {
          if (e.status === 'CHUNK') first ??= performance.now() - started;
        },
      });
      const ended = performance.now() - started;
      if (final.status !== 'DONE' || first === undefined) throw new Error(`A run did not stream an answer: ${final.status} ${final.error ?? ''}`);
      if (record) {
        firstChunk.push(first);
        done.push(ended);
        chunks += events.filter((e) => e.status === 'CHUNK').length;
      }
    };
    for (let i = 0; i < 5; i++) await once(false);
    for (let i = 0; i < iterations; i++) await once(true);
    return { firstChunk: summarise(firstChunk), done: summarise(done), chunks: chunks / iterations };
  } finally {
    connection.close();
    await stack.stop();
  }
}

export async function run(): Promise<void> {
  const iterations = positiveIntEnv('BENCH_ITERATIONS', 30);
  const pace = paceMs();
  const rows: string[][] = [];
  const results = new Map<string, RuntimeResult>();
  for (const runtime of AGENT_RUNTIMES) {
    const r = await measure(runtime, iterations, pace);
    results.set(runtime, r);
    rows.push([runtime, ms(r.firstChunk.p50), ms(r.firstChunk.p99), ms(r.done.p50), ms(r.done.p99), r.chunks.toFixed(1)]);
  }
  process.stdout.write(
    `node ${process.version}, ${os.cpus().length} CPUs; ${iterations} sequential questions per runtime ("${QUESTION}"); ` +
      (pace > 0 ? `the local model writes a piece of its answer every ${pace} ms\n\n` : 'the local model is instant (BENCH_STREAM_PACE_MS=0)\n\n'),
  );
  process.stdout.write(`${table(['runtime', 'first CHUNK p50 ms', 'first CHUNK p99 ms', 'DONE p50 ms', 'DONE p99 ms', 'CHUNKs/answer'], rows)}\n`);
  for (const [runtime, r] of results) {
    process.stdout.write(`${runtime}: the first CHUNK arrives ${ms(r.done.p50 - r.firstChunk.p50)} ms before DONE at p50\n`);
  }
}
