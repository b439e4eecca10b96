/**
 * Awaits a realtime call that must be refused (test/api-tokens.test.ts, test/access-token.test.ts):
 * its RealtimeError, or a thrown error when it was accepted (the accepted connection is closed).
 */
import { expect } from 'vitest';
import { RealtimeError } from '../client/realtime.ts';

export async function realtimeRefusal(promise: Promise<unknown>): Promise<RealtimeError> {
  const outcome = await promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if (!('error' in outcome)) {
    if (outcome.value && typeof outcome.value === 'object' && 'close' in outcome.value) (outcome.value as { close(): void }).close();
    throw new Error('expected the realtime call to be refused, but it was accepted');
  }
  expect(outcome.error).toBeInstanceOf(RealtimeError);
  return outcome.error as RealtimeError;
}
