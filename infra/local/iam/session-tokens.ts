/**
 * Session tokens that carry their own expiry, as AWS's do: a token names when its session ends and
 * is authenticated (HMAC with a key of this process) together with its access key id. So the local
 * IAM can forget a session's policies and secret as soon as it expires, and still answer a request
 * signed with its credentials as AWS does, ExpiredToken, rather than as for a key it never issued.
 */
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';

export class SessionTokens {
  private readonly key = randomBytes(32);

  private mac(accessKeyId: string, body: string): Buffer {
    return createHmac('sha256', this.key).update(`${accessKeyId}.${body}`).digest();
  }

  /** A new token for the session of `accessKeyId` that ends at `expiresAt`. */
  issue(accessKeyId: string, expiresAt: Date): string {
    const body = `${randomUUID()}.${Math.floor(expiresAt.getTime() / 1000)}.${randomBytes(64).toString('base64url')}`;
    return Buffer.from(`${body}.${this.mac(accessKeyId, body).toString('base64url')}`, 'utf8').toString('base64');
  }

  /** When the session of a token this process issued for `accessKeyId` ends; undefined for any other token. */
  expiryOf(accessKeyId: string, token: string): Date | undefined {
    const parts = Buffer.from(token, 'base64').toString('utf8').split('.');
    if (parts.length !== 4) return undefined;
    const body = parts.slice(0, 3).join('.');
    const given = Buffer.from(parts[3]!, 'base64url');
    const expected = this.mac(accessKeyId, body);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    const seconds = Number(parts[1]);
    return Number.isSafeInteger(seconds) ? new Date(seconds * 1000) : undefined;
  }
}
