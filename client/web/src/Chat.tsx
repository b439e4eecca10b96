/**
 * The conversation: a prompt box, the turns, each answer streaming in with the workflow's progress,
 * a retry on a failed answer, and a new-conversation button. Answers are text: React renders them
 * as text nodes (never HTML), and nothing in them is turned into a link or an image, so an injected
 * `<img src=...>` or `![](...)` fetches nothing.
 */
import { useCallback, useEffect, useRef, useState, type FormEvent, type KeyboardEvent, type Ref } from 'react';
import { refusalOf, type AnswerEvent, type AssistantApi } from '../../api.ts';
import type { RealtimeConnection } from '../../realtime.ts';
import { applyEvent, newTurn, retried, type Turn } from './conversation.ts';
import { askMessage, isAuthError, retryMessage } from './messages.ts';
import type { TokenKeeper } from './session.ts';

interface Props {
  api: AssistantApi;
  keeper: TokenKeeper;
}

const MAX_QUESTION_CHARS = 2000;

export function Chat({ api, keeper }: Props) {
  const [turns, setTurns] = useState<Turn[]>([]);
  const [conversationId, setConversationId] = useState(() => crypto.randomUUID());
  const [draft, setDraft] = useState('');
  const [announcement, setAnnouncement] = useState('');
  const promptRef = useRef<HTMLTextAreaElement>(null);
  const endRef = useRef<HTMLLIElement>(null);
  const mounted = useRef(true);

  useEffect(() => {
    mounted.current = true;
    promptRef.current?.focus();
    return () => {
      mounted.current = false;
    };
  }, []);

  useEffect(() => {
    endRef.current?.scrollIntoView?.({ block: 'end' });
  }, [turns]);

  const update = useCallback((id: string, change: (t: Turn) => Turn) => {
    if (mounted.current) setTurns((all) => all.map((t) => (t.id === id ? change(t) : t)));
  }, []);

  // One realtime connection for the whole conversation (each subscribe sends the current token);
  // opened on the first question, opened again after it ends, closed with the chat.
  const connection = useRef<Promise<RealtimeConnection> | undefined>(undefined);
  const dropConnection = useCallback((which = connection.current) => {
    if (!which || connection.current !== which) return;
    connection.current = undefined;
    void which.then((c) => c.close(), () => undefined);
  }, []);
  const openConnection = useCallback(() => {
    if (connection.current) return connection.current;
    const opened: Promise<RealtimeConnection> = api.connect({ onConnectionError: () => dropConnection(opened) });
    connection.current = opened;
    opened.catch(() => dropConnection(opened));
    return opened;
  }, [api, dropConnection]);
  useEffect(() => () => dropConnection(), [dropConnection]);

  const ask = useCallback(
    async (turn: Turn) => {
      const onEvent = (e: AnswerEvent) => update(turn.id, (t) => applyEvent(t.answerId ? t : { ...t, answerId: e.answerId }, e));
      for (let attempt = 0; ; attempt++) {
        try {
          const { final } = await api.ask(turn.question, { conversationId, onEvent, connection: await openConnection() });
          setAnnouncement(final.status === 'DONE' ? 'The answer has arrived.' : 'The assistant could not answer.');
          return;
        } catch (err) {
          // An expired token: refresh once and ask again (nothing was started with the refused token).
          if (attempt === 0 && isAuthError(err)) {
            // The connection was opened with the refused token too.
            dropConnection();
            try {
              await keeper.refreshNow();
              continue;
            } catch (refreshError) {
              update(turn.id, (t) => ({ ...t, status: 'failed', error: askMessage(refreshError) }));
              return;
            }
          }
          const retryAfter = refusalOf(err)?.retryAfter ?? undefined;
          update(turn.id, (t) => (t.status === 'done' ? t : { ...t, status: 'failed', error: askMessage(err), ...(retryAfter ? { retryAfter } : {}) }));
          setAnnouncement(retryAfter ? 'The question was refused: a limit of your plan.' : 'The question could not be answered.');
          return;
        }
      }
    },
    [api, keeper, conversationId, update, openConnection, dropConnection],
  );

  const busy = turns.some((t) => t.status === 'sending' || t.status === 'waiting');

  function send(e?: FormEvent) {
    e?.preventDefault();
    const question = draft.trim();
    if (!question || busy) return;
    const turn = newTurn(crypto.randomUUID(), question);
    setTurns((all) => [...all, turn]);
    setDraft('');
    setAnnouncement('Question sent. Waiting for the answer.');
    promptRef.current?.focus();
    void ask(turn);
  }

  function retry(turn: Turn) {
    const again = retried(turn);
    setTurns((all) => all.map((t) => (t.id === turn.id ? again : t)));
    setAnnouncement('Asking again.');
    promptRef.current?.focus();
    void ask(again);
  }

  function newConversation() {
    setTurns([]);
    setConversationId(crypto.randomUUID());
    setDraft('');
    setAnnouncement('New conversation started.');
    promptRef.current?.focus();
  }

  function onKeyDown(e: KeyboardEvent<HTMLTextAreaElement>) {
    if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) send(e);
  }

  return (
    <section className="chat" aria-labelledby="chat-title">
      <div className="chat-bar">
        <h2 id="chat-title">Conversation</h2>
        <button type="button" className="secondary" onClick={newConversation} disabled={busy}>
          New conversation
        </button>
      </div>
      {turns.length === 0 ? (
        <p className="empty">Ask about the store&apos;s return policy or about your orders.</p>
      ) : (
        <ol className="turns" aria-label="Questions and answers">
          {turns.map((turn, i) => (
            <TurnView key={turn.id} turn={turn} onRetry={retry} busy={busy} endRef={i === turns.length - 1 ? endRef : undefined} />
          ))}
        </ol>
      )}
      <p className="visually-hidden" aria-live="polite" role="status">
        {announcement}
      </p>
      <form className="prompt" onSubmit={send}>
        <label htmlFor="prompt">Your question</label>
        <textarea
          id="prompt"
          ref={promptRef}
          rows={2}
          maxLength={MAX_QUESTION_CHARS}
          value={draft}
          onChange={(e) => setDraft(e.target.value)}
          onKeyDown={onKeyDown}
          aria-describedby="prompt-hint"
          placeholder="What's your return policy?"
        />
        <button type="submit" disabled={busy || draft.trim().length === 0}>
          {busy ? 'Waiting…' : 'Send'}
        </button>
        <p id="prompt-hint" className="hint">
          Enter sends; Shift+Enter starts a new line.
        </p>
      </form>
    </section>
  );
}

