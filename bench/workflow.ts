/**
 * Workflow latency and throughput, issue 18's figures side by side in one run: one question through
 * the whole Express state machine (StartExecution at the edge, the local Step Functions engine, four
 * task functions, each SDK call signed and checked at the edge, the answer published to local
 * AppSync), as the state machine runs it now (`after`: a fresh ask skips AdminGetUser, a warm
 * mint-credentials reuses the asker's scoped session) and as it ran before issue 18 (`before`: a
 * second local stack whose functions assume a session per question, SCOPED_SESSION_REUSE=off, fed
 * inputs without `asked`, so that every run looks the asker up in the user pool); and the floor:
 * the `after` functions called in sequence in this process, with the same clients, building the
 * state as the definition's ResultPaths do. The before/after ratio is the change; the floor is the
 * tasks' own work and their calls through the edge.
 *
 * Every run is checked: the execution SUCCEEDED and exactly the expected DONE event was published
 * for its answerId. A failed run stops the benchmark (it would otherwise skew the numbers).
 *
 * Everything runs in this one process (client, edge, engine, tasks, dynalite and AppSync share an
 * event loop), on loopback; one variant runs at a time. The numbers are for comparing the paths on
 * one machine.
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { AnswerEventRecord } from '../infra/local/services/appsync/graphql.ts';
import { localFunctionArn, localTaskConfig, startLocalFunctions, type LocalFunctions } from '../infra/local/services/lambda/functions.ts';
import { silentLogger } from '../infra/local/edge/log.ts';
import type { LocalUser } from '../infra/local/services/cognito/service.ts';
import { startLocalStack, type LocalStack } from '../infra/local/stack.ts';
import type { TaskHandler } from '../tasks/task-modules.ts';
import type { TaskName } from '../tasks/task-names.ts';
import { SLOT_TTL_SECONDS } from '../tasks/plans.ts';
import { slotElement } from '../tasks/usage.ts';
import type { WorkflowInput } from '../tasks/workflow-input.ts';
import { machineBoundLines, measureClaimCost, measureSdkCallCost, measureStackCallCost, RequestCounter } from './machine.ts';
import { type Stats, positiveIntEnv, sequential, summarise, table, throughputAndCpu, median } from './stats.ts';

export const name = 'workflow';
export const description = 'One question through the Express state machine before and after issue 18 (AdminGetUser and AssumeRole off the warm path), and the four task functions called in-process';

const WARMUP = 50;
/** Timed runs are taken in blocks, alternating the variants, so that drift hits both alike. */
const BLOCK = 50;
const CONCURRENCY = 16;
/** Throughput is measured in this many rounds per variant, alternating; the median round is reported. */
const THROUGHPUT_ROUNDS = 3;
/** Executions whose requests are counted for the machine bound. */
const COUNTED_RUNS = 20;

/** The questions, alternated; each with what its DONE event's text must look like. */
const QUESTIONS: readonly { question: string; answer: RegExp }[] = [
  { question: "What's your return policy?", answer: /^You can return items within \d+ days?\.$/ },
  { question: 'Which orders did I place?', answer: /^(You have \d+ orders?:\n|You have not placed any orders yet\.$)/ },
];

type VariantName = 'before' | 'after' | 'floor';
const VARIANTS: readonly VariantName[] = ['before', 'after', 'floor'];
/** What each variant is, for the table's legend. */
const LEGEND: Record<VariantName, string> = {
  before: 'the state machine before issue 18: AdminGetUser and AssumeRole on every question',
  after: 'the state machine now: a fresh ask skips AdminGetUser; the asker\'s scoped session is reused',
  floor: "the four `after` task functions called in sequence in this thread (no engine, no StartExecution)",
};

/** The floor's four steps, in the order and with the ResultPaths of the definition (null: the result is not kept). */
const FLOOR_STEPS: readonly { task: TaskName; resultPath: 'context' | 'sealed' | 'answer' | null }[] = [
  { task: 'validate-context', resultPath: 'context' },
  { task: 'mint-credentials', resultPath: 'sealed' },
  { task: 'invoke-agent', resultPath: 'answer' },
  { task: 'publish-answer', resultPath: null },
];

/** Published events by answerId, consumed by the check of each run. */
class Published {
  private readonly byAnswer = new Map<string, AnswerEventRecord[]>();
  private readonly listener = (e: AnswerEventRecord) => {
    const list = this.byAnswer.get(e.answerId);
    if (list) list.push(e);
    else this.byAnswer.set(e.answerId, [e]);
  };

  constructor(private readonly stack: LocalStack) {
    stack.appsync.events.on('publish', this.listener);
  }

