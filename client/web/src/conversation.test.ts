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
  it('collects progress and streamed text as ask hands them over (in seq order, once each)', () => {
    const t = play([
      event('ACCEPTED', 1),
      event('PROGRESS', 2, { step: 'ValidateContext', text: 'checking your account' }),
      event('PROGRESS', 3, { step: 'getReturnPolicy', text: "reading the store's return policy" }),
      event('CHUNK', 4, { text: 'Hello ' }),
      event('CHUNK', 5, { text: 'world' }),
    ]);
    expect(t.status).toBe('waiting');
    expect(t.steps.map((s) => s.label)).toEqual(['checking your account', "reading the store's return policy"]);
    expect(t.text).toBe('Hello world');
  });

  it('ignores other answers, and anything after the terminal event', () => {
    const t = play([
      event('CHUNK', 4, { text: 'a' }),
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

  it("labels a step with the event's own words, or a neutral fallback", () => {
    expect(stepLabel({ text: ' writing the answer ' })).toBe('writing the answer');
    expect(stepLabel({ text: null })).toBe('Working on it');
    expect(stepLabel({ text: '  ' })).toBe('Working on it');
  });

  it('a retried turn keeps its id and question and forgets the failed answer', () => {
    const failed = play([event('FAILED', 1000, { error: 'x' })]);
    expect(retried(failed)).toEqual({ id: 't1', question: 'q', status: 'sending', steps: [], text: '' });
  });
});
