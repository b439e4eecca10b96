/**
 * API latency and throughput: from `ask` sent (after the subscription's start_ack) to DONE received
 * over the realtime WebSocket, through the real client, beside the workflow alone (StartExecution
 * to the published DONE event, the floor for this layer), in one run. Every run is checked: a
 * FAILED answer stops the benchmark.
 *
 * Client, AppSync, edge, engine, tasks and dynalite share this process and its event loop, on
 * loopback: the numbers compare the layers on one machine.
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { RealtimeConnection } from '../client/realtime.ts';
import { askingInTurn } from './clients.ts';
import { startLocalStack } from '../infra/local/stack.ts';
import { machineBoundLines, measureSdkCallCost, measureStackCallCost, RequestCounter } from './machine.ts';
import { ms, openLoop, positiveIntEnv, sequential, summarise, table, throughputAndCpu, type Stats } from './stats.ts';

export const name = 'api';
export const description = 'ask -> DONE over the realtime WebSocket through the real client, beside the workflow alone';

const TARGET = { maxP50Ms: 25, maxP99AtConcurrencyMs: 150, minRps: 100 };
const CONCURRENCY = 32;
/** Answers whose requests are counted for the machine bound. */
const COUNTED_RUNS = 20;
const QUESTION = "What's your return policy?";

export async function run(): Promise<void> {
  const iterations = positiveIntEnv('BENCH_ITERATIONS', 200);
  const throughputMs = positiveIntEnv('BENCH_THROUGHPUT_MS', 3000);
  const started = performance.now();
  // Counts the edge's requests and AppSync's publishes (for the machine bound); logs nothing.
  const counter = new RequestCounter();
  const stack = await startLocalStack({ port: 0, logger: counter, lambdaSandbox: process.env.BENCH_LAMBDA_SANDBOX !== 'off' });
  const connections: RealtimeConnection[] = [];
  const sfn = new SFNClient(stack.clientConfig('operator'));
  try {
    const { askOnce } = await askingInTurn(stack, connections, QUESTION, /^You can return items within \d+ days\.$/);
    const done = new Map<string, () => void>();
    stack.appsync.events.on('publish', (e: { answerId: string; status: string }) => {
      if (e.status === 'DONE') done.get(e.answerId)?.();
    });
    let wf = 0;
    const workflowOnce = async () => {
      const u = stack.users[wf++ % stack.users.length]!;
      const answerId = `${u.sub}.${randomUUID()}`;
      const delivered = new Promise<void>((resolve) => done.set(answerId, resolve));
      const input = { identity: { tenantId: u.tenantId, userId: u.sub, username: u.username }, request: { answerId, question: QUESTION } };
      const out = await sfn.send(new StartExecutionCommand({ stateMachineArn: stack.iam.resources.stateMachineArn, input: JSON.stringify(input) }));
      const d = await stack.states.waitForExecution(out.executionArn!);
      if (d.status !== 'SUCCEEDED') throw new Error(`A workflow run ${d.status}: ${d.error ?? ''}`);
      await delivered;
      done.delete(answerId);
    };

    const variants = { 'api (ask -> DONE over WebSocket)': askOnce, 'workflow alone (floor)': workflowOnce };
    const rows: string[][] = [];
    const results: Record<string, { c1: Stats; c32: Stats; rps: number; cpuMs: number }> = {};
    let counted: RequestCounter | undefined;
    for (const [label, send] of Object.entries(variants)) {
      await sequential(send, 30);
      if (!counted) {
        counter.reset();
        await sequential(send, COUNTED_RUNS);
        counted = counter.snapshot();
      }
      const c1: number[] = [];
      await sequential(send, iterations, c1);
      const c32: number[] = [];
      const { perSecond: rps, cpuMsPerRun: cpuMs } = await throughputAndCpu(send, throughputMs, CONCURRENCY, c32);
      results[label] = { c1: summarise(c1), c32: summarise(c32), rps, cpuMs };
      const r = results[label]!;
      rows.push([label, ms(r.c1.p50), ms(r.c1.p99), ms(r.c32.p50), ms(r.c32.p99), r.rps.toFixed(0), ms(r.cpuMs)]);
    }
    process.stdout.write(
      `node ${process.version}, ${os.cpus().length} CPUs; ${iterations} sequential runs per variant, then ${CONCURRENCY} in flight for ${throughputMs} ms\n\n`,
    );
    process.stdout.write(`${table(['variant', 'c1 p50 ms', 'c1 p99 ms', `c${CONCURRENCY} p50 ms`, `c${CONCURRENCY} p99 ms`, `answers/s @${CONCURRENCY}`, 'CPU ms/answer'], rows)}\n`);
    const cpus = os.cpus().length;
    process.stdout.write(
      `CPU ms/answer: the process's CPU time (all threads) per answer at concurrency ${CONCURRENCY}; ` +
        `${TARGET.minRps} answers/s on ${cpus} CPUs leaves at most ${ms((cpus * 1000) / TARGET.minRps)} ms per answer\n\n`,
    );
    // The ask mutation itself (token check, resolver) is not in the count: it is no edge request.
    process.stdout.write(machineBoundLines(counted!, COUNTED_RUNS, await measureSdkCallCost(), await measureStackCallCost(stack), cpus, 'answer') + '\n');
    const apiR = results['api (ask -> DONE over WebSocket)']!;
    const floor = results['workflow alone (floor)']!;
    process.stdout.write(`the API layer adds ${ms(apiR.c1.p50 - floor.c1.p50)} ms at p50 (concurrency 1) over the workflow alone (${(apiR.c1.p50 / floor.c1.p50).toFixed(2)}x)\n\n`);

    // Latency under the target load: questions arrive at the target rate (open loop), up to 32 in
    // flight. With 32 always in flight (the closed loop above), p99 <= 150 ms would need >= 213
    // answers/s (Little's law: 32 / 0.150 s), more than the throughput target itself.
    const open: number[] = [];
    const load = await openLoop(askOnce, TARGET.minRps, throughputMs, CONCURRENCY, open);
    const openStats = summarise(open);
    process.stdout.write(
      `open loop: ${TARGET.minRps} questions/s arriving for ${throughputMs} ms, up to ${CONCURRENCY} in flight: ` +
        `p50 ${ms(openStats.p50)} ms, p99 ${ms(openStats.p99)} ms, ${load.completedPerSecond.toFixed(0)} answered/s, at most ${load.maxInFlight} in flight\n\n`,
    );
    const verdict = (ok: boolean) => (ok ? 'PASS' : 'MISS');
    process.stdout.write(`${verdict(apiR.c1.p50 <= TARGET.maxP50Ms)}  p50 at concurrency 1: ${ms(apiR.c1.p50)} ms (target <= ${TARGET.maxP50Ms})\n`);
    process.stdout.write(
      `${verdict(openStats.p99 <= TARGET.maxP99AtConcurrencyMs)}  p99 at ${TARGET.minRps} questions/s, up to ${CONCURRENCY} in flight: ${ms(openStats.p99)} ms (target <= ${TARGET.maxP99AtConcurrencyMs}; ` +
        `with ${CONCURRENCY} always in flight it is ${ms(apiR.c32.p99)} ms)\n`,
    );
    process.stdout.write(`${verdict(apiR.rps >= TARGET.minRps)}  throughput: ${apiR.rps.toFixed(0)} answered questions/s with ${CONCURRENCY} in flight (target >= ${TARGET.minRps})\n`);
    process.stdout.write(`\ntotal ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  } finally {
    for (const c of connections) c.close();
    sfn.destroy();
    await stack.stop();
  }
}
