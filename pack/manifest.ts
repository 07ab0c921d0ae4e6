import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { z } from 'zod';

/** A tensor dimension: a fixed size or a symbolic name ("batch", "frames", "T"). */
const Dim = z.union([z.int().positive(), z.string().min(1)]);
const TensorSpec = z.object({
  name: z.string().min(1),
  dtype: z.enum(['float32', 'float16', 'bfloat16', 'int64', 'int32']),
  shape: z.array(Dim).min(1),
});
const OnnxFile = z.object({
  path: z.string().min(1),
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
  bytes: z.int().positive().optional(),
  inputs: z.array(TensorSpec).min(1),
  outputs: z.array(TensorSpec).min(1),
  /**
   * How the graph's weights are quantised, when they are: `int8`/`int4` weight-only MatMulNBits (any provider), `fp8`
   * GemmFloat8 and float8 QuantizeLinear (CUDA on compute capability 8.9 or newer only). Absent: `modelPrecision`.
   */
  quant: z.enum(['int8', 'int4', 'fp8']).optional(),
});
const Multiplier = z.number().min(0).max(1);
const CarriedFrames = z.object({ frames: z.int().positive(), multipliers: z.array(Multiplier).min(1) });
const LatentPair = z.tuple([z.int().positive(), z.int().positive()]);
/** Spatial VAE tiling in latents, `[height, width]` each (spec §A.6); tiles must overlap, as in the reference. */
const VaeTiling = z
  .object({ tile: LatentPair, stride: LatentPair })
  .refine(
    (t) => t.stride[0] < t.tile[0] && t.stride[1] < t.tile[1],
    'stride must be smaller than tile (tiles overlap)',
  );

/** `manifest.json` of a model pack; docs/model-pack.md describes every field. */
export const Manifest = z.object({
  format: z.literal('pusa-model-pack'),
  formatVersion: z.literal(1),
  name: z.string().min(1),
  version: z.string().min(1),
  license: z.string().min(1),
  description: z.string().optional(),
  fps: z.number().positive(),
  video: z.object({
    sizes: z.array(z.tuple([z.int().positive(), z.int().positive()])).min(1),
    frameCounts: z
      .array(
        z
          .int()
          .positive()
          .refine((n) => (n - 1) % 4 === 0, 'frame counts must be 1 + 4k'),
      )
      .min(1),
    defaultFrames: z.int().positive(),
  }),
  latent: z.object({
    channels: z.int().positive(),
    temporalFactor: z.literal(4),
    spatialFactor: z.int().positive(),
    patch: z.tuple([z.int().positive(), z.int().positive(), z.int().positive()]),
    mean: z.array(z.number()),
    std: z.array(z.number().positive()),
  }),
  text: z.object({
    tokenizer: z.string().min(1),
    maxLength: z.int().positive(),
    dim: z.int().positive(),
    padId: z.int().nonnegative().default(0),
  }),
  modelPrecision: z.enum(['fp32', 'bf16', 'fp16']),
  defaults: z.object({
    steps: z.int().positive(),
    shift: z.number().positive(),
    guidance: z.number().nonnegative(),
    negativePrompt: z.string(),
    seed: z.int().nonnegative().default(0),
    noiseMultipliers: z.object({
      i2v: Multiplier,
      startEnd: z.tuple([Multiplier, Multiplier]),
      keyframe: Multiplier,
      extend: CarriedFrames,
      transition: z.object({
        startFrames: z.int().positive(),
        endFrames: z.int().positive(),
        start: z.array(Multiplier).min(1),
        end: z.array(Multiplier).min(1),
      }),
    }),
  }),
  files: z.object({ textEncoder: OnnxFile, dit: OnnxFile, vaeEncoder: OnnxFile, vaeDecoder: OnnxFile }),
  vaeTiling: VaeTiling.optional(),
  preview: z.object({
    latentToRgb: z.object({ weights: z.array(z.array(z.number())).length(3), bias: z.array(z.number()).length(3) }),
  }),
  cost: z
    .object({
      device: z.string(),
      secondsPerStep: z.object({ base: z.number().nonnegative(), perToken: z.number().nonnegative() }),
      vaeDecodeSeconds: z.union([z.number().nonnegative(), z.record(z.string(), z.number().nonnegative())]).optional(),
      textEncodeSeconds: z.number().nonnegative().optional(),
    })
    .loose(),
});
export type Manifest = z.infer<typeof Manifest>;
export type OnnxFileSpec = z.infer<typeof OnnxFile>;
export type TensorSpecification = z.infer<typeof TensorSpec>;
export type ModelFileKey = keyof Manifest['files'];

