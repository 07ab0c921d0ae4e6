import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { cleanPrompt, unescapeHtml } from '../../worker/runtime/prompt-clean.ts';

/**
 * Against Python's own output (test/fixtures/prompt-cleaning/make_fixture.py: Python 3.11 `html.unescape`, and Wan's
 * cleaning with ftfy 6.3.1 and `regex`) for every HTML5 entity name, numeric references over every range Python treats
 * specially, and edge cases. Failures are collected so one run names every input that differs.
 */
interface Case {
  text: string;
  unescaped: string;
  cleaned: string;
  noEncodingFix: string;
}
const fixture = JSON.parse(
  gunzipSync(readFileSync(join(import.meta.dirname, '../fixtures/prompt-cleaning/expected.json.gz'))).toString('utf8'),
) as { ftfy: string; cases: Case[] };

/** ftfy's mojibake repair, which cleanPrompt leaves out (its TSDoc says why): the only inputs allowed to differ. */
const MOJIBAKE = [
  'sÃ³',
  'voilÃ le travail',
  'âœ” No problems',
  '&macr;\\_(ã\x83\x84)_/&macr;',
  'Ã©tÃ©',
  'The Mona Lisa doesnÃ¢â‚¬â„¢t',
];

function mismatches(actual: (c: Case) => string, expected: (c: Case) => string) {
  return fixture.cases.filter((c) => actual(c) !== expected(c)).map((c) => ({ text: c.text, got: actual(c) }));
}

describe('unescapeHtml', () => {
  it('matches Python html.unescape on every fixture input', () => {
    expect(fixture.cases.length).toBeGreaterThan(20_000);

    expect(
      mismatches(
        (c) => unescapeHtml(c.text),
        (c) => c.unescaped,
      ),
    ).toEqual([]);
  });

  it.each([
    ['caf&eacute; &hellip; &#x80;', 'café … €'],
    ['&amp &ampx &notit; &notin;', '& &x ¬it; ∉'],
    ['&#0; &#xD800; &#x110000; &#1; &#xFFFF; &#13;', '\ufffd \ufffd \ufffd   \r'],
  ])('decodes %j as Python does', (text, expected) => {
    expect(unescapeHtml(text)).toBe(expected);
  });
});

describe('cleanPrompt', () => {
  it('matches ftfy without fix_encoding, html.unescape twice and whitespace_clean on every fixture input', () => {
    expect(
      mismatches(
        (c) => cleanPrompt(c.text),
        (c) => c.noEncodingFix,
      ),
    ).toEqual([]);
  });

  it('matches Wan with full ftfy everywhere except the mojibake inputs', () => {
    const differing = mismatches(
      (c) => cleanPrompt(c.text),
      (c) => c.cleaned,
    ).map((m) => m.text);

    expect(differing.sort()).toEqual([...MOJIBAKE].sort());
  });

  it.each([
    ['quotes “curly” and ‘single’', 'quotes "curly" and \'single\''],
    ['  ﬁnal\u3000ＡＢＣ\tﾊﾟ  ', 'final ABC パ'],
    ['\x1b[31mred\x1b[0m \ufeffbom\x07', 'red bom'],
    ['&amp;amp;amp;lt;b&gt;', '<b>'],
    ['<b>html</b> &amp;amp;', '<b>html</b> &'],
  ])('cleans %j', (text, expected) => {
    expect(cleanPrompt(text)).toBe(expected);
  });
});
