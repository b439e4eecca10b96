/**
 * Lambda's synchronous payload quotas on the local functions: a request (the event) or a response
 * (the result) of exactly the quota passes, one byte more fails with the error Step Functions
 * reports for it; a refused request never reaches the function.
 */
import { describe, expect, it } from 'vitest';
import { jsonBytes, MAX_REQUEST_BYTES, MAX_RESPONSE_BYTES, REQUEST_TOO_LARGE, RESPONSE_TOO_LARGE, withPayloadLimits } from './payload-limits.ts';

/** A JSON string of exactly `bytes` bytes, with two-byte characters: the quotas count bytes, not characters. */
function jsonOf(bytes: number): string {
  const text = 'é'.repeat(1000) + 'x'.repeat(bytes - 2 - 2000);
  expect(jsonBytes(text)).toBe(bytes);
  return text;
}

/** A function that records its calls and answers `reply`. */
function recording(reply: (event: unknown) => unknown) {
  const calls: unknown[] = [];
  return { calls, handler: withPayloadLimits(async (event) => (calls.push(event), reply(event))) };
}

describe("Lambda's synchronous payload quotas", () => {
  it('invokes the function with a request of exactly 6,291,456 bytes; one byte more is RequestTooLargeException, and the function never runs', async () => {
    const fn = recording(() => 'ok');
    const atLimit = jsonOf(MAX_REQUEST_BYTES);
    await expect(fn.handler(atLimit)).resolves.toBe('ok');
    expect(fn.calls).toHaveLength(1);

    const over = `${atLimit}x`;
    await expect(fn.handler(over)).rejects.toMatchObject({
      name: REQUEST_TOO_LARGE,
      message: `${MAX_REQUEST_BYTES + 1} byte payload is too large for the RequestResponse invocation type (limit ${MAX_REQUEST_BYTES} bytes)`,
    });
    expect(fn.calls).toHaveLength(1);
  });

  it('returns a response of exactly 6,291,556 bytes; one byte more is Function.ResponseSizeTooLarge, after the function ran', async () => {
    const atLimit = jsonOf(MAX_RESPONSE_BYTES);
    const fn = recording((event) => (event === 'over' ? `${atLimit}x` : atLimit));
    await expect(fn.handler('at')).resolves.toBe(atLimit);
    await expect(fn.handler('over')).rejects.toMatchObject({
      name: RESPONSE_TOO_LARGE,
      message: `Response payload size exceeded maximum allowed payload size (${MAX_RESPONSE_BYTES} bytes).`,
    });
    expect(fn.calls).toEqual(['at', 'over']);
  });

  it("passes the function's own errors through unchanged (control)", async () => {
    const broken = Object.assign(new Error('broken'), { name: 'Assistant.AgentFailed' });
    const fn = withPayloadLimits(async () => {
      throw broken;
    });
    await expect(fn({})).rejects.toBe(broken);
  });
});
