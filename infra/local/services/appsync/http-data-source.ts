/**
 * The local AppSync's HTTP data source: the request a resolver returned, signed with SigV4 for the
 * data source's service with the API's data source role, sent to the edge, like AppSync does with
 * an HTTP data source whose authorizationConfig is AWS_IAM.
 */
import http from 'node:http';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { HttpDataSourceRequest } from './graphql.ts';
import type { LocalCredentials } from '../../iam/principals.ts';

export function signedHttpDataSource(options: { endpoint: string; region: string; credentials: LocalCredentials }) {
  const base = new URL(options.endpoint);
  const signers = new Map<string, SignatureV4>();
  const agent = new http.Agent({ keepAlive: true });
  return async (service: string, request: HttpDataSourceRequest) => {
    let signer = signers.get(service);
    if (!signer) {
      signer = new SignatureV4({ service, region: options.region, credentials: options.credentials, sha256: Hash.bind(null, 'sha256') });
      signers.set(service, signer);
    }
    const body = request.params?.body ?? '';
    const signed = await signer.sign(
      new HttpRequest({
        method: request.method,
        protocol: base.protocol,
        hostname: base.hostname,
        ...(base.port ? { port: Number(base.port) } : {}),
        path: request.resourcePath,
        query: request.params?.query ?? {},
        headers: { ...request.params?.headers, host: base.host },
        body,
      }),
    );
    const url = new URL(request.resourcePath, base);
    for (const [k, v] of Object.entries(request.params?.query ?? {})) url.searchParams.set(k, v);
    return new Promise<{ statusCode: number; headers: Record<string, string>; body: string }>((resolve, reject) => {
      const req = http.request(url, { method: request.method, headers: signed.headers, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers[k] = v;
          resolve({ statusCode: res.statusCode ?? 0, headers, body: Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  };
}
