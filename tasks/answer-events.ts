/**
 * The events an asker receives for one answer, all sent with the IAM-signed GraphQL mutation
 * `publishAnswer` (AppSync hands each to the asker's `onAnswer` subscription):
 *
 *   ACCEPTED   ValidateContext, once the request itself is valid
 *   PROGRESS   what the workflow is doing, in words (checking the account, a tool call, writing)
 *   CHUNK      a piece of the answer text as the agent streams it
 *   DONE       the whole answer (PublishAnswer)      } exactly one of the two, always last:
 *   FAILED     why there is no answer (PublishFailure) } seq = TERMINAL_SEQ
 *
 * `seq` is strictly increasing per answer. The counter travels through the state: a task that
 * publishes starts at the `nextSeq` the previous publishing task returned in its output, and
 * returns its own `nextSeq`. The terminal events take TERMINAL_SEQ, a ceiling that no other event
 * reaches: PublishFailure may follow a task that failed half-way, whose counter is lost with it.
 *
 * ACCEPTED, PROGRESS and CHUNK are best effort: a failed publish is logged and the run goes on
 * (the DONE event carries the whole answer anyway). The target of every event is the asker of the
 * validated state input, never anything the agent or the model said.
 */
import { STSClient } from '@aws-sdk/client-sts';
import type { ToolName } from './agent-definition.ts';
import { sdkConfig, type ClientOptions, type TaskConfig } from './config.ts';
import { GraphqlRequestError, IamGraphqlClient } from './graphql-client.ts';
import type { TaskLog } from './handler.ts';
import type { PUBLISH_ROLE_ASSUMERS } from './policies.ts';
import { publishRoleCredentials } from './publish-role.ts';

/**
 * AppSync sends subscribers the mutation's selection set, not the resolver's result: a field left
 * out here arrives null to every `onAnswer` subscriber. So it selects every field of AnswerEvent
 * (test/client-schema.test.ts checks it covers the client's subscription).
 */
