import { AssumeRoleCommand } from '@aws-sdk/client-sts';
import { describe, expect, it } from 'vitest';
import { PUBLISH_SESSION_REFRESH_MS, PUBLISH_SESSION_SECONDS, publishRoleCredentials, PublishRoleUnavailable } from './publish-role.ts';

const ROLE = 'arn:aws:iam::111122223333:role/publish';

/** A fake STS: each AssumeRole answers with numbered credentials expiring 15 minutes after `clock`. */
function fakeSts(clock: { now: number }, fail: { next?: Error } = {}) {
  const calls: AssumeRoleCommand['input'][] = [];
  const sts = {
    send: async (command: AssumeRoleCommand) => {
      calls.push(command.input);
      await Promise.resolve();
      if (fail.next) {
        const err = fail.next;
        delete fail.next;
        throw err;
      }
      const n = calls.length;
      return {
        Credentials: { AccessKeyId: `key-${n}`, SecretAccessKey: `secret-${n}`, SessionToken: `token-${n}`, Expiration: new Date(clock.now + PUBLISH_SESSION_SECONDS * 1000) },
      };
    },
  };
  return { sts: sts as never, calls };
}

describe('publishRoleCredentials', () => {
  it('assumes the publish role once, named after the task, and shares the session (also between concurrent callers)', async () => {
    const clock = { now: 1_000_000 };
    const { sts, calls } = fakeSts(clock);
    const provider = publishRoleCredentials(sts, ROLE, 'invoke-agent', { now: () => clock.now });
    const [a, b] = await Promise.all([provider(), provider()]);
    clock.now += 60_000;
    const c = await provider();
    expect(calls).toEqual([{ RoleArn: ROLE, RoleSessionName: 'invoke-agent', DurationSeconds: PUBLISH_SESSION_SECONDS }]);
    expect(a).toEqual(b);
    expect(c).toMatchObject({ accessKeyId: 'key-1', secretAccessKey: 'secret-1', sessionToken: 'token-1' });
  });

  it('assumes a new session shortly before the old one expires', async () => {
    const clock = { now: 1_000_000 };
    const { sts, calls } = fakeSts(clock);
    const provider = publishRoleCredentials(sts, ROLE, 'validate-context', { now: () => clock.now });
    await provider();
    clock.now += PUBLISH_SESSION_SECONDS * 1000 - PUBLISH_SESSION_REFRESH_MS - 1;
    expect((await provider()).accessKeyId).toBe('key-1');
    clock.now += 1;
    expect((await provider()).accessKeyId).toBe('key-2');
    expect(calls).toHaveLength(2);
  });

  it('fails the call that met an STS error, naming the publish role, and tries again on the next one', async () => {
    const clock = { now: 1_000_000 };
    const denied = Object.assign(new Error('not authorized to perform sts:AssumeRole'), { name: 'AccessDenied' });
    const { sts, calls } = fakeSts(clock, { next: denied });
    const provider = publishRoleCredentials(sts, ROLE, 'validate-context', { now: () => clock.now });
    const err = (await provider().catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(PublishRoleUnavailable);
    expect(err).toMatchObject({ name: 'PublishRoleUnavailable', message: `Could not assume the publish role ${ROLE}: AccessDenied`, cause: denied });
    expect((await provider()).accessKeyId).toBe('key-2');
    expect(calls).toHaveLength(2);
  });

  it('gives up on an STS that does not answer, within its timeout, so that a publish never holds its task up', async () => {
    const signals: AbortSignal[] = [];
    const silent = { send: (_c: unknown, options: { abortSignal: AbortSignal }) => (signals.push(options.abortSignal), new Promise<never>(() => undefined)) };
    const provider = publishRoleCredentials(silent as never, ROLE, 'invoke-agent', { timeoutMs: 50 });
    // The fake never answers: only the timeout can settle the call.
    const err = (await provider().catch((e: unknown) => e)) as Error;
    expect(err).toMatchObject({ name: 'PublishRoleUnavailable', message: `Could not assume the publish role ${ROLE}: TimeoutError` });
    expect(signals[0]?.aborted).toBe(true);
  });
});