/** A model pack whose manifest parsed and whose files exist. */
export interface ModelPack {
  readonly dir: string;
  readonly manifest: Manifest;
  /** Absolute path of each ONNX file and of the tokenizer. */
  readonly paths: Readonly<Record<ModelFileKey | 'tokenizer', string>>;
}

/** A model pack that cannot be used, with the field or file at fault in the message. */
export class ModelPackError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ModelPackError';
  }
}

/**
 * Reads and validates `dir/manifest.json`: every field is checked, cross-field invariants too (mean/std per
 * channel, default frames among the allowed counts), and every referenced file must exist with the recorded size
 * (and sha256, when `verifyChecksums`).
 */
export async function loadModelPack(dir: string, options: { verifyChecksums?: boolean } = {}): Promise<ModelPack> {
  const root = resolve(dir);
  const manifestPath = join(root, 'manifest.json');
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(manifestPath, 'utf8'));
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : (error as Error).message;
    throw new ModelPackError(`cannot read model pack manifest ${manifestPath}: ${reason}`, { cause: error });
  }
  const parsed = Manifest.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new ModelPackError(`invalid model pack manifest ${manifestPath}:\n  ${issues.join('\n  ')}`);
  }
  const manifest = parsed.data;
  const { channels, mean, std } = manifest.latent;
  if (mean.length !== channels || std.length !== channels) {
    throw new ModelPackError(
      `invalid model pack manifest ${manifestPath}: latent.mean and latent.std need ${channels} values (latent.channels), got ${mean.length} and ${std.length}`,
    );
  }
  if (!manifest.video.frameCounts.includes(manifest.video.defaultFrames)) {
    throw new ModelPackError(
      `invalid model pack manifest ${manifestPath}: video.defaultFrames ${manifest.video.defaultFrames} is not in video.frameCounts`,
    );
  }
  for (const row of manifest.preview.latentToRgb.weights) {
    if (row.length !== channels)
      throw new ModelPackError(
        `invalid model pack manifest ${manifestPath}: preview.latentToRgb.weights rows need ${channels} values`,
      );
  }
  if (manifest.vaeTiling !== undefined) {
    // A graph with a fixed height/width larger than one tile would be called on tiles it cannot take.
    const { tile } = manifest.vaeTiling;
    const factor = manifest.latent.spatialFactor;
    for (const [key, spec, scale] of [
      ['vaeDecoder', manifest.files.vaeDecoder.inputs[0], 1],
      ['vaeEncoder', manifest.files.vaeEncoder.inputs[0], factor],
    ] as const) {
      const [, , , height, width] = spec?.shape ?? [];
      if (
        (typeof height === 'number' && height > tile[0] * scale) ||
        (typeof width === 'number' && width > tile[1] * scale)
      )
        throw new ModelPackError(
          `invalid model pack manifest ${manifestPath}: vaeTiling.tile ${tile.join('×')} is smaller than the fixed size of files.${key} (${height}×${width}); tiling needs a graph with dynamic height and width`,
        );
    }
  }

  const paths = { tokenizer: join(root, manifest.text.tokenizer) } as Record<ModelFileKey | 'tokenizer', string>;
  await requireFile(paths.tokenizer, 'text.tokenizer');
  for (const key of Object.keys(manifest.files) as ModelFileKey[]) {
    const spec = manifest.files[key];
    const path = join(root, spec.path);
    const size = await requireFile(path, `files.${key}.path`);
    if (spec.bytes !== undefined && spec.bytes !== size) {
      throw new ModelPackError(
        `model pack file ${path} has ${size} bytes but files.${key}.bytes says ${spec.bytes}: the pack is incomplete or corrupt`,
      );
    }
    if (options.verifyChecksums && spec.sha256 !== undefined) {
      const digest = createHash('sha256')
        .update(await readFile(path))
        .digest('hex');
      if (digest !== spec.sha256)
        throw new ModelPackError(`model pack file ${path} does not match files.${key}.sha256: the pack is corrupt`);
    }
    paths[key] = path;
  }
  return { dir: root, manifest, paths };
}

async function requireFile(path: string, field: string): Promise<number> {
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new Error('not a file');
    return info.size;
  } catch (error) {
    throw new ModelPackError(`model pack file ${path} (${field}) is missing`, { cause: error });
  }
}