export const PUBLISH_ANSWER = /* GraphQL */ `
  mutation PublishAnswer($answerId: ID!, $userId: ID!, $status: AnswerStatus!, $seq: Int!, $text: String, $error: String, $step: String) {
    publishAnswer(answerId: $answerId, userId: $userId, status: $status, seq: $seq, text: $text, error: $error, step: $step) {
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

export type AnswerStatus = 'ACCEPTED' | 'PROGRESS' | 'CHUNK' | 'DONE' | 'FAILED';

/** The variables of one `publishAnswer` mutation. */
export interface AnswerEventInput {
  answerId: string;
  userId: string;
  status: AnswerStatus;
  seq: number;
  text: string | null;
  error: string | null;
  step: string;
}

/** The seq of the first event of an answer (ACCEPTED). */
export const FIRST_SEQ = 1;

/** The seq of the terminal event (DONE or FAILED); every other event of the answer has a lower one. */
export const TERMINAL_SEQ = 1000;

/** Progress publishes give up sooner than the terminal one: they must not hold the answer up. */
export const PROGRESS_TIMEOUT_MS = 3000;

/** The steps a PROGRESS event names, with the words a waiting asker reads. */
const PROGRESS_STEPS = {
  ValidateContext: 'checking your account',
  listMyOrders: 'looking up your orders',
  getReturnPolicy: "reading the store's return policy",
  getOrderStatus: 'checking an order',
  WriteAnswer: 'writing the answer',
} as const satisfies Record<string, string> & Record<ToolName, string>;
export type ProgressStep = keyof typeof PROGRESS_STEPS;

/** The words of the ACCEPTED event. */
const ACCEPTED_TEXT = 'your question was accepted';

/** The `step` of ACCEPTED and of CHUNK events: the state that sent them. */
const EVENT_STEPS = { accepted: 'ValidateContext', chunk: 'InvokeAgent' } as const;

export type PublishPort = Pick<IamGraphqlClient, 'request'>;

type Item = { kind: 'event'; status: 'ACCEPTED' | 'PROGRESS'; step: string; text: string } | { kind: 'text'; text: string };

/**
 * The best-effort events of one task run, for one answer. Events are published one at a time, in
 * the order they were emitted, without holding up the caller (text emitted while a publish is in
 * flight goes out as one CHUNK after it). `flush` waits for everything emitted, so that the next
 * state's events (and the terminal event) come after this task's; it never throws.
 *
 * After the first failed publish the run's remaining best-effort events are dropped (and counted in
 * one log line), so that a struggling API costs one timeout, not one per event.
 */
export class AnswerEvents {
  private seq: number;
  private readonly queue: Item[] = [];
  private running = false;
  private current: Promise<void> = Promise.resolve();
  private closing = false;
  private broken = false;
  private dropped = 0;

  constructor(
    private readonly graphql: PublishPort,
    private readonly target: { answerId: string; userId: string },
    firstSeq: number,
    private readonly log: TaskLog,
  ) {
    this.seq = firstSeq;
  }

  /** ACCEPTED: the request is valid and the workflow is on it. */
  accepted(): void {
    this.push({ kind: 'event', status: 'ACCEPTED', step: EVENT_STEPS.accepted, text: ACCEPTED_TEXT });
  }

  progress(step: ProgressStep): void {
    this.push({ kind: 'event', status: 'PROGRESS', step, text: PROGRESS_STEPS[step] });
  }

  /** Answer text, already sanitized: sent as CHUNK events whose concatenation is the answer. */
  chunk(text: string): void {
    if (text) this.push({ kind: 'text', text });
  }

  /** Publishes what is left and returns the next free seq, for the next task. Never throws. */
  async flush(): Promise<number> {
    this.closing = true;
    this.kick();
    await this.current;
    this.closing = false;
    if (this.dropped > 0) {
      this.log({ level: 'warn', msg: 'answer_events.dropped', answerId: this.target.answerId, dropped: this.dropped });
      this.dropped = 0;
    }
    return this.seq;
  }

  private push(item: Item): void {
    if (this.broken) {
      this.dropped++;
      return;
    }
    this.queue.push(item);
    this.kick();
  }

  private kick(): void {
    if (this.running) return;
    this.running = true;
    this.current = this.run();
  }

  private async run(): Promise<void> {
    try {
      // The last seq below the ceiling is kept for text: the streamed answer must stay whole.
      const last = TERMINAL_SEQ - 1;
      while (this.queue.length > 0 && !this.broken) {
        const item = this.queue[0]!;
        if (item.kind === 'text' && this.seq >= last && !this.closing) return;
        if (this.seq > last || (item.kind === 'event' && this.seq >= last)) {
          this.queue.shift();
          this.dropped++;
          continue;
        }
        let event: Pick<AnswerEventInput, 'status' | 'step' | 'text'>;
        if (item.kind === 'text') {
          // Consecutive pieces of text travel as one CHUNK; at the last seq, all that is left does.
          const atLast = this.seq === last;
          let n = 0;
          while (n < this.queue.length && (atLast || this.queue[n]!.kind === 'text')) n++;
          const taken = this.queue.splice(0, n);
          this.dropped += taken.filter((i) => i.kind === 'event').length;
          event = { status: 'CHUNK', step: EVENT_STEPS.chunk, text: taken.flatMap((i) => (i.kind === 'text' ? [i.text] : [])).join('') };
        } else {
          this.queue.shift();
          event = { status: item.status, step: item.step, text: item.text };
        }
        const seq = this.seq++;
        try {
          await this.graphql.request(PUBLISH_ANSWER, { ...this.target, ...event, seq, error: null } satisfies AnswerEventInput);
        } catch (err) {
          this.broken = true;
          this.dropped += this.queue.splice(0).length;
          this.log({
            level: 'warn',
            msg: 'answer_events.publish_failed',
            answerId: this.target.answerId,
            status: event.status,
            seq,
            error: (err as Error).name,
            ...(err instanceof GraphqlRequestError ? { httpStatus: err.status, errorType: err.errors[0]?.errorType ?? null } : {}),
          });
        }
      }
    } finally {
      // Synchronously at the loop's end: an item pushed from now on starts a new run.
      this.running = false;
    }
  }
}

/**
 * The client validate-context and invoke-agent publish their best-effort events with: sessions of
 * the publish role (tasks/publish-role.ts), assumed with the task's own role; a short timeout.
 */
export function answerEventsClient(config: TaskConfig, clients: ClientOptions, task: (typeof PUBLISH_ROLE_ASSUMERS)[number]): PublishPort {
  return new IamGraphqlClient({
    url: config.graphqlUrl,
    region: clients.region,
    credentials: publishRoleCredentials(new STSClient(sdkConfig(clients)), config.publishRoleArn, task, { timeoutMs: PROGRESS_TIMEOUT_MS }),
    timeoutMs: PROGRESS_TIMEOUT_MS,
  });
}
