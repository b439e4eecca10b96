import { describe, expect, it } from 'vitest';
import type { AnswerEvent } from '../../api.ts';
import { applyEvent, newTurn, retried, stepLabel, type Turn } from './conversation.ts';

const event = (status: AnswerEvent['status'], seq: number, fields: Partial<AnswerEvent> = {}): AnswerEvent => ({
  answerId: 'u.a1',
  userId: 'u',
  status,
  seq,
  text: null,
  error: null,
  step: null,
  ...fields,
});

const play = (events: AnswerEvent[]): Turn => events.reduce(applyEvent, { ...newTurn('t1', 'q'), answerId: 'u.a1' });

describe('a turn and its answer events', () => {
  it('collects progress in seq order and joins chunks in seq order, whatever the arrival order', () => {
    const t = play([
      event('ACCEPTED', 1),
      event('PROGRESS', 3, { step: 'InvokeAgent' }),
      event('PROGRESS', 2, { step: 'ValidateContext', text: 'Checking your account' }),
      event('CHUNK', 5, { text: 'world' }),
      event('CHUNK', 4, { text: 'Hello ' }),
    ]);
    expect(t.status).toBe('waiting');
    expect(t.steps.map((s) => s.label)).toEqual(['Checking your account', 'Looking things up and writing the answer']);
    expect(t.text).toBe('Hello world');
  });

  it('ignores duplicates, other answers, and anything after the terminal event', () => {
    const t = play([
      event('CHUNK', 4, { text: 'a' }),
      event('CHUNK', 4, { text: 'b' }),
      event('CHUNK', 5, { answerId: 'u.other', text: 'x' }),
      event('DONE', 1000, { text: 'final' }),
      event('CHUNK', 6, { text: 'late' }),
      event('FAILED', 1001, { error: 'late' }),
    ]);
    expect(t).toMatchObject({ status: 'done', text: 'final' });
  });

  it('a DONE without text keeps the streamed text; a FAILED carries its error', () => {
    expect(play([event('CHUNK', 2, { text: 'streamed' }), event('DONE', 1000)]).text).toBe('streamed');
    expect(play([event('FAILED', 1000, { error: 'The assistant could not answer.' })])).toMatchObject({ status: 'failed', error: 'The assistant could not answer.' });
  });

  it('names unknown steps readably and prefers the event\'s own text', () => {
    expect(stepLabel({ step: 'LookUpOrders', text: null })).toBe('Look Up Orders');
    expect(stepLabel({ step: 'InvokeAgent', text: 'Writing the answer' })).toBe('Writing the answer');
    expect(stepLabel({ step: null, text: null })).toBe('Working on it');
  });

  it('a retried turn keeps its id and question and forgets the failed answer', () => {
    const failed = play([event('FAILED', 1000, { error: 'x' })]);
    expect(retried(failed)).toEqual({ id: 't1', question: 'q', status: 'sending', steps: [], chunks: {}, text: '' });
  });
});
