import { describe, expect, it } from 'vitest';
import { AnswerEvents, FIRST_SEQ, PUBLISH_ANSWER, TERMINAL_SEQ, type AnswerEventInput, type PublishPort } from './answer-events.ts';
import { GraphqlRequestError } from './graphql-client.ts';

const target = { answerId: 'user-1.a1', userId: 'user-1' };

/** A publisher that records each event and answers when told to (or fails the ones `fail` picks). */
function fakePublisher(options: { fail?: (e: AnswerEventInput) => boolean; manual?: boolean } = {}) {
  const published: AnswerEventInput[] = [];
  const waiting: (() => void)[] = [];
  const port: PublishPort = {
    request: async <T>(query: string, variables: Record<string, unknown>): Promise<T> => {
      expect(query).toBe(PUBLISH_ANSWER);
      const event = variables as unknown as AnswerEventInput;
      if (options.manual) await new Promise<void>((resolve) => waiting.push(resolve));
      if (options.fail?.(event)) throw new GraphqlRequestError('GraphQL 500: InternalFailure: down', 500, [{ message: 'down', errorType: 'InternalFailure' }]);
      published.push(event);
      return {} as T;
    },
  };
  const answerOne = async () => {
    while (waiting.length === 0) await new Promise((r) => setTimeout(r, 1));
    waiting.shift()!();
  };
  return { port, published, answerOne };
}

describe('AnswerEvents', () => {
  it('publishes in emission order with increasing seq to the given asker, and returns the next seq', async () => {
    const { port, published } = fakePublisher();
    const events = new AnswerEvents(port, target, FIRST_SEQ, () => expect.fail('nothing to log'));
    events.accepted();
    events.progress('ValidateContext');
    events.progress('listMyOrders');
    events.chunk('Hello ');
    expect(await events.flush()).toBe(5);
    expect(published.map((e) => [e.seq, e.status, e.step, e.text])).toEqual([
      [1, 'ACCEPTED', 'ValidateContext', 'your question was accepted'],
      [2, 'PROGRESS', 'ValidateContext', 'checking your account'],
      [3, 'PROGRESS', 'listMyOrders', 'looking up your orders'],
      [4, 'CHUNK', 'InvokeAgent', 'Hello '],
    ]);
    for (const e of published) expect(e).toMatchObject({ ...target, error: null });
  });

  it('sends the text that arrives while a publish is in flight as one CHUNK after it, without holding up the caller', async () => {
    const { port, published, answerOne } = fakePublisher({ manual: true });
    const events = new AnswerEvents(port, target, 7, () => undefined);
    events.progress('WriteAnswer');
    // The caller goes on while the first publish is outstanding.
    for (const piece of ['You ', 'can ', 'return ', 'items.']) events.chunk(piece);
    const flushed = events.flush();
    await answerOne();
    await answerOne();
    expect(await flushed).toBe(9);
    expect(published.map((e) => [e.seq, e.status, e.text])).toEqual([
      [7, 'PROGRESS', 'writing the answer'],
      [8, 'CHUNK', 'You can return items.'],
    ]);
  });

  it('never throws on a failed publish: logs it (no text), drops the rest of the run and counts them', async () => {
    const { port, published } = fakePublisher({ fail: (e) => e.status === 'PROGRESS' });
    const logs: Record<string, unknown>[] = [];
    const events = new AnswerEvents(port, target, FIRST_SEQ, (line) => logs.push(line));
    events.accepted();
    events.progress('ValidateContext');
    events.chunk('secret-looking text');
    events.progress('WriteAnswer');
    expect(await events.flush()).toBe(3);
    expect(published.map((e) => e.status)).toEqual(['ACCEPTED']);
    expect(logs).toEqual([
      { level: 'warn', msg: 'answer_events.publish_failed', answerId: target.answerId, status: 'PROGRESS', seq: 2, error: 'GraphqlRequestError', httpStatus: 500, errorType: 'InternalFailure' },
      { level: 'warn', msg: 'answer_events.dropped', answerId: target.answerId, dropped: 2 },
    ]);
    expect(JSON.stringify(logs)).not.toContain('secret-looking');
  });

  it('stays below the terminal seq: progress is dropped at the ceiling, text waits for the flush and is sent whole', async () => {
    const { port, published } = fakePublisher();
    const logs: Record<string, unknown>[] = [];
    const events = new AnswerEvents(port, target, TERMINAL_SEQ - 2, (line) => logs.push(line));
    events.chunk('a');
    await new Promise((r) => setTimeout(r, 5));
    events.chunk('b');
    await new Promise((r) => setTimeout(r, 5));
    events.progress('WriteAnswer');
    events.chunk('c');
    expect(await events.flush()).toBe(TERMINAL_SEQ);
    expect(published.map((e) => [e.seq, e.status, e.text])).toEqual([
      [TERMINAL_SEQ - 2, 'CHUNK', 'a'],
      [TERMINAL_SEQ - 1, 'CHUNK', 'bc'],
    ]);
    expect(logs).toEqual([{ level: 'warn', msg: 'answer_events.dropped', answerId: target.answerId, dropped: 1 }]);
  });
});
