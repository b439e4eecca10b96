import { describe, expect, it } from 'vitest';
import { AnswerSanitizer, MAX_ANSWER_CHARS } from './invoke-agent.ts';

/** Feeds `text` to a sanitizer in pieces cut at `cuts`; returns what each push showed, and the end. */
function stream(text: string, secrets: string[], cuts: number[]): { shown: string[]; whole: string } {
  const sanitizer = new AnswerSanitizer(secrets);
  const shown: string[] = [];
  let from = 0;
  for (const cut of [...cuts, text.length]) {
    shown.push(sanitizer.push(text.slice(from, cut)));
    from = cut;
  }
  shown.push(sanitizer.end());
  return { shown, whole: shown.join('') };
}

const SECRET = 'secret-value/0123456789+abcdefghij';
const TOKEN = 'session-token-value-0123456789';

describe('AnswerSanitizer: the answer cleaned as it streams', () => {
  it('joined, equals the whole text sanitized at once, however the text is cut', () => {
    const text = `Intro \u0007text ${SECRET} middle ${TOKEN}${TOKEN} end ${SECRET.slice(0, 10)} tail ✓ 🙂`;
    const once = stream(text, [SECRET, TOKEN], []).whole;
    expect(once).toBe(`Intro text [redacted] middle [redacted][redacted] end ${SECRET.slice(0, 10)} tail ✓ 🙂`);
    for (let step = 1; step <= 7; step++) {
      const cuts = Array.from({ length: Math.ceil(text.length / step) }, (_, i) => i * step).slice(1);
      expect(stream(text, [SECRET, TOKEN], cuts).whole, `pieces of ${step}`).toBe(once);
    }
  });

  it('never shows part of a secret cut across pieces: the start is held until it is decided', () => {
    const text = `Your key is ${SECRET}.`;
    const cut = text.indexOf(SECRET) + 12;
    const { shown } = stream(text, [SECRET], [cut]);
    expect(shown[0]).toBe('Your key is ');
    expect(shown.join('')).toBe('Your key is [redacted].');
    for (const piece of shown) expect(piece).not.toContain(SECRET.slice(0, 4));
  });

  it('shows held text once it is not a secret after all', () => {
    const text = `Prefix ${SECRET.slice(0, 8)}!`;
    const { shown, whole } = stream(text, [SECRET], [text.length - 1]);
    expect(shown[0]).toBe('Prefix ');
    expect(whole).toBe(text);
  });

  it('limits the answer to MAX_ANSWER_CHARS characters with an ellipsis, streamed or not', () => {
    const long = 'é'.repeat(MAX_ANSWER_CHARS + 10);
    const expected = `${'é'.repeat(MAX_ANSWER_CHARS - 1)}…`;
    expect(stream(long, [], []).whole).toBe(expected);
    expect(stream(long, [], [100, 3999, 4000, 4001]).whole).toBe(expected);
    const exact = 'x'.repeat(MAX_ANSWER_CHARS);
    expect(stream(exact, [], [3999]).whole).toBe(exact);
  });
});
