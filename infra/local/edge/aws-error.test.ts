/** The JSON-protocol body every JSON stand-in (KMS, Logs, Cognito, Step Functions, Bedrock) parses. */
import { describe, expect, it } from 'vitest';
import { parseJsonBody } from './aws-error.ts';

describe('parseJsonBody', () => {
  it('reads a JSON object, and an empty body as {}', () => {
    expect(parseJsonBody(Buffer.from('{"KeyId":"alias/x","Plaintext":"AA=="}'))).toEqual({ KeyId: 'alias/x', Plaintext: 'AA==' });
    expect(parseJsonBody(Buffer.alloc(0))).toEqual({});
  });

  it.each([
    ['malformed JSON', '{"KeyId":', 'Malformed request body.'],
    ['an array', '[{"KeyId":"x"}]', 'The request body must be a JSON object.'],
    ['a number', '5', 'The request body must be a JSON object.'],
    ['null', 'null', 'The request body must be a JSON object.'],
  ])('refuses %s with SerializationException', (_what, body, message) => {
    expect(() => parseJsonBody(Buffer.from(body))).toThrow(expect.objectContaining({ name: 'SerializationException', message, status: 400 }));
  });
});
