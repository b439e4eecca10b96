/**
 * Reading a JSON-protocol request's fields, and refusing bad ones as AWS does. AWS's validation
 * layer words every constraint failure the same way in every JSON service:
 *   1 validation error detected: Value 'abc' at 'maxResults' failed to satisfy constraint: Member must ...
 * (`Value null at` for a missing member; no value at all for members AWS treats as sensitive, such
 * as passwords or execution input). The stand-ins build that message here only, never by hand.
 * A member of the wrong JSON type never reaches validation: the request does not deserialize, and
 * AWS answers SerializationException.
 */
import { AwsError } from './aws-error.ts';

export type Fields = Readonly<Record<string, unknown>>;

export interface ValidationErrorOptions {
  /**
   * The value to quote: `null` for a missing member (`Value null at`), omitted for sensitive
   * members (`Value at`), anything else quoted as a string (`Value '5000' at`).
   */
  value?: unknown;
  /** The error code: ValidationException unless the service names it otherwise (Cognito: InvalidParameterException; STS: ValidationError). */
  code?: string;
}

/**
 * AWS's "1 validation error detected" error for `field`, whose `constraint` completes the sentence
 * "Member must ...", e.g. `validationError('maxResults', 'have value less than or equal to 1000', { value: 5000 })`.
 */
export function validationError(field: string, constraint: string, options: ValidationErrorOptions = {}): AwsError {
  const value = !('value' in options) ? 'Value' : options.value === null || options.value === undefined ? 'Value null' : `Value '${String(options.value)}'`;
  return new AwsError(options.code ?? 'ValidationException', `1 validation error detected: ${value} at '${field}' failed to satisfy constraint: Member must ${constraint}`, 400);
}

/** A member of the wrong JSON type: the body does not deserialize. */
export function serializationError(field: string, type: string): AwsError {
  return new AwsError('SerializationException', `Field '${field}' must be ${type}.`, 400);
}

export interface FieldOptions {
  /** The error code of a validation failure (see ValidationErrorOptions.code). */
  code?: string;
  /** The member's name in the message when it differs from the JSON key. */
  wireName?: string;
  /** Treat an empty string as missing (Cognito's required members). @default false */
  emptyIsMissing?: boolean;
}

export function optionalString(input: Fields, field: string): string | undefined {
  const v = input[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw serializationError(field, 'a string');
  return v;
}

export function requiredString(input: Fields, field: string, options: FieldOptions = {}): string {
  const v = optionalString(input, field);
  if (v === undefined || (options.emptyIsMissing && v === '')) {
    throw validationError(options.wireName ?? field, 'not be null', { value: null, code: options.code });
  }
  return v;
}

export function optionalBoolean(input: Fields, field: string): boolean | undefined {
  const v = input[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw serializationError(field, 'a boolean');
  return v;
}

export function optionalNumber(input: Fields, field: string): number | undefined {
  const v = input[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw serializationError(field, 'a number');
  return v;
}

export function optionalObject(input: Fields, field: string): Record<string, unknown> | undefined {
  const v = input[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw serializationError(field, 'an object');
  return v as Record<string, unknown>;
}

/** A map of strings (encryption contexts, session attributes, user attributes); undefined when absent. */
export function optionalStringMap(input: Fields, field: string): Record<string, string> | undefined {
  const v = optionalObject(input, field);
  if (v === undefined) return undefined;
  if (Object.values(v).some((x) => typeof x !== 'string')) throw serializationError(field, 'a map of strings');
  return v as Record<string, string>;
}

export function optionalArray(input: Fields, field: string): unknown[] | undefined {
  const v = input[field];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw serializationError(field, 'a list');
  return v;
}
