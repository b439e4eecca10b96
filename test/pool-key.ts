/**
 * The local pool's private key, read from a persisted stack's `<dataDir>/cognito.json`, to craft
 * tokens that are validly signed but wrong in one claim (test/api-tokens.test.ts,
 * test/access-token.test.ts). Call after `stack.cognito.flush()`.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { importJWK, SignJWT, type JWK, type JWTPayload } from 'jose';
import { COGNITO_STATE_FILE } from '../infra/local/services/cognito/service.ts';

export interface PoolSigner {
  kid: string;
  /** Signed with the pool's own private key (RS256): valid except for what the claims or header change. */
  sign(payload: JWTPayload, header?: Record<string, unknown>): Promise<string>;
}

export async function poolSigner(dataDir: string): Promise<PoolSigner> {
  const state = JSON.parse(await readFile(path.join(dataDir, COGNITO_STATE_FILE), 'utf8')) as { signingKey: { kid: string; privateJwk: JWK } };
  const { kid } = state.signingKey;
  const privateKey = await importJWK({ ...state.signingKey.privateJwk, alg: 'RS256' }, 'RS256');
  return {
    kid,
    sign: (payload, header = {}) => new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid, ...header }).sign(privateKey),
  };
}
