/** Test support: the AWS error a call fails with, as the SDK reports it. */

export interface AwsFailure {
  /** The SDK's `err.name`: AWS's error code. */
  name: string;
  /** `err.$metadata.httpStatusCode`. */
  status: number | undefined;
  message: string;
}

/** Awaits `call` and returns its AWS error; fails the test when the call succeeds. */
export async function failure(call: Promise<unknown>): Promise<AwsFailure> {
  try {
    await call;
  } catch (err) {
    const e = err as Error & { $metadata?: { httpStatusCode?: number } };
    return { name: e.name, status: e.$metadata?.httpStatusCode, message: e.message };
  }
  throw new Error('expected the call to be rejected, but it succeeded');
}

/** A RegExp that matches `text` literally at the start of a string. */
export function startsWith(text: string): RegExp {
  return new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`);
}
