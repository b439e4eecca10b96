import { describe, expect, it } from 'vitest';
import { ErrorName } from './errors.ts';
import { parseWorkflowInput } from './workflow-input.ts';

describe('parseWorkflowInput', () => {
  it('fails with InvalidRequest naming each bad field and why, in English, never its value', () => {
    const input = { identity: { tenantId: 'Acme Corp', userId: 'u-1' }, request: { answerId: 'u-1.a', question: 42 } };
    let caught: unknown;
    try {
      parseWorkflowInput(input);
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({ name: ErrorName.InvalidRequest });
    const message = (caught as Error).message;
    expect(message).toBe(
      'The request is malformed: identity.tenantId: tenantId must be a lowercase tenant slug; ' +
        'identity.username: Invalid input: expected string, received undefined; ' +
        'request.question: Invalid input: expected string, received number',
    );
    expect(message).not.toContain('Acme Corp');
  });
});

describe('parseWorkflowInput: the concurrency slot', () => {
  const base = { identity: { tenantId: 'tenant1', userId: 'u-1', username: 'alice' }, request: { answerId: 'u-1.a', question: 'Hi?' } };

  it("accepts no slot, or one that names the request's answerId", () => {
    expect(parseWorkflowInput(base).slot).toBeUndefined();
    expect(parseWorkflowInput({ ...base, slot: '1900000000#u-1.a' }).slot).toBe('1900000000#u-1.a');
  });

  it("refuses a slot of another answer, or one without an expiry", () => {
    expect(() => parseWorkflowInput({ ...base, slot: '1900000000#u-1.b' })).toThrow("slot: slot must name the request's answerId");
    expect(() => parseWorkflowInput({ ...base, slot: 'u-1.a' })).toThrow('slot must be <expiry>#<answerId>');
  });
});
