/**
 * The local CA and the certificate of the local AppSync's HTTPS/WSS endpoint (the Amplify client
 * opens `wss://` only). Kept in `<dataDir>/tls/` (in a temporary directory with `--memory`):
 *
 *   ca.pem        the local CA's certificate (ECDSA P-256, 10 years, CA:true, keyCertSign): the file clients trust
 *   ca-key.pem    its private key (0600)
 *   cert.pem      the server certificate for localhost, 127.0.0.1 and ::1 (1 year, serverAuth), signed by the CA
 *   key.pem       its private key (0600)
 *
 * The CA is made on the first start and reused after, so that a client trusts it once. A CA that
 * cannot be used (a key that does not read, a certificate damaged, expired or not the key's) refuses
 * the start with the way out, as data-files.ts does; nothing is changed. The server certificate is
 * made again when it is missing, damaged, not the CA's, or expires within 30 days.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { createPrivateKey, KeyObject, webcrypto, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writePrivateFile } from '../../client/cli/private-file.ts';
import { DataFileError } from './data-files.ts';

export const TLS_DIR = 'tls';
export const CA_FILE = 'ca.pem';
export const CA_KEY_FILE = 'ca-key.pem';
export const CERT_FILE = 'cert.pem';
export const KEY_FILE = 'key.pem';

const DAY_MS = 86_400_000;
const CA_VALIDITY_DAYS = 3650;
/** Within the 398 days browsers accept from public CAs (a locally trusted CA is not held to it). */
const LEAF_VALIDITY_DAYS = 365;
const RENEW_WITHIN_DAYS = 30;
/** The names the endpoint is reached by: its certificate's subject alternative names. */
export const LOCAL_TLS_HOSTS = { dns: ['localhost'], ip: ['127.0.0.1', '::1'] } as const;

const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;
const crypto = webcrypto;

export interface LocalTls {
  /** The directory of the four files. */
  readonly dir: string;
  /** The CA certificate clients trust (NODE_EXTRA_CA_CERTS, the browser's or the OS's store). */
  readonly caFile: string;
  /** PEM texts: the server's key and certificate, and the CA certificate. */
  readonly key: string;
  readonly cert: string;
  readonly ca: string;
  /** SHA-256 fingerprint of the CA certificate (as `openssl x509 -fingerprint -sha256` prints it). */
  readonly caFingerprint: string;
  /** What this start made: the CA (first start), the server certificate (first start or renewal), or neither. */
  readonly made: { ca: boolean; cert: boolean; reason?: string };
  /** Removes a temporary directory (`--memory`); keeps a data directory's. */
  dispose(): Promise<void>;
}

/**
 * The CA and server certificate of `dataDir` (made or renewed as needed), or of a new temporary
 * directory when `dataDir` is undefined. Throws DataFileError when the CA cannot be used.
 */
export async function localTls(options: { dataDir?: string | undefined; clock?: () => Date } = {}): Promise<LocalTls> {
  const now = (options.clock ?? (() => new Date()))();
  const temporary = !options.dataDir;
  const dir = options.dataDir ? path.join(options.dataDir, TLS_DIR) : await mkdtemp(path.join(tmpdir(), 'local-stack-tls-'));
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const file = (name: string) => path.join(dir, name);

  let ca = loadCa(dir, now);
  const madeCa = !ca;
  if (!ca) {
    ca = await makeCa(now);
    await writePrivateFile(file(CA_KEY_FILE), ca.keyPem);
    await writePrivateFile(file(CA_FILE), ca.certPem);
  }
  for (const name of [CA_KEY_FILE, KEY_FILE]) if (existsSync(file(name))) await chmod(file(name), 0o600);

  const problem = leafProblem(dir, ca.cert, now);
  if (problem) {
    const leaf = await makeLeaf(ca, now);
    await writePrivateFile(file(KEY_FILE), leaf.keyPem);
    await writePrivateFile(file(CERT_FILE), leaf.certPem);
  }
  return {
    dir,
    caFile: file(CA_FILE),
    key: readFileSync(file(KEY_FILE), 'utf8'),
    cert: readFileSync(file(CERT_FILE), 'utf8'),
    ca: ca.certPem,
    caFingerprint: ca.cert.fingerprint256,
    made: { ca: madeCa, cert: Boolean(problem), ...(problem ? { reason: problem } : {}) },
    dispose: () => (temporary ? rm(dir, { recursive: true, force: true }) : Promise.resolve()),
  };
}

interface Ca {
  cert: X509Certificate;
  certPem: string;
  key: KeyObject;
  keyPem: string;
}

