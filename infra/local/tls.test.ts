/**
 * The local CA and the HTTPS endpoint's certificate (tls.ts): made once, reused by later starts,
 * private keys owner-only; the server certificate made again when it nears its end or is damaged;
 * a CA that cannot be used refuses with the file and the way out, and changes nothing.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DataFileError } from './data-files.ts';
import { CA_FILE, CA_KEY_FILE, CERT_FILE, KEY_FILE, localTls, TLS_DIR } from './tls.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
async function dataDir(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'assistant-tls-'));
  dirs.push(d);
  return d;
}
const DAY = 86_400_000;
const mode = async (file: string) => (await stat(file)).mode & 0o777;

describe('the local CA', () => {
  it('is made on the first start with owner-only keys, and reused by the next (same fingerprint, same server certificate)', async () => {
    const dir = await dataDir();
    const first = await localTls({ dataDir: dir });
    expect(first.made).toEqual({ ca: true, cert: true, reason: 'missing' });
    const tls = path.join(dir, TLS_DIR);
    expect(first.caFile).toBe(path.join(tls, CA_FILE));
    expect(await mode(tls)).toBe(0o700);
    expect(await mode(path.join(tls, CA_KEY_FILE))).toBe(0o600);
    expect(await mode(path.join(tls, KEY_FILE))).toBe(0o600);

    const ca = new X509Certificate(first.ca);
    const leaf = new X509Certificate(first.cert);
    expect(ca.ca).toBe(true);
    const caUsages = new x509.X509Certificate(first.ca).getExtension(x509.KeyUsagesExtension)!;
    expect(caUsages.critical && (caUsages.usages & x509.KeyUsageFlags.keyCertSign) !== 0).toBe(true);
    expect(leaf.ca).toBe(false);
    expect(leaf.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']); // Node's keyUsage is the extended key usage: serverAuth
    expect(leaf.subjectAltName).toBe('DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    expect(leaf.checkIssued(ca) && leaf.verify(ca.publicKey)).toBe(true);
    // CA about 10 years, server certificate about a year (within the 398 days browsers accept).
    expect(Math.round((Date.parse(ca.validTo) - Date.now()) / DAY / 365)).toBe(10);
    expect(Math.round((Date.parse(leaf.validTo) - Date.now()) / DAY)).toBe(365);

    const second = await localTls({ dataDir: dir });
    expect(second.made).toEqual({ ca: false, cert: false });
    expect(second.caFingerprint).toBe(first.caFingerprint);
    expect(second.cert).toBe(first.cert);
  });

  it('makes the server certificate again when it expires within 30 days, or is damaged; the CA stays', async () => {
    const dir = await dataDir();
    const first = await localTls({ dataDir: dir });
    // The control: 300 days on, the certificate is kept.
    const kept = await localTls({ dataDir: dir, clock: () => new Date(Date.now() + 300 * DAY) });
    expect(kept.made.cert).toBe(false);
    const renewed = await localTls({ dataDir: dir, clock: () => new Date(Date.now() + 340 * DAY) });
    expect(renewed.made).toMatchObject({ ca: false, cert: true, reason: expect.stringMatching(/^expires on /) });
    expect(renewed.caFingerprint).toBe(first.caFingerprint);
    expect(renewed.cert).not.toBe(first.cert);

    await writeFile(path.join(dir, TLS_DIR, CERT_FILE), 'not a certificate');
    const repaired = await localTls({ dataDir: dir });
    expect(repaired.made).toMatchObject({ ca: false, cert: true, reason: expect.stringMatching(/^damaged/) });
    expect(new X509Certificate(repaired.cert).verify(new X509Certificate(first.ca).publicKey)).toBe(true);
  });

  it('refuses a damaged or missing CA key with the file and the way out, and changes nothing', async () => {
    const dir = await dataDir();
    await localTls({ dataDir: dir });
    const keyFile = path.join(dir, TLS_DIR, CA_KEY_FILE);
    const certBefore = await readFile(path.join(dir, TLS_DIR, CERT_FILE), 'utf8');
    // The key this start made, cut short inside its PEM armour (made at run time: no key-like literal).
    const lines = (await readFile(keyFile, 'utf8')).trim().split('\n');
    const damaged = `${[lines[0], lines[1]!.slice(0, 12), lines.at(-1)].join('\n')}\n`;
    await writeFile(keyFile, damaged);
    const err = await localTls({ dataDir: dir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataFileError);
    expect((err as DataFileError).file).toBe(keyFile);
    expect((err as Error).message).toMatch(/the local CA's private key cannot be read .*Way out: restore .* or remove it \(rm -r .*\) and start again: the start makes a new local CA/);
    expect(await readFile(keyFile, 'utf8')).toBe(damaged);
    expect(await readFile(path.join(dir, TLS_DIR, CERT_FILE), 'utf8')).toBe(certBefore);

    await unlink(keyFile);
    await expect(localTls({ dataDir: dir })).rejects.toThrow(`${keyFile}: missing, while ca.pem is there`);
  });

  it('refuses a CA key that is not the CA certificate\'s', async () => {
    const [a, b] = [await dataDir(), await dataDir()];
    await localTls({ dataDir: a });
    await localTls({ dataDir: b });
    await writeFile(path.join(a, TLS_DIR, CA_KEY_FILE), await readFile(path.join(b, TLS_DIR, CA_KEY_FILE)));
    await expect(localTls({ dataDir: a })).rejects.toThrow(/ca-key\.pem: not the private key of .*ca\.pem/);
  });

  it('with no data directory (--memory), lives in a temporary directory that dispose removes', async () => {
    const tls = await localTls();
    expect(existsSync(tls.caFile)).toBe(true);
    expect(tls.made.ca).toBe(true);
    await tls.dispose();
    expect(existsSync(tls.dir)).toBe(false);
  });
});
