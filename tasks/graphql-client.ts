/**
 * An IAM-signed GraphQL client for AppSync: a POST of `{ query, variables }` signed with SigV4 for
 * the `appsync` service. Values always travel as GraphQL variables, never spliced into the query.
 */
import http from 'node:http';
import https from 'node:https';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';

export interface GraphqlError {
  message: string;
  errorType?: string;
  path?: (string | number)[];
}

export class GraphqlRequestError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly errors: GraphqlError[] = [],
  ) {
    super(message);
    this.name = 'GraphqlRequestError';
  }
}

export interface IamGraphqlClientOptions {
  url: string;
  region: string;
  credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** @default 10 000 */
  timeoutMs?: number;
}

export class IamGraphqlClient {
  private readonly signer: SignatureV4;
  /** Kept-alive connections: a task publishes many events over a warm Lambda's life. */
  private readonly agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };

  constructor(private readonly options: IamGraphqlClientOptions) {
    this.signer = new SignatureV4({ service: 'appsync', region: options.region, credentials: options.credentials, sha256: Hash.bind(null, 'sha256') });
  }

  private post(url: URL, headers: Record<string, string>, body: string): Promise<{ status: number; text: string }> {
    const secure = url.protocol === 'https:';
    const timeout = this.options.timeoutMs ?? 10_000;
    return new Promise((resolve, reject) => {
      const req = (secure ? https : http).request(url, { method: 'POST', headers, agent: secure ? this.agents.https : this.agents.http, timeout }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`GraphQL request timed out after ${timeout} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  async request<T>(query: string, variables: Record<string, unknown>): Promise<T> {
    const url = new URL(this.options.url);
    const body = JSON.stringify({ query, variables });
    const signed = await this.signer.sign(
      new HttpRequest({
        method: 'POST',
        protocol: url.protocol,
        hostname: url.hostname,
        ...(url.port ? { port: Number(url.port) } : {}),
        path: url.pathname,
        headers: { host: url.host, 'content-type': 'application/json' },
        body,
      }),
    );
    const response = await this.post(url, signed.headers, body);
    const text = response.text;
    let payload: { data?: T; errors?: GraphqlError[] };
    try {
      payload = JSON.parse(text) as typeof payload;
    } catch {
      throw new GraphqlRequestError(`GraphQL endpoint answered ${response.status} with a non-JSON body`, response.status);
    }
    if (response.status < 200 || response.status >= 300 || payload.errors?.length) {
      const first = payload.errors?.[0];
      throw new GraphqlRequestError(
        `GraphQL ${response.status}: ${first?.errorType ?? 'Error'}: ${first?.message ?? 'request failed'}`,
        response.status,
        payload.errors ?? [],
      );
    }
    return payload.data as T;
  }
}
