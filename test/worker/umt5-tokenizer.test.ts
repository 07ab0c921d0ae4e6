import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { createTokenizer, precompiledCharsmap, tokenize } from '../../worker/runtime/text-encoder.ts';

/**
 * umT5-style tokenizer (SentencePiece Unigram, `Precompiled` normaliser, Metaspace, `$A </s>`, byte fallback) in
 * tokenizers.js against the ids Python `tokenizers` gives for the same tokenizer.json. The fixture is a small model
 * trained with umT5's special-token layout (the real google/umt5-xxl one cannot be downloaded here); see
 * `test/fixtures/umt5-mini-tokenizer/make_fixture.py` for how it and the expected ids were made.
 */
const FIXTURE = join(import.meta.dirname, '../fixtures/umt5-mini-tokenizer');

interface Case {
  prompt: string;
  cleaned: string;
  length: number;
  ids: number[];
  tokens: string[];
}
const expected = JSON.parse(readFileSync(join(FIXTURE, 'expected.json'), 'utf8')) as {
  maxLength: number;
  padId: number;
  eosId: number;
  cases: Case[];
};
// gzipped: the SentencePiece nmt_nfkc charsmap alone is 320 kB of base64 (tokenizers.js does not read it, see below)
const tokenizerJson = JSON.parse(gunzipSync(readFileSync(join(FIXTURE, 'tokenizer.json.gz'))).toString('utf8'));
const tokenizer = createTokenizer(tokenizerJson);

describe('umT5 tokenizer parity with Python tokenizers', () => {
  it('has the fixture cases', () => {
    expect(expected.cases.length).toBeGreaterThanOrEqual(30);
  });

  it.each(expected.cases.map((c) => [c.cleaned.slice(0, 40), c] as const))('tokenizes %j as Python does', (_, c) => {
    const ids = tokenize(tokenizer, c.cleaned, expected.maxLength);

    expect(ids).toEqual(c.ids);
    expect(ids.at(-1)).toBe(expected.eosId);
  });

  it('truncates a long prompt to maxLength with </s> last', () => {
    const long = expected.cases.find((c) => c.length === expected.maxLength);

    expect(long).toBeDefined();
    expect(tokenize(tokenizer, long?.cleaned ?? '', expected.maxLength)).toHaveLength(expected.maxLength);
  });
});

describe('the Precompiled (SentencePiece charsmap) normaliser', () => {
  it('maps every code point as the Rust tokenizers does', () => {
    // charsmap-rust.json.gz: each code point the Rust `Precompiled` normaliser changes (5,008 of them), and to what
    const rust = JSON.parse(gunzipSync(readFileSync(join(FIXTURE, 'charsmap-rust.json.gz'))).toString('utf8')) as {
      mapped: Record<string, string>;
    };
    const normalize = precompiledCharsmap(tokenizerJson.normalizer.normalizers[0].precompiled_charsmap);
    const expectOf = (char: string) => rust.mapped[(char.codePointAt(0) ?? 0).toString(16)] ?? char;
    const wrong: string[] = [];
    // 4,096 code points per call, one per line: a line feed is a grapheme break on both sides (UAX 29 GB4/GB5) and
    // maps to a space, so each code point is looked up alone, as in a one-character call; a chunk that differs is
    // retried code point by code point to name the culprits
    for (let start = 0; start < 0x110000; start += 4096) {
      const chars: string[] = [];
      for (let cp = start; cp < start + 4096; cp++)
        if (cp < 0xd800 || cp > 0xdfff) chars.push(String.fromCodePoint(cp));
      if (normalize(chars.join('\n')) === chars.map(expectOf).join(' ')) continue;
      for (const char of chars)
        if (normalize(char) !== expectOf(char)) wrong.push(char.codePointAt(0)?.toString(16) ?? '');
    }

    expect(Object.keys(rust.mapped).length).toBeGreaterThan(4000);
    expect(wrong).toEqual([]);
  });
});

describe('the full-vocabulary tokenizer of the GPU run (exporter/synth_tokenizer.py)', () => {
  it("has umT5-XXL's 256,384 pieces and tokenizes every fixture case as the fixture does", async () => {
    const { execFileSync } = await import('node:child_process');
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'pusa-tok-'));
    try {
      const out = join(dir, 'tokenizer.json');
      execFileSync('python3', [join(import.meta.dirname, '../../exporter/synth_tokenizer.py'), '--out', out]);
      const grown = JSON.parse(readFileSync(out, 'utf8'));
      const big = createTokenizer(grown);

      expect(grown.model.vocab).toHaveLength(256_384);
      expect(grown.model.vocab.at(-1)[0]).toBe(tokenizerJson.model.vocab.at(-1)[0]); // <extra_id_0> stays last
      // the <extra_id_N> pieces stay last, as in umT5: their ids move up by the filler count, every other id stays
      const firstExtra = (tokenizerJson.model.vocab as [string, number][]).findIndex((p) =>
        p[0].startsWith('<extra_id_'),
      );
      const shift = 256_384 - tokenizerJson.model.vocab.length;
      for (const c of expected.cases)
        expect(tokenize(big, c.cleaned, expected.maxLength)).toEqual(
          c.ids.map((id) => (id >= firstExtra ? id + shift : id)),
        );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
