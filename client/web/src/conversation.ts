/**
 * One conversation as a list of turns, and how each answer event changes a turn. Events may arrive
 * more than once or out of order: they are keyed by `seq`, chunks are joined in `seq` order, and
 * nothing changes a turn once its terminal event (DONE or FAILED) has arrived.
 */
import type { AnswerEvent } from '../../api.ts';

export type TurnStatus = 'sending' | 'waiting' | 'done' | 'failed';

export interface ProgressStep {
  seq: number;
  label: string;
}

export interface Turn {
  /** Local id (React key); stays the same across retries. */
  id: string;
  question: string;
  answerId?: string;
  status: TurnStatus;
  steps: ProgressStep[];
  /** Streamed text by seq. */
  chunks: Record<number, string>;
  /** The answer as far as it has arrived (chunks joined), or the final text. */
  text: string;
  error?: string;
}

/** Friendly names for the workflow's steps, when a progress event carries no text of its own. */
const STEP_LABELS: Record<string, string> = {
  ValidateContext: 'Checking your account',
  MintCredentials: 'Getting access to your store data',
  InvokeAgent: 'Looking things up and writing the answer',
  PublishAnswer: 'Sending the answer',
};

export function stepLabel(event: Pick<AnswerEvent, 'step' | 'text'>): string {
  if (event.text && event.text.trim()) return event.text.trim();
  const step = event.step ?? '';
  return STEP_LABELS[step] ?? (step.replace(/([a-z])([A-Z])/g, '$1 $2').replace(/[_-]+/g, ' ').trim() || 'Working on it');
}

export function newTurn(id: string, question: string): Turn {
  return { id, question, status: 'sending', steps: [], chunks: {}, text: '' };
}

const joined = (chunks: Record<number, string>) =>
  Object.keys(chunks)
    .map(Number)
    .sort((a, b) => a - b)
    .map((seq) => chunks[seq])
    .join('');

/** The turn after `event`; the same object when the event changes nothing. */
export function applyEvent(turn: Turn, event: AnswerEvent): Turn {
  if (event.answerId !== turn.answerId || turn.status === 'done' || turn.status === 'failed') return turn;
  switch (event.status) {
    case 'ACCEPTED':
      return turn.status === 'sending' ? { ...turn, status: 'waiting' } : turn;
    case 'PROGRESS': {
      if (turn.steps.some((s) => s.seq === event.seq)) return turn;
      const steps = [...turn.steps, { seq: event.seq, label: stepLabel(event) }].sort((a, b) => a.seq - b.seq);
      return { ...turn, status: 'waiting', steps };
    }
    case 'CHUNK': {
      if (event.text === null || turn.chunks[event.seq] !== undefined) return turn;
      const chunks = { ...turn.chunks, [event.seq]: event.text };
      return { ...turn, status: 'waiting', chunks, text: joined(chunks) };
    }
    case 'DONE':
      return { ...turn, status: 'done', text: event.text ?? joined(turn.chunks) };
    case 'FAILED':
      return { ...turn, status: 'failed', error: event.error ?? 'The assistant could not answer this question.' };
    default:
      return turn;
  }
}

/** A turn ready to be asked again after a failure (same id and question, nothing of the old answer). */
export function retried(turn: Turn): Turn {
  return newTurn(turn.id, turn.question);
}
