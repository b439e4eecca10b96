import type { ReactNode } from 'react';

/** The end of a form: its error (announced to screen readers), the submit button, and any other actions. */
export function FormFooter(props: { error: string | undefined; busy: boolean; label: string; busyLabel: string; children?: ReactNode }) {
  return (
    <>
      {props.error && (
        <p role="alert" className="error">
          {props.error}
        </p>
      )}
      <div className="actions">
        <button type="submit" disabled={props.busy}>
          {props.busy ? props.busyLabel : props.label}
        </button>
        {props.children}
      </div>
    </>
  );
}