/** The CA of `dir`; undefined when it has none yet (neither file); DataFileError when it cannot be used. */
function loadCa(dir: string, now: Date): Ca | undefined {
  const keyFile = path.join(dir, CA_KEY_FILE);
  const certFile = path.join(dir, CA_FILE);
  const [hasKey, hasCert] = [existsSync(keyFile), existsSync(certFile)];
  if (!hasKey && !hasCert) return undefined;
  const wayOut =
    `restore ${dir} from a backup, or remove it (rm -r ${dir}) and start again: the start makes a new local CA, ` +
    `and every client that trusted the old ${CA_FILE} must trust the new one (README: Trusting the local CA)`;
  if (!hasKey) throw new DataFileError(keyFile, `missing, while ${CA_FILE} is there: the local CA cannot sign a server certificate without its key`, wayOut);
  if (!hasCert) throw new DataFileError(certFile, `missing, while ${CA_KEY_FILE} is there: clients trust the CA by this file`, wayOut);
  let keyPem: string;
  let key: KeyObject;
  try {
    keyPem = readFileSync(keyFile, 'utf8');
    key = createPrivateKey(keyPem);
  } catch (err) {
    throw new DataFileError(keyFile, `the local CA's private key cannot be read (${(err as Error).message})`, wayOut);
  }
  let cert: X509Certificate;
  const certPem = readFileSync(certFile, 'utf8');
  try {
    cert = new X509Certificate(certPem);
  } catch (err) {
    throw new DataFileError(certFile, `not a certificate (${(err as Error).message})`, wayOut);
  }
  if (!cert.ca) throw new DataFileError(certFile, 'not a CA certificate (basicConstraints CA:true is missing)', wayOut);
  if (!cert.checkPrivateKey(key)) throw new DataFileError(keyFile, `not the private key of ${certFile}`, wayOut);
  if (new Date(cert.validTo).getTime() <= now.getTime() + RENEW_WITHIN_DAYS * DAY_MS) {
    throw new DataFileError(certFile, `the local CA expires on ${new Date(cert.validTo).toISOString()} (or has): its server certificates would not be trusted for long`, wayOut);
  }
  return { cert, certPem, key, keyPem };
}

/** Why the server certificate of `dir` must be made again; undefined when it can be used. */
function leafProblem(dir: string, ca: X509Certificate, now: Date): string | undefined {
  const certFile = path.join(dir, CERT_FILE);
  const keyFile = path.join(dir, KEY_FILE);
  if (!existsSync(certFile) || !existsSync(keyFile)) return 'missing';
  let cert: X509Certificate;
  let key: KeyObject;
  try {
    cert = new X509Certificate(readFileSync(certFile));
    key = createPrivateKey(readFileSync(keyFile));
  } catch (err) {
    return `damaged (${(err as Error).message})`;
  }
  if (!cert.checkPrivateKey(key)) return 'key.pem is not the key of cert.pem';
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return 'not signed by the local CA';
  if (new Date(cert.validFrom).getTime() > now.getTime()) return 'not yet valid';
  if (new Date(cert.validTo).getTime() <= now.getTime() + RENEW_WITHIN_DAYS * DAY_MS) return `expires on ${new Date(cert.validTo).toISOString()}`;
  const names = LOCAL_TLS_HOSTS.dns.every((h) => cert.checkHost(h) !== undefined) && LOCAL_TLS_HOSTS.ip.every((ip) => cert.checkIP(ip) !== undefined);
  if (!names) return `does not name ${[...LOCAL_TLS_HOSTS.dns, ...LOCAL_TLS_HOSTS.ip].join(', ')}`;
  return undefined;
}

const pemOf = (key: webcrypto.CryptoKey) => KeyObject.from(key).export({ type: 'pkcs8', format: 'pem' }) as string;
const daysAfter = (date: Date, days: number) => new Date(date.getTime() + days * DAY_MS);
/** Certificates start a minute early: a client whose clock is a little behind still accepts them. */
const startOf = (now: Date) => new Date(now.getTime() - 60_000);

async function makeCa(now: Date): Promise<Ca> {
  const keys = (await crypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      name: 'CN=Multi-tenant AI assistant local CA, O=Local stack',
      notBefore: startOf(now),
      notAfter: daysAfter(now, CA_VALIDITY_DAYS),
      signingAlgorithm: SIGNING,
      keys,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  const certPem = cert.toString('pem');
  const keyPem = pemOf(keys.privateKey);
  return { cert: new X509Certificate(certPem), certPem, key: createPrivateKey(keyPem), keyPem };
}

async function makeLeaf(ca: Ca, now: Date): Promise<{ certPem: string; keyPem: string }> {
  const keys = (await crypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const signingKey = await crypto.subtle.importKey('pkcs8', ca.key.export({ type: 'pkcs8', format: 'der' }), EC, false, ['sign']);
  const caPublicKey = await crypto.subtle.importKey('spki', ca.cert.publicKey.export({ type: 'spki', format: 'der' }), EC, true, ['verify']);
  const cert = await x509.X509CertificateGenerator.create(
    {
      subject: 'CN=localhost',
      issuer: new x509.X509Certificate(ca.certPem).subject,
      notBefore: startOf(now),
      notAfter: daysAfter(now, LEAF_VALIDITY_DAYS),
      signingAlgorithm: SIGNING,
      publicKey: keys.publicKey,
      signingKey,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
        new x509.SubjectAlternativeNameExtension([...LOCAL_TLS_HOSTS.dns.map((value) => ({ type: 'dns' as const, value })), ...LOCAL_TLS_HOSTS.ip.map((value) => ({ type: 'ip' as const, value }))], false),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
        await x509.AuthorityKeyIdentifierExtension.create(caPublicKey, false, crypto),
      ],
    },
    crypto,
  );
  return { certPem: cert.toString('pem'), keyPem: pemOf(keys.privateKey) };
}
