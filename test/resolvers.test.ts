/**
 * The resolvers as AppSync runs them (bundled, in the local APPSYNC_JS runtime): identity comes
 * from the verified token only, and a user can only ask and subscribe as themselves.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadResolver, matchesFilter, ResolverError, runResolver, type DataSourceCall, type LoadedResolver } from '../infra/local/services/appsync/resolver-runtime.ts';
import { RESOLVERS } from '../infra/resolvers.ts';
import { CONTROL_CHARACTERS, MAX_ANSWER_ID_CHARS, MAX_CONVERSATION_ID_CHARS, MAX_QUESTION_CHARS, RequestSchema } from '../tasks/workflow-input.ts';

const resolvers = new Map<string, LoadedResolver>();
beforeAll(async () => {
  for (const def of RESOLVERS) resolvers.set(`${def.typeName}.${def.fieldName}`, await loadResolver(def));
});

const identity = (sub: string, tenantId?: string) => ({
  sub,
  username: `${sub}-name`,
  issuer: 'http://127.0.0.1/pool',
  claims: { sub, 'cognito:username': `${sub}-name`, ...(tenantId ? { 'custom:tenantId': tenantId } : {}) },
  sourceIp: ['127.0.0.1'],
  groups: null,
  defaultAuthStrategy: 'ALLOW',
});

const env = { STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:000000000000:stateMachine:assistant', USAGE_TABLE: 'usage', CONFIG_TABLE: 'tenant-config' };

/**
 * Mutation.ask's data sources for these tests: the config row names the standard plan and the
 * admission transaction succeeds (test/admission-pipeline.test.ts covers refusals); the HTTP data
 * source (StartExecution) is `start`.
 */
const admitting =
  (start: (request: unknown) => Promise<unknown>): DataSourceCall =>
  async (request, dataSource) => {
    if (dataSource.kind === 'HTTP') return start(request);
    if (dataSource.kind === 'DYNAMODB' && dataSource.table === 'config') return { tenantId: 'tenant1', plan: 'standard' };
    if ((request as { operation?: string }).operation === 'TransactWriteItems') return { keys: [], cancellationReasons: null };
    // ReleaseUnstarted, when StartExecution failed.
    if ((request as { operation?: string }).operation === 'UpdateItem') return {};
    throw new Error(`unexpected data source call ${JSON.stringify(request)}`);
  };

