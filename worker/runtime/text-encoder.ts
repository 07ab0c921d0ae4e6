import { readFile } from 'node:fs/promises';
import { Tokenizer } from '@huggingface/tokenizers';
import type { Manifest } from '../../pack/manifest.ts';
import { cleanPrompt } from './prompt-clean.ts';
import type { ModelSession } from './sessions.ts';

/** Prompt embeddings `[maxLength, dim]`, rows past the prompt zero (reference §B.3). */
export interface PromptEmbedding {
  readonly data: Float32Array;
  readonly tokens: number;
}

export interface TextEncoder {
  encode(prompt: string): Promise<PromptEmbedding>;
}

/**
 * Tokenizes with the pack's `tokenizer.json` through tokenizers.js (no hand-written tokenizer) and runs the text
 * encoder. Embeddings are cached per prompt: the negative prompt is the same for every step and most requests.
 */
export async function createTextEncoder(
  tokenizerPath: string,
  session: ModelSession,
  text: Manifest['text'],
): Promise<TextEncoder> {
  const tokenizer = createTokenizer(JSON.parse(await readFile(tokenizerPath, 'utf8')));
  const cache = new Map<string, Promise<PromptEmbedding>>();

  const run = async (prompt: string): Promise<PromptEmbedding> => {
    const ids = tokenize(tokenizer, cleanPrompt(prompt), text.maxLength);
    const inputIds = new BigInt64Array(text.maxLength).fill(BigInt(text.padId));
    const mask = new BigInt64Array(text.maxLength);
    ids.forEach((id, i) => {
      if (id === undefined || id === null)
        throw new Error(`the tokenizer returned no id for token ${i} of "${prompt}"`);
      inputIds[i] = BigInt(id);
      mask[i] = 1n;
    });
    const out = await session.run({
      input_ids: { data: inputIds, dims: [1, text.maxLength] },
      attention_mask: { data: mask, dims: [1, text.maxLength] },
    });
    const context = out['context'];
    if (context === undefined || context.data.length !== text.maxLength * text.dim) {
      throw new Error(
        `text encoder returned ${context?.data.length ?? 0} values, expected ${text.maxLength}×${text.dim}`,
      );
    }
    return { data: context.data as Float32Array, tokens: ids.length };
  };

  return {
    encode(prompt) {
      let hit = cache.get(prompt);
      if (hit === undefined) {
        hit = run(prompt);
        cache.set(prompt, hit);
        hit.catch(() => cache.delete(prompt));
        if (cache.size > 256) cache.delete(cache.keys().next().value as string);
      }
      return hit;
    },
  };
}

/** A pack's `tokenizer.json` (parsed) as a tokenizers.js tokenizer. */
export function createTokenizer(json: unknown): Tokenizer {
  const spec = json as ConstructorParameters<typeof Tokenizer>[0];
  const tokenizer = new Tokenizer(spec, tokenizerConfigFor(spec));
  useExactPrecompiled(tokenizer.normalizer as unknown as NormalizerNode);
  return tokenizer;
}

/**
 * SentencePiece tokenizers (umT5, T5) start their normaliser with `Precompiled`, a character map compiled into the
 * tokenizer.json. tokenizers.js ignores that map and applies NFKC plus a fixed list of replacements instead, which is
 * not the same map: umT5's nmt_nfkc map keeps U+200D ZERO WIDTH JOINER, tokenizers.js turns it into a space, so an
 * emoji sequence like 👨‍👩‍👧 gives three `<unk>` words instead of Python's one. Swap in a reader of the real map.
 */
function useExactPrecompiled(normalizer: NormalizerNode | null): void {
  for (const child of normalizer?.normalizers ?? []) useExactPrecompiled(child);
  const charsmap = normalizer?.config?.type === 'Precompiled' ? normalizer.config.precompiled_charsmap : undefined;
  if (normalizer && charsmap) normalizer.normalize = precompiledCharsmap(charsmap);
}

