import { describe, expect, it } from 'vitest';
import { SignInError } from '../../auth.ts';
import { askMessage, isAuthError, operatorMessage, signInMessage } from './messages.ts';

describe('errors in words a person understands', () => {
  it('sign-in', () => {
    expect(signInMessage(new SignInError('Incorrect username or password.', 'NotAuthorizedException'))).toBe('The username or password is wrong. Check both and try again.');
    expect(signInMessage(new SignInError('User does not exist.', 'UserNotFoundException'))).toBe('There is no account with that username.');
    expect(signInMessage(new SignInError('Password did not conform with policy: Password must have symbol characters', 'InvalidPasswordException'))).toBe(
      'That new password is too weak: it needs a symbol such as ! or -.',
    );
    expect(signInMessage(new SignInError('User is disabled.', 'NotAuthorizedException'))).toBe('This account is disabled. Ask the store for help.');
    expect(signInMessage(new TypeError('Failed to fetch'))).toMatch(/cannot be reached/);
  });

  it('asking and operating', () => {
    const unauthorized = Object.assign(new Error('Valid authorization header not provided.'), { errorType: 'UnauthorizedException', status: 401 });
    expect(isAuthError(unauthorized)).toBe(true);
    expect(askMessage(unauthorized)).toBe('Your session has ended. Please sign in again.');
    expect(askMessage(Object.assign(new Error('No answer within 90000 ms'), { errorType: 'Timeout' }))).toBe('No answer arrived in time. Please try again.');
    expect(operatorMessage(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }))).toMatch(/only the local operator/);
    expect(operatorMessage(Object.assign(new Error('?'), { name: 'UnrecognizedClientException' }))).toMatch(/npm run creds -- --operator/);
    expect(operatorMessage(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }), 'administer tenants')).toBe(
      'These credentials may not administer tenants: only the local operator may.',
    );
  });
});
