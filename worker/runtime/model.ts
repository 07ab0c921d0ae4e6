import { loadModelPack, type ModelPack } from '../../pack/manifest.ts';
import type { Denoiser } from '../../sampler/index.ts';
import { createOnnxDenoiser } from './onnx-denoiser.ts';
import { createModelSession, type ExecutionProvider, type ModelSession } from './sessions.ts';
import { createTextEncoder, type PromptEmbedding, type TextEncoder } from './text-encoder.ts';
import { createVae, type Vae } from './vae.ts';

/** A loaded model pack: sessions created once per process and shared by every job. */
export interface PusaModel {
  readonly pack: ModelPack;
  readonly provider: ExecutionProvider;
  readonly text: TextEncoder;
  readonly vae: Vae;
  /** A denoiser for one prompt pair; `negative` undefined means no guidance. */
  denoiser(positive: PromptEmbedding, negative: PromptEmbedding | undefined): Denoiser;
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
  } = {},
): Promise<PusaModel> {
  const pack = await loadModelPack(dir);
  const { files, text, latent } = pack.manifest;
  const sessions: ModelSession[] = [];
  const open = async (key: keyof typeof files) => {
    const session = await createModelSession(key, pack.paths[key], files[key], provider);
    sessions.push(session);
    return session;
  };
  try {
    const [textSession, dit, encoder, decoder] = await Promise.all([
      open('textEncoder'),
      open('dit'),
      open('vaeEncoder'),
      open('vaeDecoder'),
    ]);
    const batchGuidance =
      options.batchGuidance !== false && typeof files.dit.inputs.find((i) => i.name === 'x')?.shape[0] === 'string';
    return {
      pack,
      provider,
      text: await createTextEncoder(pack.paths.tokenizer, textSession, text),
      vae: createVae(encoder, decoder, latent, pack.manifest.vaeTiling),
      denoiser: (positive, negative) =>
        createOnnxDenoiser({
          dit,
          positive: positive.data,
          negative: negative?.data,
          textLength: text.maxLength,
          textDim: text.dim,
          batchGuidance,
        }),
      release: async () => {
        await Promise.all(sessions.map((s) => s.release()));
      },
    };
  } catch (error) {
    await Promise.allSettled(sessions.map((s) => s.release()));
    throw error;
  }
}
