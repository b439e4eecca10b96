import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parseStdinPasswords, promptHidden, readStdin } from './password-input.ts';

describe('--password-stdin', () => {
  it('takes the first line as the password, and a second line as the new password', () => {
    expect(parseStdinPasswords('Temp-pass1!\n')).toEqual({ password: 'Temp-pass1!' });
    expect(parseStdinPasswords('Temp-pass1!\r\nNew-pass-2?\n')).toEqual({ password: 'Temp-pass1!', newPassword: 'New-pass-2?' });
  });

  it("takes the seeded user's secret as the deploy output's command prints it", () => {
    const secret = JSON.stringify({ username: 'tenant1-user', tenantId: 'tenant1', password: 'x{y}"z' });
    expect(parseStdinPasswords(`${secret}\n`)).toEqual({ password: 'x{y}"z' });
  });

  it('refuses empty input and JSON without a password, without echoing the input', () => {
    expect(() => parseStdinPasswords('')).toThrow('standard input held no password');
    expect(() => parseStdinPasswords('{"username":"u","pw":"secret-value"}')).toThrow(/has no "password"/);
    expect(() => parseStdinPasswords('{not json secret-value')).toThrow(/not valid JSON/);
    for (const input of ['{"pw":"secret-value"}', '{not json secret-value']) {
      let message: string | undefined;
      try {
        parseStdinPasswords(input);
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toMatch(/^--password-stdin: /);
      expect(message).not.toContain('secret-value');
    }
  });

  it('reads a whole stream', async () => {
    expect(await readStdin(Readable.from([Buffer.from('a'), Buffer.from('b\n')]))).toBe('ab\n');
  });

  it('refuses to prompt without a terminal', async () => {
    const notTty = Object.assign(Readable.from([]), { isTTY: false }) as unknown as NodeJS.ReadStream;
    await expect(promptHidden('Password: ', notTty)).rejects.toThrow(/--password-stdin/);
  });
});
