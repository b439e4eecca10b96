import { describe, expect, it } from 'vitest';
import { SignInError } from '../../auth.ts';
import { AnswerCutOffError, ApiError, refusalOf } from '../../api.ts';
import { RealtimeError } from '../../realtime.ts';
import { askMessage, isAuthError, operatorMessage, retryMessage, signInMessage } from './messages.ts';

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

describe('a refused question', () => {
  it("shows the API's message (the limit, the plan, when) and when to ask again in the reader's time", () => {
    const throttled = new ApiError('You can ask 15 questions a minute (standard plan); try again at 13:09 UTC.', 'Throttled', 200, { reason: 'userPerMinute', retryAfter: '2026-12-03T13:09:00.000Z' });
    expect(askMessage(throttled)).toBe('You can ask 15 questions a minute (standard plan); try again at 13:09 UTC.');
    expect(refusalOf(throttled)).toEqual({ errorType: 'Throttled', message: throttled.message, reason: 'userPerMinute', retryAfter: new Date('2026-12-03T13:09:00.000Z') });
    const at = new Date(2026, 11, 3, 13, 9);
    expect(retryMessage(at, new Date(2026, 11, 3, 13, 8, 30))).toMatch(/^You can ask again at 13.09\.$/);
    expect(retryMessage(at, new Date(2026, 11, 2, 23, 0))).toMatch(/^You can ask again on 3 December at 13.09\.$|^You can ask again on December 3 at 13.09\.$/);
  });

  it('is no refusal when the type is another (control)', () => {
    const other = new ApiError('The question is empty.', 'BadRequestException', 200, null);
    expect(refusalOf(other)).toBeNull();
    expect(askMessage(other)).toBe('The question could not be sent: The question is empty.');
  });
});

describe('an answer cut off by the connection', () => {
  it('names the answer and the run, and says how to ask again or have it replayed, instead of the raw 1006', () => {
    const closed = new RealtimeError('ConnectionClosed', 'The realtime connection closed (1006).', 1006);
    const arn = 'arn:aws:states:us-east-1:000000000000:execution:assistant:1b2c';
    const message = askMessage(new AnswerCutOffError('u-1.abc', arn, null, closed));
    expect(message).toBe(
      'The connection was lost before the answer arrived (answer u-1.abc; run 1b2c). Use Retry to ask again; an operator can look the run up and replay it in Executions.',
    );
    expect(message).not.toContain('1006');
    expect(askMessage(new AnswerCutOffError('u-1.abc', null, null, new TypeError('Failed to fetch')))).toMatch(/\(answer u-1\.abc; the run may not have started\)/);
  });

  it('control: the same realtime error before any question was sent stays a plain send error', () => {
    const closed = new RealtimeError('ConnectionClosed', 'The realtime connection closed (1006).', 1006);
    expect(askMessage(closed)).toBe('The question could not be sent: The realtime connection closed (1006).');
  });
});
