/**
 * The local AppSync's HTTP data source: the request a resolver returned, signed with SigV4 for the
 * data source's service with the API's data source role, sent to the edge, like AppSync does with
 * an HTTP data source whose authorizationConfig is AWS_IAM.
 */
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { HttpDataSourceRequest } from './appsync.ts';
import type { LocalCredentials } from './principals.ts';

export function signedHttpDataSource(options: { endpoint: string; region: string; credentials: LocalCredentials }) {
  const base = new URL(options.endpoint);
  const signers = new Map<string, SignatureV4>();
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
    const response = await fetch(url, { method: request.method, headers: signed.headers, ...(body ? { body } : {}) });
    return { statusCode: response.status, headers: Object.fromEntries(response.headers), body: await response.text() };
  };
}