  /**
   * Throws unless the events published for `answerId` all went to `userId` and end with exactly one
   * terminal event, DONE, with the expected text and the highest seq (progress events come before it).
   */
  take(answerId: string, userId: string, answer: RegExp): void {
    const events = this.byAnswer.get(answerId) ?? [];
    this.byAnswer.delete(answerId);
    const terminal = events.filter((x) => x.status === 'DONE' || x.status === 'FAILED');
    const e = terminal[0];
    const last = e !== undefined && events.every((x) => x === e || x.seq < e.seq);
    if (terminal.length !== 1 || !e || !last || e.status !== 'DONE' || events.some((x) => x.userId !== userId) || !answer.test(e.text ?? '')) {
      const seen = events.map((x) => `${x.status}${x.error ? ` (${x.error})` : ''}`).join(', ') || 'none';
      throw new Error(`Run ${answerId}: expected one DONE event with an answer matching ${answer}, got: ${seen}`);
    }
  }

  close(): void {
    this.stack.appsync.events.off('publish', this.listener);
  }
}

/** One question: who asks, what, and the input the resolver would build. */
interface Question {
  user: LocalUser;
  input: WorkflowInput;
  answer: RegExp;
}

class Asker {
  private n = 0;

  /** `fresh`: inputs as Mutation.ask builds them now (a slot and `asked`); otherwise as before issue 18 (a slot only). */
  constructor(
    private readonly users: readonly LocalUser[],
    private readonly fresh: boolean,
  ) {}

  /** Users rotate on every run; the question changes every full round of users. */
  next(): Question {
    const i = this.n++;
    const user = this.users[i % this.users.length]!;
    const q = QUESTIONS[Math.floor(i / this.users.length) % QUESTIONS.length]!;
    const answerId = `${user.sub}.${randomUUID()}`;
    const nowSeconds = Math.floor(Date.now() / 1000);
    return {
      user,
      answer: q.answer,
      input: {
        identity: { tenantId: user.tenantId, userId: user.sub, username: user.username },
        request: { answerId, question: q.question },
        slot: slotElement(nowSeconds + SLOT_TTL_SECONDS, answerId),
        // An ID token signed in a minute ago, valid for the pool's hour.
        ...(this.fresh ? { asked: { at: nowSeconds, tokenExpiresAt: nowSeconds + 3540 } } : {}),
      },
    };
  }
}

/** Per-task durations of the floor's runs, for the breakdown. */
type TaskSamples = Record<TaskName, number[]>;

/** A state machine variant: StartExecution on `stack`, wait, check the one DONE event. */
function stateMachineRun(stack: LocalStack, sfn: SFNClient, published: Published, asker: Asker): () => Promise<void> {
  const stateMachineArn = stack.iam.resources.stateMachineArn;
  return async () => {
    const q = asker.next();
    const started = await sfn.send(new StartExecutionCommand({ stateMachineArn, input: JSON.stringify(q.input) }));
    if (!started.executionArn) throw new Error('StartExecution returned no executionArn');
    const d = await stack.states.waitForExecution(started.executionArn);
    if (d.status !== 'SUCCEEDED') {
      throw new Error(`Execution ${d.executionArn} ended ${d.status}: ${d.error ?? ''} ${d.cause ?? ''}`.trim());
    }
    published.take(q.input.request.answerId, q.user.sub, q.answer);
  };
}

interface Variant {
  stack: LocalStack;
  sfn: SFNClient;
  published: Published;
  counter: RequestCounter;
}

function variants(after: Variant, before: Variant, floorFunctions: LocalFunctions, taskSamples: TaskSamples): Record<VariantName, () => Promise<void>> {
  const { stack, published } = after;
  const floorAsker = new Asker(stack.users, true);
  const stateMachineArn = stack.iam.resources.stateMachineArn;
  const handlers = FLOOR_STEPS.map(({ task, resultPath }) => {
    const handler: TaskHandler | undefined = floorFunctions.handlers.get(localFunctionArn(stack.iam, task));
    if (!handler) throw new Error(`The stack has no function for ${task}`);
    return { task, resultPath, handler };
  });

  return {
    before: stateMachineRun(before.stack, before.sfn, before.published, new Asker(before.stack.users, false)),
    after: stateMachineRun(stack, after.sfn, published, new Asker(stack.users, true)),
    async floor() {
      const q = floorAsker.next();
      let state: Record<string, unknown> = { ...q.input };
      // As the definition's Parameters do: ValidateContext gets the state and an execution id to claim the answer with.
      const executionArn = `${stateMachineArn.replace(':stateMachine:', ':execution:')}:floor-${randomUUID()}`;
      for (const { task, resultPath, handler } of handlers) {
        const t0 = performance.now();
        const result = await handler(task === 'validate-context' ? { input: state, executionArn } : state);
        taskSamples[task].push(performance.now() - t0);
        if (resultPath) state = { ...state, [resultPath]: result };
      }
      published.take(q.input.request.answerId, q.user.sub, q.answer);
    },
  };
}