/** What `useExactPrecompiled` reads of tokenizers.js normaliser objects (Sequence holds `normalizers`). */
interface NormalizerNode {
  config?: { type?: string; precompiled_charsmap?: string | null };
  normalizers?: (NormalizerNode | null)[];
  normalize: (text: string) => string;
}

/**
 * The Rust tokenizers' `Precompiled` normaliser (crate spm_precompiled): the charsmap is a little-endian u32 trie size,
 * a darts-clone double-array trie over UTF-8 bytes, then NUL-terminated replacement strings. Text is taken grapheme by
 * grapheme; a grapheme under 6 UTF-8 bytes is looked up whole, otherwise (or when it has no entry) char by char. A
 * lookup takes the *shortest* key that prefixes the chunk and replaces the whole chunk with its value (as upstream).
 */
export function precompiledCharsmap(charsmapBase64: string): (text: string) => string {
  const bytes = Buffer.from(charsmapBase64, 'base64');
  const trieBytes = bytes.readUInt32LE(0);
  const trie = new Uint32Array(trieBytes / 4);
  for (let i = 0; i < trie.length; i++) trie[i] = bytes.readUInt32LE(4 + 4 * i);
  const replacements = bytes.subarray(4 + trieBytes);
  const offset = (unit: number) => (unit >>> 10) << ((unit & 0x200) >>> 6);
  const label = (unit: number) => (unit & 0x800000ff) >>> 0;
  const transform = (chunk: string): string | undefined => {
    let pos = offset(trie[0] ?? 0);
    for (const byte of Buffer.from(chunk, 'utf8')) {
      if (byte === 0) break;
      pos ^= byte;
      const unit = trie[pos] ?? 0;
      if (label(unit) !== byte) return undefined;
      pos ^= offset(unit);
      if ((unit >>> 8) & 1) {
        const start = (trie[pos] ?? 0) & 0x7fffffff;
        const end = replacements.indexOf(0, start);
        return replacements.toString('utf8', start, end < 0 ? replacements.length : end);
      }
    }
    return undefined;
  };
  const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
  return (text) => {
    let out = '';
    for (const { segment } of graphemes.segment(text)) {
      const whole = Buffer.byteLength(segment, 'utf8') < 6 ? transform(segment) : undefined;
      if (whole !== undefined) {
        out += whole;
        continue;
      }
      for (const char of segment) out += transform(char) ?? char;
    }
    return out;
  };
}

/** Token ids with special tokens, truncated to `maxLength` while keeping the closing special token. */
export function tokenize(tokenizer: Tokenizer, prompt: string, maxLength: number): number[] {
  const ids = tokenizer.encode(prompt).ids;
  if (ids.length <= maxLength) return ids;
  const plain = tokenizer.encode(prompt, { add_special_tokens: false }).ids;
  const specialTail = ids.length - plain.length;
  return [...ids.slice(0, maxLength - specialTail), ...ids.slice(ids.length - specialTail)];
}

/**
 * tokenizers.js takes the special tokens of WordLevel-style vocabularies from a tokenizer_config, not from the JSON:
 * gather them from the model's `unk_token`, the added tokens and the post-processor, so unknown words become the
 * unknown token instead of a missing id.
 */
function tokenizerConfigFor(json: unknown): Record<string, string> {
  const spec = json as {
    added_tokens?: { content: string }[];
    model?: { unk_token?: string };
    post_processor?: { special_tokens?: Record<string, unknown> };
  };
  const names = [
    ...(spec.added_tokens ?? []).map((t) => t.content),
    ...Object.keys(spec.post_processor?.special_tokens ?? {}),
  ];
  const find = (pattern: RegExp) => names.find((name) => pattern.test(name));
  const config: Record<string, string> = {};
  const unk = spec.model?.unk_token ?? find(/unk/i);
  const pad = find(/pad/i);
  const eos = find(/eos|<\/s>/i);
  if (unk !== undefined) config['unk_token'] = unk;
  if (pad !== undefined) config['pad_token'] = pad;
  if (eos !== undefined) config['eos_token'] = eos;
  return config;
}
