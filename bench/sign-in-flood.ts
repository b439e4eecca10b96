/**
 * Another tenant's ask under a flood of sign-ins with made-up usernames: ask -> DONE p50 alone, then
 * with the flood running, in the same run, and their ratio (target: within 1.5x). Each made-up name
 * costs the local user pool a password hash (the decoy, so unknown names take as long as known ones);
 * hashing waits its turn in a short queue, and sign-ins that find it full are refused with
 * TooManyRequestsException, as Cognito's request rate quotas refuse them.
 */
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import os from 'node:os';
import { AssistantApi } from '../client/api.ts';
import { signIn } from '../client/auth.ts';
import type { RealtimeConnection } from '../client/realtime.ts';
import { startLocalStack } from '../infra/local/stack.ts';
import { ms, positiveIntEnv, sequential, summarise } from './stats.ts';

export const name = 'sign-in-flood';
export const description = "another tenant's ask p50 alone and under a flood of sign-ins with made-up usernames";

const TARGET_RATIO = 1.5;
const QUESTION = "What's your return policy?";

export async function run(): Promise<void> {
  const iterations = positiveIntEnv('BENCH_ITERATIONS', 100);
  const floodInFlight = positiveIntEnv('BENCH_FLOOD_IN_FLIGHT', 262);
  const floodRate = positiveIntEnv('BENCH_FLOOD_RATE', 200);
  const stack = await startLocalStack({ port: 0, lambdaSandbox: process.env.BENCH_LAMBDA_SANDBOX !== 'off' });
  let connection: RealtimeConnection | undefined;
  try {
    const asker = stack.users.find((u) => u.tenantId === 'tenant2')!;
    const pool = { region: stack.iam.location.region, clientId: stack.cognito.clientId, endpoint: stack.edgeUrl };
    const tokens = await signIn(pool, asker.username, stack.cognito.temporaryPasswords()[asker.username]!, () => `Bench-${randomUUID()}-9!`);
    const api = new AssistantApi({ graphqlUrl: stack.graphqlUrl, realtimeUrl: stack.realtimeUrl, idToken: tokens.idToken, answerTimeoutMs: 60_000 });
    connection = await api.connect();
    const conn = connection;
    const askOnce = async () => {
      const { final } = await api.ask(QUESTION, { connection: conn });
      if (final.status !== 'DONE') throw new Error(`A run did not answer: ${final.status} ${final.error ?? ''}`);
    };

    await sequential(askOnce, 20);
    const alone: number[] = [];
    await sequential(askOnce, iterations, alone);

    // The attacker is another process, as an attacker's client would be: its own work is not the stack's.
    const flooder = fork(new URL('./sign-in-flooder.ts', import.meta.url), [stack.edgeUrl, stack.cognito.clientId, String(floodRate), String(floodInFlight)], {
      execArgv: ['--import', 'tsx'],
    });
    await once(flooder, 'message');
    const underFlood: number[] = [];
    await sequential(askOnce, iterations, underFlood);
    const report = once(flooder, 'message') as Promise<[{ answers: Record<string, number>; seconds: number }]>;
    flooder.send('stop');
    const [{ answers, seconds: floodSeconds }] = await report;

    const a = summarise(alone);
    const f = summarise(underFlood);
    const ratio = f.p50 / a.p50;
    const total = Object.values(answers).reduce((s, n) => s + n, 0);
    process.stdout.write(
      `node ${process.version}, ${os.cpus().length} CPUs; ${iterations} sequential asks each; flood: ${floodRate} sign-ins/s arriving, at most ${floodInFlight} in flight\n\n`,
    );
    process.stdout.write(`ask alone:        p50 ${ms(a.p50)} ms, p99 ${ms(a.p99)} ms\n`);
    process.stdout.write(`ask under flood:  p50 ${ms(f.p50)} ms, p99 ${ms(f.p99)} ms\n`);
    process.stdout.write(
      `flood: ${total} sign-ins in ${floodSeconds.toFixed(1)} s (${(total / floodSeconds).toFixed(0)}/s): ` +
        `${Object.entries(answers).map(([k, n]) => `${k} ${n}`).join(', ')}\n\n`,
    );
    process.stdout.write(`${ratio <= TARGET_RATIO ? 'PASS' : 'MISS'}  p50 under flood / alone: ${ratio.toFixed(2)}x (target <= ${TARGET_RATIO}x)\n`);
  } finally {
    connection?.close();
    await stack.stop();
  }
}
