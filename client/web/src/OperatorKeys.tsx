/**
 * What the operator views (executions, tenants, usage) share: the keys form (the keys stay in this
 * page's memory and sign each request to the local stack; `open` proves them with a first call and
 * throws if refused), the form for a view's API (`OperatorKeysFor`), and the view's frame with
 * "Forget operator keys" (`OperatorView`).
 */
import { useState, type FormEvent, type ReactNode } from 'react';
import { FormFooter } from './FormFooter.tsx';
import type { OperatorCredentials } from './operator.ts';

interface Props {
  /** The form's heading, e.g. "Executions: operators only". */
  title: string;
  /** The submit button's name, e.g. "Open executions". */
  label: string;
  /** Opens the view with the keys; rejects with the message to show when they are refused. */
  open(credentials: OperatorCredentials): Promise<void>;
}

export function OperatorKeys({ title, label, open }: Props) {
  const [accessKeyId, setAccessKeyId] = useState('');
  const [secretAccessKey, setSecretAccessKey] = useState('');
  const [sessionToken, setSessionToken] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setError(undefined);
    if (!accessKeyId.trim() || !secretAccessKey.trim()) {
      setError('Enter the access key ID and the secret access key.');
      return;
    }
    setBusy(true);
    try {
      await open({
        accessKeyId: accessKeyId.trim(),
        secretAccessKey: secretAccessKey.trim(),
        ...(sessionToken.trim() ? { sessionToken: sessionToken.trim() } : {}),
      });
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="card" onSubmit={submit} aria-labelledby="operator-title" noValidate>
      <h2 id="operator-title">{title}</h2>
      <p>
        Enter the local operator&apos;s access keys (<code>npm run creds -- --operator</code> prints them). They stay in this page&apos;s memory and sign
        each request to the local stack; a store user&apos;s sign-in does not open this view.
      </p>
      <label htmlFor="access-key-id">Access key ID</label>
      <input id="access-key-id" autoComplete="off" spellCheck={false} value={accessKeyId} onChange={(e) => setAccessKeyId(e.target.value)} required />
      <label htmlFor="secret-access-key">Secret access key</label>
      <input id="secret-access-key" type="password" autoComplete="off" value={secretAccessKey} onChange={(e) => setSecretAccessKey(e.target.value)} required />
      <label htmlFor="session-token">Session token (temporary credentials only)</label>
      <input id="session-token" type="password" autoComplete="off" value={sessionToken} onChange={(e) => setSessionToken(e.target.value)} />
      <FormFooter error={error} busy={busy} label={label} busyLabel="Checking…" />
    </form>
  );
}

/** An operator view's API: it holds signed clients, which `destroy` closes. */
interface Destroyable {
  destroy(): void;
}

/**
 * The keys form of one view: `create` builds the view's API with the keys, `prove` makes its first
 * call; a refused call destroys the candidate and shows `message(err)`; an accepted one opens the view.
 */
export function OperatorKeysFor<A extends Destroyable>(props: {
  title: string;
  label: string;
  create(credentials: OperatorCredentials): A;
  prove(api: A): Promise<unknown>;
  message(err: unknown): string;
  onOpen(api: A): void;
}) {
  async function open(credentials: OperatorCredentials) {
    const candidate = props.create(credentials);
    try {
      await props.prove(candidate);
    } catch (err) {
      candidate.destroy();
      throw new Error(props.message(err));
    }
    props.onOpen(candidate);
  }
  return <OperatorKeys title={props.title} label={props.label} open={open} />;
}

/** An open operator view: its heading, "Forget operator keys" (closes the API and shows the keys form again), and its body. */
export function OperatorView<A extends Destroyable>({ name, api, onApi, children }: { name: string; api: A; onApi(api: A | undefined): void; children: ReactNode }) {
  const id = name.toLowerCase();
  return (
    <section className={id} aria-labelledby={`${id}-title`}>
      <div className="chat-bar">
        <h2 id={`${id}-title`}>{name}</h2>
        <button
          type="button"
          className="secondary"
          onClick={() => {
            api.destroy();
            onApi(undefined);
          }}
        >
          Forget operator keys
        </button>
      </div>
      {children}
    </section>
  );
}
