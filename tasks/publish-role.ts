/**
 * The credentials validate-context and invoke-agent publish their events with: sessions of the
 * publish role (publish-answer's), the only role allowed to call `publishAnswer`
 * (tasks/policies.ts). A session lives 15 minutes and is shared by the runs of a warm function;
 * a new one is assumed 5 minutes before it expires, and after a failure on the next publish.
 */
import { AssumeRoleCommand, type STSClient } from '@aws-sdk/client-sts';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import type { TaskName } from './task-names.ts';

/** STS's minimum, and the most a publish session needs. */
export const PUBLISH_SESSION_SECONDS = 900;
/** How long before its expiry a session is replaced. */
export const PUBLISH_SESSION_REFRESH_MS = 5 * 60_000;

/**
 * The publish role could not be assumed (its trust policy, the task role's policy, or STS itself):
 * the publish fails under this name, so that its log line says where to look.
 */
export class PublishRoleUnavailable extends Error {
  constructor(roleArn: string, cause: unknown) {
    super(`Could not assume the publish role ${roleArn}: ${(cause as Error)?.name ?? 'Error'}`, { cause });
    this.name = 'PublishRoleUnavailable';
  }
}

export interface PublishRoleOptions {
  /**
   * How long AssumeRole may take before the publish fails: the credentials are fetched before the
   * publish's own (timed) request, and a best-effort event must not hold its task up. @default 3000
   */
  timeoutMs?: number;
  now?: () => number;
}

export function publishRoleCredentials(
  sts: Pick<STSClient, 'send'>,
  roleArn: string,
  /** The session name: the task, so that every publish names who made it (CloudTrail, AppSync logs). */
  task: TaskName,
  { timeoutMs = 3000, now = Date.now }: PublishRoleOptions = {},
): AwsCredentialIdentityProvider {
  let current: Promise<AwsCredentialIdentity> | undefined;
  let refreshAt = 0;

  const assume = async (): Promise<AwsCredentialIdentity> => {
    let out;
    const abort = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        abort.abort();
        reject(Object.assign(new Error(`STS did not answer within ${timeoutMs} ms`), { name: 'TimeoutError' }));
      }, timeoutMs);
    });
    try {
      const command = new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: task, DurationSeconds: PUBLISH_SESSION_SECONDS });
      out = await Promise.race([sts.send(command, { abortSignal: abort.signal }), timedOut]);
    } catch (err) {
      throw new PublishRoleUnavailable(roleArn, err);
    } finally {
      clearTimeout(timer);
    }
    const c = out.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) {
      throw new PublishRoleUnavailable(roleArn, new Error('STS AssumeRole returned no credentials'));
    }
    return { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expiration: c.Expiration };
  };

  return () => {
    if (!current || now() >= refreshAt) {
      const pending = assume();
      current = pending;
      // While the call is in flight every caller shares it.
      refreshAt = Number.POSITIVE_INFINITY;
      pending.then(
        (c) => {
          if (current === pending) refreshAt = c.expiration!.getTime() - PUBLISH_SESSION_REFRESH_MS;
        },
        () => {
          if (current === pending) current = undefined;
        },
      );
    }
    return current;
  };
}
