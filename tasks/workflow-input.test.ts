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
