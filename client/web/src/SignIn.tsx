/**
 * Sign-in: username and password, then, on a first sign-in, the new password Cognito requires
 * (NEW_PASSWORD_REQUIRED). A too weak new password keeps the person on the new-password step.
 */
import { useEffect, useRef, useState, type FormEvent } from 'react';
import type { signIn as signInFn, Tokens, UserPoolConfig } from '../../auth.ts';
import { FormFooter } from './FormFooter.tsx';
import { PASSWORD_RULES, signInMessage } from './messages.ts';

interface Props {
  pool: UserPoolConfig;
  signIn: typeof signInFn;
  onSignedIn(tokens: Tokens): void;
  /** Why the person sees this form again (signed out, session ended). */
  notice?: string | undefined;
}

export function SignIn({ pool, signIn, onSignedIn, notice }: Props) {
  const [step, setStep] = useState<'credentials' | 'new-password'>('credentials');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [newPassword, setNewPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const newPasswordRef = useRef<HTMLInputElement>(null);

  useEffect(() => {
    if (step === 'new-password') newPasswordRef.current?.focus();
  }, [step]);

  async function submitCredentials(e: FormEvent) {
    e.preventDefault();
    setError(undefined);
    if (!username.trim() || !password) {
      setError('Enter your username and your password.');
      return;
    }
    setBusy(true);
    try {
      onSignedIn(await signIn(pool, username.trim(), password));
    } catch (err) {
      if ((err as { code?: string }).code === 'NewPasswordRequired') setStep('new-password');
      else setError(signInMessage(err));
    } finally {
      setBusy(false);
    }
  }

  async function submitNewPassword(e: FormEvent) {
    e.preventDefault();
    setError(undefined);
    if (newPassword !== confirm) {
      setError('The two new passwords are not the same.');
      return;
    }
    setBusy(true);
    try {
      // Signs in again with the temporary password and answers the challenge with the new one.
      onSignedIn(await signIn(pool, username.trim(), password, () => newPassword));
    } catch (err) {
      setError(signInMessage(err));
      // A wrong temporary password (or an expired one) cannot be fixed on this step.
      if ((err as { code?: string }).code === 'NotAuthorizedException') setStep('credentials');
    } finally {
      setBusy(false);
    }
  }

  if (step === 'new-password') {
    return (
      <form className="card sign-in" onSubmit={submitNewPassword} aria-labelledby="new-password-title" noValidate>
        <h2 id="new-password-title">Choose a new password</h2>
        <p>This is your first sign-in as {username.trim()}: replace the temporary password with one of your own.</p>
        <p id="password-rules" className="hint">
          {PASSWORD_RULES}
        </p>
        <label htmlFor="new-password">New password</label>
        <input
          id="new-password"
          ref={newPasswordRef}
          type="password"
          autoComplete="new-password"
          aria-describedby="password-rules"
          value={newPassword}
          onChange={(e) => setNewPassword(e.target.value)}
          required
        />
        <label htmlFor="confirm-password">Repeat the new password</label>
        <input id="confirm-password" type="password" autoComplete="new-password" value={confirm} onChange={(e) => setConfirm(e.target.value)} required />
        <FormFooter error={error} busy={busy} label="Set password and sign in" busyLabel="Saving…">
          <button
            type="button"
            className="secondary"
            onClick={() => {
              setStep('credentials');
              setError(undefined);
            }}
          >
            Back
          </button>
        </FormFooter>
      </form>
    );
  }

  return (
    <form className="card sign-in" onSubmit={submitCredentials} aria-labelledby="sign-in-title" noValidate>
      <h2 id="sign-in-title">Sign in</h2>
      {notice && (
        <p className="notice" role="status">
          {notice}
        </p>
      )}
      <label htmlFor="username">Username</label>
      <input id="username" autoComplete="username" autoCapitalize="none" spellCheck={false} value={username} onChange={(e) => setUsername(e.target.value)} required />
      <label htmlFor="password">Password</label>
      <input id="password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} required />
      <FormFooter error={error} busy={busy} label="Sign in" busyLabel="Signing in…" />
    </form>
  );
}
