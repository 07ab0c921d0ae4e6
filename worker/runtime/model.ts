import { loadModelPack, type ModelPack } from '../../pack/manifest.ts';
import type { Denoiser } from '../../sampler/index.ts';
import type { Placement } from './memory-profile.ts';
import { createOnnxDenoiser } from './onnx-denoiser.ts';
import { createModelSession, type ExecutionProvider, type ModelSession } from './sessions.ts';
import { createStagedSession, type StagedSession } from './staged-session.ts';
import { createTextEncoder, type PromptEmbedding, type TextEncoder } from './text-encoder.ts';
import { createVae, type Vae } from './vae.ts';
import { effectiveVaeTiling } from './vae-tiles.ts';

/** A loaded model pack: sessions created once per process and shared by every job. */
export interface PusaModel {
  readonly pack: ModelPack;
  readonly provider: ExecutionProvider;
  readonly text: TextEncoder;
  readonly vae: Vae;
  /** A denoiser for one prompt pair; `negative` undefined means no guidance. Use it inside `sampling`. */
  denoiser(positive: PromptEmbedding, negative: PromptEmbedding | undefined): Denoiser;
  /**
   * Runs one job's sampling with the DiT available: a staged DiT (memory profile `24gb`) is opened for it and
   * released after, before the decode; a resident one just runs `fn`.
   */
  sampling<T>(fn: () => Promise<T>): Promise<T>;
  release(): Promise<void>;
}

/** Loads and validates a pack, then creates its four sessions on the given execution provider. */
export async function loadPusaModel(
  dir: string,
  provider: ExecutionProvider = { name: 'cpu' },
  options: {
    /**
     * Run the positive and negative passes of a guided step as one batch of 2 (default, when the pack allows it) or
     * one after the other. Sequential halves the activation memory (the int4 14B DiT fits a 24 GB GPU at 480p only
     * this way, docs/benchmarks.md) at about the same speed on large inputs.
     */
    batchGuidance?: boolean;
    /**
     * Where the text encoder and the VAE live (worker/runtime/memory-profile.ts): resident on `provider` (default),
     * staged (opened for each stage, released after it), or the text encoder on the CPU.
     */
    textEncoder?: Placement['textEncoder'];
    vae?: Placement['vae'];
    /** The pack's VAE tiling (default) or the reference's tiles, which bound a decode's GPU peak. */
    vaeTiles?: Placement['vaeTiles'];
    /** The DiT resident (default), or opened for each job's sampling and released before its decode. */
    dit?: Placement['dit'];
  } = {},
): Promise<PusaModel> {
  const pack = await loadModelPack(dir);
  const { files, text, latent } = pack.manifest;
  const sessions: ModelSession[] = [];
  const open = async (key: keyof typeof files, on: ExecutionProvider = provider) => {
    const session = await createModelSession(key, pack.paths[key], files[key], on);
    sessions.push(session);
    return session;
  };
  // a staged session is opened once here and released, so a pack that lies still fails at load
  const staged = async (key: keyof typeof files) => {
    const session = createStagedSession(key, () => createModelSession(key, pack.paths[key], files[key], provider));
    sessions.push(session);
    await session.verify();
    return session;
  };
  try {
    const textPlace = options.textEncoder ?? 'gpu';
    const [textSession, dit, encoder, decoder] = await Promise.all([
      textPlace === 'gpu-staged'
        ? staged('textEncoder')
        : open('textEncoder', textPlace === 'cpu' ? { name: 'cpu' } : provider),
      options.dit === 'staged' ? staged('dit') : open('dit'),
      options.vae === 'staged' ? staged('vaeEncoder') : open('vaeEncoder'),
      options.vae === 'staged' ? staged('vaeDecoder') : open('vaeDecoder'),
    ]);
    const ditStage = isStaged(dit) ? dit : undefined;
    const batchGuidance =
      options.batchGuidance !== false && typeof files.dit.inputs.find((i) => i.name === 'x')?.shape[0] === 'string';
    return {
      pack,
      provider,
      text: inStage(textSession, await createTextEncoder(pack.paths.tokenizer, textSession, text)),
      vae: inStage(
        [encoder, decoder],
        createVae(encoder, decoder, latent, effectiveVaeTiling(pack.manifest, options.vaeTiles ?? 'pack')),
      ),
      denoiser: (positive, negative) =>
        createOnnxDenoiser({
          dit,
          positive: positive.data,
          negative: negative?.data,
          textLength: text.maxLength,
          textDim: text.dim,
          batchGuidance,
        }),
      sampling: (fn) => (ditStage === undefined ? fn() : ditStage.stage(fn)),
      release: async () => {
        await Promise.all(sessions.map((s) => s.release()));
      },
    };
  } catch (error) {
    await Promise.allSettled(sessions.map((s) => s.release()));
    throw error;
  }
}

const isStaged = (s: ModelSession): s is StagedSession => 'stage' in s;

/**
 * Wraps every method of `api` so that it runs inside the stage of the staged sessions among `sessions` (their
 * graphs open for the call and are released after it); resident sessions pass through unchanged.
 */
function inStage<T extends object>(sessions: ModelSession | readonly ModelSession[], api: T): T {
  const stagedOnes = (Array.isArray(sessions) ? sessions : [sessions]).filter(isStaged);
  if (stagedOnes.length === 0) return api;
  const wrapped = {} as Record<string, unknown>;
  for (const [name, fn] of Object.entries(api)) {
    wrapped[name] =
      typeof fn !== 'function'
        ? fn
        : (...args: unknown[]) =>
            stagedOnes.reduce<() => Promise<unknown>>(
              (inner, s) => () => s.stage(inner),
              () => (fn as (...a: unknown[]) => Promise<unknown>).apply(api, args),
            )();
  }
  return wrapped as T;
}