function TurnView({ turn, onRetry, busy, endRef }: { turn: Turn; onRetry(t: Turn): void; busy: boolean; endRef?: Ref<HTMLLIElement> | undefined }) {
  const waiting = turn.status === 'sending' || turn.status === 'waiting';
  return (
    <li className="turn" ref={endRef} data-status={turn.status}>
      <div className="question">
        <span className="speaker">You</span>
        <p className="text">{turn.question}</p>
      </div>
      <div className="answer" aria-busy={waiting}>
        <span className="speaker">Assistant</span>
        {waiting && (
          <ol className="progress" aria-label="Progress">
            <li className={turn.steps.length === 0 ? 'current' : 'done'}>{turn.status === 'sending' ? 'Sending your question' : 'Question received'}</li>
            {turn.steps.map((s, i) => (
              <li key={s.seq} className={i === turn.steps.length - 1 && !turn.text ? 'current' : 'done'} data-testid="progress-step">
                {s.label}
              </li>
            ))}
          </ol>
        )}
        {turn.text && (
          <p className="text answer-text" data-testid="answer-text">
            {turn.text}
          </p>
        )}
        {turn.status === 'failed' && (
          <div className="failed">
            <p className="error" role="alert" data-testid="answer-error">
              {turn.error}
            </p>
            {turn.retryAfter && (
              <p className="retry-after" data-testid="answer-retry-after">
                {retryMessage(turn.retryAfter)}
              </p>
            )}
            <button type="button" onClick={() => onRetry(turn)} disabled={busy}>
              Retry
            </button>
          </div>
        )}
      </div>
    </li>
  );
}
