/**
 * The noisy neighbour: tenant2's answer latency asking one question at a time, alone, then while
 * tenant1-user floods the API with 32 asks always in flight, in one run. Admission (Mutation.ask's
 * pipeline, tenant1's plan) should refuse tenant1's excess at the API, so that tenant2 keeps its
 * latency. Every tenant2 run is checked (a FAILED or refused tenant2 answer stops the benchmark);
 * tenant1's asks are counted as admitted (answered) or refused (Throttled / QuotaExceeded), and a
 * refused flooder asks again at once, as a flood does.
 *
 * tenant2's questions are spread over several users of tenant2 (round robin), so that tenant2's own
 * per-user limits (its plan) never refuse the measurement itself.
 */
import os from 'node:os';
import { ApiError } from '../client/api.ts';
import type { RealtimeConnection } from '../client/realtime.ts';
import { connectedClient } from './clients.ts';
import { startLocalStack } from '../infra/local/stack.ts';
import { PLANS } from '../tasks/plans.ts';
import { SEED_TENANTS, SEED_USERS } from '../tasks/seed.ts';
import { ms, positiveIntEnv, summarise, table } from './stats.ts';

export const name = 'noisy-neighbour';
export const description = "tenant2's latency alone and under tenant1-user's flood of 32 in flight: admission keeps tenants apart";

const TARGET_RATIO = 1.5;
const FLOOD_IN_FLIGHT = 32;
const QUESTION = "What's your return policy?";
const REFUSALS = new Set(['Throttled', 'QuotaExceeded']);

export async function run(): Promise<void> {
  const iterations = positiveIntEnv('BENCH_ITERATIONS', 100);
  const tenant2Users = positiveIntEnv('BENCH_TENANT2_USERS', 8);
  const started = performance.now();
  const extra = Array.from({ length: tenant2Users }, (_, i) => ({ username: `tenant2-bench${i + 1}`, tenantId: 'tenant2' }));
  const stack = await startLocalStack({ port: 0, seed: { tenants: SEED_TENANTS, users: [...SEED_USERS, ...extra] }, lambdaSandbox: process.env.BENCH_LAMBDA_SANDBOX !== 'off' });
  const connections: RealtimeConnection[] = [];
  try {
    const client = (username: string) => connectedClient(stack, username, connections, 60_000);
    const quiet = await Promise.all(extra.map((u) => client(u.username)));
    const flooder = await client('tenant1-user');

    let next = 0;
    const tenant2Once = async (): Promise<number> => {
      const c = quiet[next++ % quiet.length]!;
      const t0 = performance.now();
      const { final } = await c.api.ask(QUESTION, { connection: c.connection });
      if (final.status !== 'DONE' || final.text !== 'You can return items within 20 days.') throw new Error(`A tenant2 run did not answer: ${final.status} ${final.error ?? ''}`);
      return performance.now() - t0;
    };
    const tenant2Series = async (): Promise<number[]> => {
      const out: number[] = [];
      for (let i = 0; i < iterations; i++) out.push(await tenant2Once());
      return out;
    };

    // Warm-up (functions, connections), then tenant2 alone.
    for (let i = 0; i < Math.min(20, quiet.length * 2); i++) await tenant2Once();
    const cpuAlone0 = process.cpuUsage();
    const aloneT0 = performance.now();
    const alone = summarise(await tenant2Series());
    const aloneSeconds = (performance.now() - aloneT0) / 1000;
    const cpuAlone = process.cpuUsage(cpuAlone0);
    const cpuMsPerTenant2Answer = (cpuAlone.user + cpuAlone.system) / 1000 / iterations;

    // tenant2 again, while tenant1-user keeps 32 asks in flight until tenant2's series ends.
    let flooding = true;
    let admitted = 0;
    let refused = 0;
    const reasons = new Map<string, number>();
    const flood = async () => {
      while (flooding) {
        try {
          const { final } = await flooder.api.ask(QUESTION, { connection: flooder.connection });
          if (final.status !== 'DONE') throw new Error(`A tenant1 run ended ${final.status}: ${final.error ?? ''}`);
          admitted++;
        } catch (err) {
          if (!(err instanceof ApiError) || !REFUSALS.has(err.errorType)) throw err;
          refused++;
          const reason = err.message.split(';')[0]!;
          reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
        }
      }
    };
    const workers = Array.from({ length: FLOOD_IN_FLIGHT }, flood);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const underFlood = summarise(await tenant2Series().finally(() => (flooding = false)));
    await Promise.all(workers);
    const elapsed = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);

    const plan1 = SEED_TENANTS.find((t) => t.tenantId === 'tenant1')!.plan;
    const plan2 = SEED_TENANTS.find((t) => t.tenantId === 'tenant2')!.plan;
    process.stdout.write(
      `node ${process.version}, ${os.cpus().length} CPUs; tenant2 (${plan2} plan): ${iterations} questions one at a time over ${quiet.length} users; ` +
        `tenant1-user (${plan1} plan: ${PLANS[plan1].questionsPerUserPerMinute}/min + ${PLANS[plan1].burstPerUser} burst, ${PLANS[plan1].concurrentAnswersPerUser} in flight) floods with ${FLOOD_IN_FLIGHT} in flight\n\n`,
    );
    process.stdout.write(
      `${table(
        ['tenant2', 'p50 ms', 'p99 ms', 'mean ms'],
        [
          ['alone', ms(alone.p50), ms(alone.p99), ms(alone.mean)],
          ['under tenant1 flood', ms(underFlood.p50), ms(underFlood.p99), ms(underFlood.mean)],
        ],
      )}\n`,
    );
    process.stdout.write(
      `flood: ${elapsed.toFixed(1)} s, tenant1 asks ${((admitted + refused) / elapsed).toFixed(0)}/s (${admitted} admitted and answered, ${refused} refused), ` +
        `process CPU ${(((cpu.user + cpu.system) / 1000 / (elapsed * 1000)) * 100).toFixed(0)}% of one core\n`,
    );
    for (const [reason, n] of reasons) process.stdout.write(`  refused ${n}x: ${reason}\n`);
    // The bound: what the flood costs this one process (client, AppSync, edge, IAM, DynamoDB and the
    // functions share it), beyond tenant2's own answers, per tenant1 ask it handled.
    const floodCpuMs = (cpu.user + cpu.system) / 1000 - cpuMsPerTenant2Answer * iterations;
    process.stdout.write(
      `CPU: tenant2 alone ${cpuMsPerTenant2Answer.toFixed(1)} ms per answer (${(((cpuAlone.user + cpuAlone.system) / 1000 / (aloneSeconds * 1000)) * 100).toFixed(0)}% of one core); ` +
        `the flood ${(floodCpuMs / Math.max(1, admitted + refused)).toFixed(1)} ms per tenant1 ask (${admitted + refused} asks, ${((floodCpuMs / (elapsed * 1000)) * 100).toFixed(0)}% of one core) on ${os.cpus().length} CPUs\n`,
    );
    const ratio = underFlood.p99 / alone.p99;
    process.stdout.write(`${ratio <= TARGET_RATIO ? 'PASS' : 'MISS'}  p99 ratio ${ratio.toFixed(2)} (goal <= ${TARGET_RATIO})\n`);
    process.stdout.write(`total ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
    process.stdout.write(
      `noisy-neighbour: tenant2 p99 alone ${ms(alone.p99)} ms, under tenant1 flood ${ms(underFlood.p99)} ms, ratio ${ratio.toFixed(2)}x; tenant1 admitted ${admitted}, refused ${refused}\n`,
    );
  } finally {
    for (const c of connections) c.close();
    await stack.stop();
  }
}
