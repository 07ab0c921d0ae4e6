import { readFile } from 'node:fs/promises';
import { Tokenizer } from '@huggingface/tokenizers';
import type { Manifest } from './manifest.ts';
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
  const json = JSON.parse(await readFile(tokenizerPath, 'utf8')) as ConstructorParameters<typeof Tokenizer>[0];
  const tokenizer = new Tokenizer(json, tokenizerConfigFor(json));
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

/**
 * The reference's prompt cleaning (§B.3) without ftfy: HTML entities unescaped twice, whitespace collapsed, trimmed.
 */
export function cleanPrompt(prompt: string): string {
  return unescapeHtml(unescapeHtml(prompt)).replace(/\s+/g, ' ').trim();
}

function unescapeHtml(text: string): string {
  const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, body: string) => {
    if (body[0] === '#') {
      const code =
        body[1] === 'x' || body[1] === 'X' ? Number.parseInt(body.slice(2), 16) : Number.parseInt(body.slice(1), 10);
      return Number.isFinite(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return named[body.toLowerCase()] ?? whole;
  });
}

/** Token ids with special tokens, truncated to `maxLength` while keeping the closing special token. */
function tokenize(tokenizer: Tokenizer, prompt: string, maxLength: number): number[] {
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
