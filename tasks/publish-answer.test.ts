import { describe, expect, it } from 'vitest';
import { recordingPublisher, rejection, SEALED, stateAfterAnswer } from '../test/fake-aws.ts';
import { TERMINAL_SEQ } from './answer-events.ts';
import { ErrorName } from './errors.ts';
import { GraphqlRequestError } from './graphql-client.ts';
import { failureMessage, publishAnswer } from './publish-answer.ts';

const identity = { tenantId: 'tenant1', userId: 'user-1', username: 'alice' };
const request = { answerId: 'user-1.a1', question: 'What is your return policy?' };
/** The state as PublishAnswer receives it after a successful run. */
const done = stateAfterAnswer(identity, request);
/** The state as PublishFailure receives it: the Catch put the error in `$.error`. */
const failed = (error: { Error: string; Cause?: string }) => ({ identity, request, error, recorded: { recorded: true } });

describe('publishAnswer', () => {
  it("publishes DONE with the answer to the state's asker, as the mutation's variables, at the terminal seq", async () => {
    const { port, published } = recordingPublisher();
    const event = await publishAnswer(done, { graphql: port });
    const expected = { answerId: 'user-1.a1', userId: 'user-1', status: 'DONE', seq: TERMINAL_SEQ, text: done.answer.text, error: null, step: 'PublishAnswer' };
    expect(published).toEqual([expected]);
    expect(event).toEqual(expected);
    expect(JSON.stringify(published)).not.toContain(SEALED);
  });

  it("publishes FAILED with the reason when the error is the asker's (their request), cut to 500 characters", async () => {
    const { port, published } = recordingPublisher();
    await publishAnswer(failed({ Error: ErrorName.InvalidRequest, Cause: 'The question is empty.' }), { graphql: port });
    await publishAnswer(failed({ Error: ErrorName.TenantUnavailable, Cause: 'x'.repeat(600) }), { graphql: port });
    expect(published).toEqual([
      { answerId: 'user-1.a1', userId: 'user-1', status: 'FAILED', seq: TERMINAL_SEQ, text: null, error: 'The question is empty.', step: 'PublishFailure' },
      { answerId: 'user-1.a1', userId: 'user-1', status: 'FAILED', seq: TERMINAL_SEQ, text: null, error: 'x'.repeat(500), step: 'PublishFailure' },
    ]);
  });

  it("publishes FAILED with the errorMessage alone when the Cause is a Lambda function's error document (AWS's shape)", async () => {
    const { port, published } = recordingPublisher();
    const document = (errorType: string, errorMessage: string) =>
      JSON.stringify({ errorType, errorMessage, trace: [`${errorType}: ${errorMessage}`, '    at validateContext (/var/task/index.mjs:1:2345)', '    at Runtime.handleOnce (/var/runtime/Runtime.js:63:25)'] });
    await publishAnswer(failed({ Error: ErrorName.InvalidRequest, Cause: document(ErrorName.InvalidRequest, 'The question is empty.') }), { graphql: port });
    await publishAnswer(failed({ Error: ErrorName.QuotaExceeded, Cause: document(ErrorName.QuotaExceeded, 'tenant1 has used its 100 questions today.') }), { graphql: port });
    expect(published.map((e) => e.error)).toEqual(['The question is empty.', 'tenant1 has used its 100 questions today.']);
    expect(JSON.stringify(published)).not.toMatch(/errorType|trace|\/var\/task|\/var\/runtime/);
  });

  it('control: an internal error whose Cause is an error document still shows only the reference', async () => {
    const { port, published } = recordingPublisher();
    const cause = JSON.stringify({ errorType: ErrorName.AgentFailed, errorMessage: 'Tool failed: AccessDeniedException: arn:aws:sts::1:assumed-role/x', trace: ['at /var/task/index.mjs:1:1'] });
    await publishAnswer(failed({ Error: ErrorName.AgentFailed, Cause: cause }), { graphql: port });
    expect(published.map((e) => e.error)).toEqual([`The assistant could not answer this question (${ErrorName.AgentFailed}). Please try again later.`]);
  });

  it('publishes FAILED with only the error name when the cause is internal (it may name roles, tables, services)', async () => {
    const { port, published } = recordingPublisher();
    const cause = 'Tool listMyOrders failed: AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role/tenant-access/t-tenant1.user-1';
    for (const name of [ErrorName.AgentFailed, ErrorName.CredentialsFailed, 'States.Timeout', 'Lambda.Unknown']) {
      await publishAnswer(failed({ Error: name, Cause: cause }), { graphql: port });
    }
    expect(published.map((e) => e.error)).toEqual(
      [ErrorName.AgentFailed, ErrorName.CredentialsFailed, 'States.Timeout', 'Lambda.Unknown'].map(
        (name) => `The assistant could not answer this question (${name}). Please try again later.`,
      ),
    );
    expect(JSON.stringify(published)).not.toContain('arn:aws');
    expect(failureMessage({ Error: ErrorName.InvalidRequest })).toBe('The assistant could not answer this question (Assistant.InvalidRequest). Please try again later.');
  });

  it("tells the asker what a model failure means, never its Cause (control: another internal error gets the reference)", async () => {
    const cause = 'Converse failed: ResourceNotFoundException: This model version has reached the end of its life.';
    expect(failureMessage({ Error: ErrorName.ModelUnavailable, Cause: cause })).toMatch(/language model is not available/);
    expect(failureMessage({ Error: ErrorName.ModelTimedOut, Cause: cause })).toBe('The assistant took too long to answer. Please try again.');
    expect(failureMessage({ Error: ErrorName.ModelUnavailable, Cause: cause })).not.toContain('ResourceNotFoundException');
    expect(failureMessage({ Error: ErrorName.AgentFailed, Cause: cause })).toBe('The assistant could not answer this question (Assistant.AgentFailed). Please try again later.');
  });

  it('publishes FAILED, not DONE, when the state holds an answer and a caught error (PublishAnswer itself failed)', async () => {
    const { port, published } = recordingPublisher();
    await publishAnswer({ ...done, error: { Error: ErrorName.ServiceUnavailable, Cause: 'GraphQL 503' } }, { graphql: port });
    expect(published.map((e) => [e.status, e.text, e.step])).toEqual([['FAILED', null, 'PublishFailure']]);
  });

  it.each([
    ['no userId', { identity: { tenantId: 'tenant1' }, request, answer: done.answer }],
    ['no answerId', { identity, request: { question: 'q' }, answer: done.answer }],
    ['neither an answer nor an error', { identity, request }],
  ])('refuses a state with %s with PublishFailed, publishing nothing', async (_, state) => {
    const { port, published } = recordingPublisher();
    expect((await rejection(publishAnswer(state, { graphql: port }))).name).toBe(ErrorName.PublishFailed);
    expect(published).toEqual([]);
  });

  it.each([
    ['AppSync is down', new GraphqlRequestError('GraphQL 503: ServiceUnavailable: down', 503), ErrorName.ServiceUnavailable],
    ['AppSync throttles', new GraphqlRequestError('GraphQL 429: TooManyRequests: slow down', 429), ErrorName.ServiceUnavailable],
    ['the connection fails', new Error('connect ECONNREFUSED 127.0.0.1:3000'), ErrorName.ServiceUnavailable],
    ['AppSync refuses the signature', new GraphqlRequestError('GraphQL 401: UnauthorizedException: denied', 401), ErrorName.PublishFailed],
  ])('fails with the error the workflow routes when %s', async (_, error, name) => {
    const { port, published } = recordingPublisher(() => error);
    const err = await rejection(publishAnswer(done, { graphql: port }));
    expect(err.name).toBe(name);
    expect(err.message).toBe(`Publishing the DONE event failed: ${error.message}`);
    expect(published).toEqual([]);
  });
});
