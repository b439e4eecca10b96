/**
 * One conversation as a list of turns, and how each answer event changes a turn. `AssistantApi.ask`
 * hands events over once each and in seq order (client/event-order.ts), so a turn only appends:
 * progress steps as they come, chunk text in arrival order. Nothing changes a turn once its
 * terminal event (DONE or FAILED) has arrived.
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
  /** The answer as far as it has streamed, or the final text. */
  text: string;
  error?: string;
  /** A refused ask: when asking again may be admitted. */
  retryAfter?: Date;
}

/** A PROGRESS event's words (the workflow writes them for the asker), or a neutral fallback. */
export function stepLabel(event: Pick<AnswerEvent, 'text'>): string {
  return event.text?.trim() || 'Working on it';
}

export function newTurn(id: string, question: string): Turn {
  return { id, question, status: 'sending', steps: [], text: '' };
}

/** The turn after `event`; the same object when the event changes nothing. */
export function applyEvent(turn: Turn, event: AnswerEvent): Turn {
  if (event.answerId !== turn.answerId || turn.status === 'done' || turn.status === 'failed') return turn;
  switch (event.status) {
    case 'ACCEPTED':
      return turn.status === 'sending' ? { ...turn, status: 'waiting' } : turn;
    case 'PROGRESS':
      return { ...turn, status: 'waiting', steps: [...turn.steps, { seq: event.seq, label: stepLabel(event) }] };
    case 'CHUNK':
      return event.text ? { ...turn, status: 'waiting', text: turn.text + event.text } : turn;
    case 'DONE':
      return { ...turn, status: 'done', text: event.text ?? turn.text };
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