describe('Mutation.ask', () => {
  it('builds the state input from the token only and starts the execution', async () => {
    let sent: { method: string; resourcePath: string; params: { headers: Record<string, string>; body: string } } | undefined;
    const run = await runResolver(
      resolvers.get('Mutation.ask')!,
      { args: { answerId: 'u1.a1', question: 'Hi?', conversationId: 'c1' }, identity: identity('u1', 'tenant1'), env },
      admitting(async (request) => {
        sent = request as typeof sent;
        return { statusCode: 200, headers: {}, body: JSON.stringify({ executionArn: 'arn:exec:1', startDate: 1 }) };
      }),
    );
    expect(run.result).toEqual({ answerId: 'u1.a1', executionId: 'arn:exec:1' });
    expect(sent!.params.headers['x-amz-target']).toBe('AWSStepFunctions.StartExecution');
    const body = JSON.parse(sent!.params.body) as { stateMachineArn: string; input: string };
    expect(body.stateMachineArn).toBe(env.STATE_MACHINE_ARN);
    expect(JSON.parse(body.input)).toEqual({
      identity: { tenantId: 'tenant1', userId: 'u1', username: 'u1-name' },
      request: { answerId: 'u1.a1', question: 'Hi?', conversationId: 'c1' },
      // The concurrency slot admission took, for the workflow to release (tasks/release-slot.ts).
      slot: expect.stringMatching(/^\d{10}#u1\.a1$/),
    });
  });

  it('refuses an answerId that is not the caller\'s, and a token without custom:tenantId', async () => {
    const noCall = async () => {
      throw new Error('the data source must not be called');
    };
    await expect(runResolver(resolvers.get('Mutation.ask')!, { args: { answerId: 'u2.a1', question: 'Hi?' }, identity: identity('u1', 'tenant1'), env }, noCall)).rejects.toMatchObject({
      errorType: 'Unauthorized',
    });
    // "u1" is a prefix of "u10": the dot after the sub is what makes the check exact.
    await expect(runResolver(resolvers.get('Mutation.ask')!, { args: { answerId: 'u10.a1', question: 'Hi?' }, identity: identity('u1', 'tenant1'), env }, noCall)).rejects.toBeInstanceOf(ResolverError);
    await expect(runResolver(resolvers.get('Mutation.ask')!, { args: { answerId: 'u1.a1', question: 'Hi?' }, identity: identity('u1'), env }, noCall)).rejects.toMatchObject({
      errorType: 'Unauthorized',
      message: 'Not Authorized to access ask on type Mutation',
    });
  });

  it('reports a failed StartExecution as an error, not as a receipt', async () => {
    await expect(
      runResolver(
        resolvers.get('Mutation.ask')!,
        { args: { answerId: 'u1.a1', question: 'Hi?' }, identity: identity('u1', 'tenant1'), env },
        admitting(async () => ({ statusCode: 400, headers: {}, body: '{"__type":"AccessDeniedException"}' })),
      ),
    ).rejects.toMatchObject({ errorType: 'StartExecutionFailed' });
  });
});

describe('Mutation.ask: the question, before anything starts', () => {
  const ask = (question: string) => {
    let started = 0;
    const run = runResolver(
      resolvers.get('Mutation.ask')!,
      { args: { answerId: 'u1.a1', question }, identity: identity('u1', 'tenant1'), env },
      admitting(async () => {
        started++;
        return { statusCode: 200, headers: {}, body: JSON.stringify({ executionArn: 'arn:exec:1', startDate: 1 }) };
      }),
    );
    return run.then(
      (r) => ({ started, result: r.result, error: undefined }),
      (error: unknown) => ({ started, result: undefined, error: error as ResolverError }),
    );
  };

  it.each([
    ['empty', '', 'The question is empty.'],
    ['only blanks', ' \n\t ', 'The question is empty.'],
    ['one character over the limit', '🙂'.repeat(MAX_QUESTION_CHARS + 1), `The question is longer than ${MAX_QUESTION_CHARS} characters.`],
    ['with a control character', 'Return policy?\u0007', 'The question contains control characters.'],
    ['with a bidirectional override', 'Return \u202epolicy', 'The question contains control characters.'],
  ])('refuses a question %s with a GraphQL error, and starts nothing', async (_name, question, message) => {
    const { started, error } = await ask(question);
    expect(error).toBeInstanceOf(ResolverError);
    expect(error).toMatchObject({ errorType: 'BadRequestException', message });
    expect(started).toBe(0);
  });

  it('accepts a question of exactly MAX_QUESTION_CHARS characters (tasks/workflow-input.ts), counted as the workflow counts them', async () => {
    for (const question of ['🙂'.repeat(MAX_QUESTION_CHARS), 'x'.repeat(MAX_QUESTION_CHARS), 'Line one\n\tline two']) {
      const { started, error } = await ask(question);
      expect(error).toBeUndefined();
      expect(started).toBe(1);
    }
  });

  it('refuses exactly the characters CONTROL_CHARACTERS (tasks/workflow-input.ts) names', async () => {
    const codes = [...Array.from({ length: 0xa1 }, (_, i) => i), ...Array.from({ length: 0x70 }, (_, i) => 0x2000 + i)];
    for (const code of codes) {
      const ch = String.fromCodePoint(code);
      const { error } = await ask(`a${ch}b`);
      expect([code, error !== undefined]).toEqual([code, new RegExp(CONTROL_CHARACTERS.source).test(ch)]);
    }
  });
});

describe('Mutation.ask: what reaches StartExecution stays far under the 256 KiB payload quota', () => {
  /** Runs the resolver: the request of the execution input it sent and that input's size in bytes, or its error. */
  const ask = async (args: { answerId: string; question: string; conversationId?: string | null }) => {
    let input: string | undefined;
    try {
      await runResolver(
        resolvers.get('Mutation.ask')!,
        { args, identity: identity('u1', 'tenant1'), env },
        admitting(async (request) => {
          input = (JSON.parse((request as { params: { body: string } }).params.body) as { input: string }).input;
          return { statusCode: 200, headers: {}, body: JSON.stringify({ executionArn: 'arn:exec:1', startDate: 1 }) };
        }),
      );
    } catch (error) {
      return { started: input !== undefined, error: error as ResolverError };
    }
    if (input === undefined) throw new Error('the resolver started nothing and raised no error');
    return { started: true, request: (JSON.parse(input) as { request: Record<string, unknown> }).request, bytes: Buffer.byteLength(input) };
  };

  it('sends the question trimmed: blanks around a question do not reach the execution', async () => {
    const padding = ' '.repeat(300_000);
    const sent = await ask({ answerId: 'u1.a1', question: `${padding}What's your return policy?\n${padding}` });
    expect(sent.request?.question).toBe("What's your return policy?");
    expect(sent.bytes).toBeLessThan(1000);
  });

  it('refuses an answerId or conversationId over the limits of tasks/workflow-input.ts, and starts nothing', async () => {
    const answerId = (length: number) => `u1.${'a'.repeat(length - 3)}`;
    expect((await ask({ answerId: answerId(MAX_ANSWER_ID_CHARS), question: 'Hi?' })).request?.answerId).toHaveLength(MAX_ANSWER_ID_CHARS);
    const longId = await ask({ answerId: answerId(MAX_ANSWER_ID_CHARS + 1), question: 'Hi?' });
    expect(longId).toMatchObject({ started: false, error: { errorType: 'BadRequestException', message: `The answerId is longer than ${MAX_ANSWER_ID_CHARS} characters.` } });

    const conversationId = 'c'.repeat(MAX_CONVERSATION_ID_CHARS);
    expect((await ask({ answerId: 'u1.a1', question: 'Hi?', conversationId })).request?.conversationId).toBe(conversationId);
    const longConversation = await ask({ answerId: 'u1.a1', question: 'Hi?', conversationId: `${conversationId}c` });
    expect(longConversation).toMatchObject({ started: false, error: { errorType: 'BadRequestException', message: `The conversationId is longer than ${MAX_CONVERSATION_ID_CHARS} characters.` } });
    // The workflow's schema has the same bounds (control: it accepts the longest legal request).
    expect(RequestSchema.safeParse({ answerId: answerId(MAX_ANSWER_ID_CHARS), question: 'Hi?', conversationId }).success).toBe(true);
    expect(RequestSchema.safeParse({ answerId: answerId(MAX_ANSWER_ID_CHARS + 1), question: 'Hi?' }).success).toBe(false);
    expect(RequestSchema.safeParse({ answerId: 'u1.a1', question: 'Hi?', conversationId: `${conversationId}c` }).success).toBe(false);
  });

  it('the largest legal ask (every field at its limit, in the characters JSON makes longest) is a small execution input', async () => {
    // A lone surrogate is one character and six bytes of JSON (\udXXX), the most any allowed character takes.
    const widest = '\ud800';
    const sent = await ask({
      answerId: `u1.${widest.repeat(MAX_ANSWER_ID_CHARS - 3)}`,
      question: widest.repeat(MAX_QUESTION_CHARS),
      conversationId: widest.repeat(MAX_CONVERSATION_ID_CHARS),
    });
    expect(sent.error).toBeUndefined();
    expect(sent.bytes).toBeGreaterThan(6 * (MAX_QUESTION_CHARS + MAX_ANSWER_ID_CHARS + MAX_CONVERSATION_ID_CHARS - 3));
    expect(sent.bytes).toBeLessThan(16 * 1024);
    console.log(`payload quota: the largest legal ask's execution input is ${sent.bytes} bytes of 262144`);
  });
});

describe('Subscription.onAnswer', () => {
  it('sets a server-side filter on the caller\'s sub and answerId', async () => {
    const run = await runResolver(resolvers.get('Subscription.onAnswer')!, { args: { answerId: 'u1.a1' }, identity: identity('u1', 'tenant1'), env }, async (r) => (r as { payload: unknown }).payload);
    expect(run.subscriptionFilter).toBeDefined();
    expect(matchesFilter(run.subscriptionFilter!, { answerId: 'u1.a1', userId: 'u1' })).toBe(true);
    // Even an event carrying the right answerId is not delivered if it is another user's.
    expect(matchesFilter(run.subscriptionFilter!, { answerId: 'u1.a1', userId: 'u2' })).toBe(false);
    expect(matchesFilter(run.subscriptionFilter!, { answerId: 'u1.a2', userId: 'u1' })).toBe(false);
  });

  it('refuses another user\'s answerId', async () => {
    await expect(
      runResolver(resolvers.get('Subscription.onAnswer')!, { args: { answerId: 'u2.a1' }, identity: identity('u1', 'tenant1'), env }, async () => null),
    ).rejects.toMatchObject({ errorType: 'Unauthorized', message: 'Not Authorized to access onAnswer on type Subscription' });
  });
});

describe('Mutation.publishAnswer', () => {
  it('returns the published event (NONE data source)', async () => {
    const args = { answerId: 'u1.a1', userId: 'u1', status: 'DONE', seq: 1000, text: 'hi', error: null, step: 'PublishAnswer' };
    const run = await runResolver(resolvers.get('Mutation.publishAnswer')!, { args, identity: null, env }, async (r) => (r as { payload: unknown }).payload);
    expect(run.result).toEqual(args);
  });
});