/**
 * Runs per second with `concurrency` runs in flight, for `ms` milliseconds. The first failure
 * stops every worker (no new runs start) and is rethrown once the runs in flight have ended.
 */

const ms = (x: number) => x.toFixed(2);

export async function run(): Promise<void> {
  const iterations = positiveIntEnv('BENCH_ITERATIONS', 300);
  const throughputMs = positiveIntEnv('BENCH_THROUGHPUT_MS', 3000);
  const started = performance.now();

  // Each stack counts its edge's requests and AppSync's publishes (for the machine bound); logs nothing.
  const sandbox = process.env.BENCH_LAMBDA_SANDBOX !== 'off';
  const variant = async (scopedSessionReuse: boolean): Promise<Variant> => {
    const counter = new RequestCounter();
    const stack = await startLocalStack({ port: 0, logger: counter, lambdaSandbox: sandbox, scopedSessionReuse });
    return { stack, counter, sfn: new SFNClient(stack.clientConfig('operator')), published: new Published(stack) };
  };
  const after = await variant(true);
  const before = await variant(false);
  const { stack, counter } = after;
  // The floor: the same functions, built the same way, but called here, in this thread.
  const floorFunctions = await startLocalFunctions({
    iam: stack.iam,
    edgeUrl: stack.edgeUrl,
    logger: silentLogger,
    config: localTaskConfig(stack.iam, stack.graphqlUrl, 'bedrock-agent'),
    sandbox: false,
  });
  try {
    const taskSamples: TaskSamples = { 'validate-context': [], 'mint-credentials': [], 'invoke-agent': [], 'publish-answer': [], 'record-failure': [] };
    const send = variants(after, before, floorFunctions, taskSamples);

    process.stdout.write(
      `node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model.trim() ?? 'unknown'}); ` +
        `${iterations} sequential runs per variant after ${WARMUP} warm-up; ` +
        `throughput: ${CONCURRENCY} in flight for ${throughputMs} ms per variant, in ${THROUGHPUT_ROUNDS} alternating rounds (median reported)\n` +
        `${stack.users.length} users rotated; questions alternated: ${QUESTIONS.map((q) => JSON.stringify(q.question)).join(', ')}; local agent (bedrock-agent runtime)\n` +
        VARIANTS.map((v) => `  ${v}: ${LEGEND[v]}\n`).join('') +
        (stack.lambdaRuntime
          ? `one process, loopback only: the state machine's task functions run in the Lambda sandbox thread, the floor's in the main thread with the client, edge, engine, dynalite and AppSync (BENCH_LAMBDA_SANDBOX=off runs both in the main thread)\n\n`
          : `one process, loopback only, BENCH_LAMBDA_SANDBOX=off: every task function runs in the main thread with the client, edge, engine, dynalite and AppSync\n\n`),
    );

    for (const v of VARIANTS) await sequential(send[v], WARMUP);
    for (const list of Object.values(taskSamples)) list.length = 0;
    counter.reset();
    before.counter.reset();
    await sequential(send.after, COUNTED_RUNS);
    await sequential(send.before, COUNTED_RUNS);
    const counted = counter.snapshot();
    const countedBefore = before.counter.snapshot();

    const samples: Record<VariantName, number[]> = { before: [], after: [], floor: [] };
    for (let done = 0; done < iterations; done += BLOCK) {
      for (const v of VARIANTS) await sequential(send[v], Math.min(BLOCK, iterations - done), samples[v]);
    }
    const latency = Object.fromEntries(VARIANTS.map((v) => [v, summarise(samples[v])])) as Record<VariantName, Stats>;
    // Throughput in THROUGHPUT_ROUNDS rounds alternating the variants (this VM's speed drifts by
    // tens of percent within a minute); each figure is the median round.
    const rounds: Record<VariantName, { rps: number; cpuMs: number }[]> = { before: [], after: [], floor: [] };
    const roundMs = Math.max(500, Math.round(throughputMs / THROUGHPUT_ROUNDS));
    for (let r = 0; r < THROUGHPUT_ROUNDS; r++) {
      for (const v of VARIANTS) {
        const { perSecond, cpuMsPerRun } = await throughputAndCpu(send[v], roundMs, CONCURRENCY);
        rounds[v].push({ rps: perSecond, cpuMs: cpuMsPerRun });
      }
    }
    const rps = Object.fromEntries(VARIANTS.map((v) => [v, median(rounds[v].map((x) => x.rps))])) as Record<VariantName, number>;
    const cpuPerRun = Object.fromEntries(VARIANTS.map((v) => [v, median(rounds[v].map((x) => x.cpuMs))])) as Record<VariantName, number>;

    const rows = VARIANTS.map((v) => [v, ms(latency[v].p50), ms(latency[v].p99), ms(latency[v].mean), rps[v].toFixed(0), ms(cpuPerRun[v])]);
    process.stdout.write(`${table(['variant', 'p50 ms', 'p99 ms', 'mean ms', `exec/s @${CONCURRENCY}`, 'CPU ms/exec'], rows)}\n`);
    process.stdout.write(
      `throughput rounds (exec/s): ${VARIANTS.map((v) => `${v} ${rounds[v].map((x) => x.rps.toFixed(0)).join(', ')}`).join('; ')}\n`,
    );
    // The process's CPU time (every thread, GC included) over the throughput runs, per completed run.
    const cpus = os.cpus().length;
    process.stdout.write(`CPU ms/exec: the process's CPU time (all threads) per execution at concurrency ${CONCURRENCY}\n\n`);
    // The floor's tasks, from its sequential runs only (the throughput runs overlap).
    const floorRuns = samples.floor.length;
    const taskRows = FLOOR_STEPS.map(({ task }) => {
      const s = summarise(taskSamples[task].slice(0, floorRuns));
      return [task, ms(s.p50), ms(s.p99), ms(s.mean)];
    });
    process.stdout.write(`floor by task (concurrency 1):\n${table(['task', 'p50 ms', 'p99 ms', 'mean ms'], taskRows)}\n\n`);

    const ratio = latency.after.p50 / latency.floor.p50;
    process.stdout.write(`ratio after / floor at p50: ${ratio.toFixed(2)}x (+${ms(latency.after.p50 - latency.floor.p50)} ms): what StartExecution and the engine add\n\n`);

    process.stdout.write(`after (the state machine now):\n${machineBoundLines(counted, COUNTED_RUNS, await measureSdkCallCost(), await measureStackCallCost(stack), cpus)}\n`);
    const perRun = (c: RequestCounter, service: string) => ((c.byService.get(service) ?? 0) / COUNTED_RUNS).toFixed(2);
    process.stdout.write(
      `signed calls per execution, before -> after: ${(countedBefore.edgeRequests / COUNTED_RUNS).toFixed(2)} -> ${(counted.edgeRequests / COUNTED_RUNS).toFixed(2)} ` +
        `(sts ${perRun(countedBefore, 'sts')} -> ${perRun(counted, 'sts')}, cognito-idp ${perRun(countedBefore, 'cognito-idp')} -> ${perRun(counted, 'cognito-idp')})\n\n`,
    );

    // Idempotency: the answerId claim is one more signed DynamoDB call per question.
    const claimCost = await measureClaimCost(stack);
    const us = (x: { wallUs: number; cpuUs: number }) => `${x.wallUs.toFixed(0)} us wall, ${x.cpuUs.toFixed(0)} us CPU`;
    process.stdout.write(
      `answer claim (idempotency): 1 signed call per question, ValidateContext's conditional PutItem on ${stack.tables.claims}: ${us(claimCost.claim)}\n` +
        `  (the config GetItem ValidateContext makes beside it: ${us(claimCost.read)})\n\n`,
    );

    // Issue 18's figures: the state machine before and after, in this run.
    const cpuRatio = cpuPerRun.after / cpuPerRun.before;
    const rpsRatio = rps.after / rps.before;
    process.stdout.write(
      `state machine before -> after issue 18, at ${CONCURRENCY} in flight: CPU ${ms(cpuPerRun.before)} -> ${ms(cpuPerRun.after)} ms per execution (${cpuRatio.toFixed(2)}x); ` +
        `${rps.before.toFixed(0)} -> ${rps.after.toFixed(0)} executions/s (${rpsRatio.toFixed(2)}x); p50 at concurrency 1 ${ms(latency.before.p50)} -> ${ms(latency.after.p50)} ms\n`,
    );
    process.stdout.write(`\npolicy evaluator stats (whole run, including seeding): ${JSON.stringify(stack.evaluator.stats)}\n`);
    process.stdout.write(`\ntotal ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  } finally {
    await floorFunctions.stop();
    for (const v of [after, before]) {
      v.published.close();
      v.sfn.destroy();
      await v.stack.stop();
    }
  }
}
