/**
 * The one builder of AWS's "1 validation error detected" message, and the field readers every
 * JSON stand-in uses: a missing member is a validation error, a member of the wrong JSON type a
 * SerializationException (the body does not deserialize, so validation never runs).
 */
import { describe, expect, it } from 'vitest';
import {
  optionalArray,
  optionalBoolean,
  optionalNumber,
  optionalObject,
  optionalString,
  optionalStringMap,
  requiredString,
  serializationError,
  validationError,
  type Fields,
} from './wire.ts';

const refused = (code: string, message: unknown) => expect.objectContaining({ name: code, code, message, status: 400 });

describe('validationError', () => {
  it('quotes the value it is given', () => {
    expect(validationError('maxResults', 'have value less than or equal to 1000', { value: 5000 })).toEqual(
      refused('ValidationException', "1 validation error detected: Value '5000' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000"),
    );
    // An empty string is a value, not a missing member.
    expect(validationError('keyId', 'have length greater than or equal to 1', { value: '' }).message).toBe(
      "1 validation error detected: Value '' at 'keyId' failed to satisfy constraint: Member must have length greater than or equal to 1",
    );
  });

  it('says `Value null` for a missing member (null or undefined)', () => {
    const expected = "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null";
    expect(validationError('keyId', 'not be null', { value: null }).message).toBe(expected);
    expect(validationError('keyId', 'not be null', { value: undefined }).message).toBe(expected);
  });

  it('names no value at all when none is given (sensitive members)', () => {
    expect(validationError('plaintext', 'have length less than or equal to 4096').message).toBe(
      "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096",
    );
  });

  it('uses the code the service names (STS: ValidationError; Cognito, Logs: InvalidParameterException)', () => {
    expect(validationError('roleSessionName', 'not be null', { value: null, code: 'ValidationError' })).toEqual(
      refused('ValidationError', "1 validation error detected: Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null"),
    );
    expect(validationError('limit', 'have value greater than or equal to 1', { value: 0, code: 'InvalidParameterException' }).code).toBe('InvalidParameterException');
  });
});

describe('serializationError', () => {
  it('is a SerializationException (400) naming the field and the type', () => {
    expect(serializationError('KeyId', 'a string')).toEqual(refused('SerializationException', "Field 'KeyId' must be a string."));
  });
});

describe('field readers', () => {
  const input: Fields = {
    s: 'x',
    empty: '',
    n: 5,
    b: false,
    o: { a: 'x' },
    l: ['x'],
    nil: null,
    map: { k: 'v' },
    mixedMap: { k: 'v', n: 1 },
  };

  it('read members of the right type, and absent or null ones as undefined', () => {
    expect(optionalString(input, 's')).toBe('x');
    expect(optionalString(input, 'empty')).toBe('');
    expect(optionalNumber(input, 'n')).toBe(5);
    expect(optionalBoolean(input, 'b')).toBe(false);
    expect(optionalObject(input, 'o')).toEqual({ a: 'x' });
    expect(optionalArray(input, 'l')).toEqual(['x']);
    expect(optionalStringMap(input, 'map')).toEqual({ k: 'v' });
    for (const read of [optionalString, optionalNumber, optionalBoolean, optionalObject, optionalArray, optionalStringMap]) {
      expect(read(input, 'absent')).toBeUndefined();
      expect(read(input, 'nil')).toBeUndefined();
    }
  });

  it.each([
    ['a number for a string', () => optionalString(input, 'n'), 'n', 'a string'],
    ['an object for a string', () => optionalString(input, 'o'), 'o', 'a string'],
    ['a string for a number', () => optionalNumber({ n: '5' }, 'n'), 'n', 'a number'],
    ['a non-finite number', () => optionalNumber({ n: Number.NaN }, 'n'), 'n', 'a number'],
    ['a string for a boolean', () => optionalBoolean({ b: 'true' }, 'b'), 'b', 'a boolean'],
    ['a list for an object', () => optionalObject(input, 'l'), 'l', 'an object'],
    ['a string for an object', () => optionalObject(input, 's'), 's', 'an object'],
    ['an object for a list', () => optionalArray(input, 'o'), 'o', 'a list'],
    ['a map with a number value for a map of strings', () => optionalStringMap(input, 'mixedMap'), 'mixedMap', 'a map of strings'],
    ['a list for a map of strings', () => optionalStringMap(input, 'l'), 'l', 'an object'],
    ['a number for a required string', () => requiredString(input, 'n'), 'n', 'a string'],
  ])('refuse %s with SerializationException', (_what, read, field, type) => {
    expect(read).toThrow(refused('SerializationException', `Field '${field}' must be ${type}.`));
  });

  it('requiredString: a missing or null member is `Value null`, under its wire name and the service code', () => {
    expect(requiredString(input, 's')).toBe('x');
    expect(() => requiredString(input, 'absent')).toThrow(
      refused('ValidationException', "1 validation error detected: Value null at 'absent' failed to satisfy constraint: Member must not be null"),
    );
    expect(() => requiredString(input, 'nil', { wireName: 'userPoolId', code: 'InvalidParameterException' })).toThrow(
      refused('InvalidParameterException', "1 validation error detected: Value null at 'userPoolId' failed to satisfy constraint: Member must not be null"),
    );
  });

  it('requiredString: an empty string is a value, unless the service treats it as missing', () => {
    expect(requiredString(input, 'empty')).toBe('');
    expect(() => requiredString(input, 'empty', { emptyIsMissing: true })).toThrow(refused('ValidationException', expect.stringContaining("Value null at 'empty'")));
  });
});
