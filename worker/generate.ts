import type { Frames } from '../media/mp4.ts';
import {
  type ConditioningPlan,
  createFlowMatchSchedule,
  latentShapeOf,
  planExtend,
  planImageToVideo,
  planKeyframes,
  planStartEnd,
  planTextToVideo,
  planTransition,
  randn,
  readLatentFrame,
  SamplerError,
  sample,
  type Tensor,
  tensor,
} from '../sampler/index.ts';
import type { PusaModel } from './runtime/model.ts';

export type GenerationTask = 't2v' | 'i2v' | 'start-end' | 'keyframes' | 'extend' | 'transition';

/** An image already normalised to the model's size (see media/image.ts). */
export interface ConditionImage {
  readonly rgb: Uint8Array;
  /** Latent frame it conditions; i2v and start–end place their images themselves. */
  readonly latentIndex?: number;
}

/** A clip to continue: its exact latents (from a sidecar), or its frames at the model's size. */
export type ClipSource = { readonly latents: Tensor; readonly frames?: Frames } | { readonly frames: Frames };

/** A fully specified request; unset options take the pack's defaults. */
export interface GenerationInput {
  readonly task: GenerationTask;
  readonly prompt: string;
  readonly negativePrompt?: string;
  readonly steps?: number;
  readonly shift?: number;
  readonly guidance?: number;
  readonly seed?: number;
  /** Pixel frames, one of the pack's `video.frameCounts`. */
  readonly frames?: number;
  readonly size?: readonly [number, number];
  readonly images?: readonly ConditionImage[];
  readonly clips?: readonly ClipSource[];
  /** One per condition frame (images, or carried clip frames), or one for all. */
  readonly noiseMultipliers?: readonly number[];
  /** Latent frames carried over by extend (K) and, for transitions, from each clip. */
  readonly overlap?: number;
}

export interface GenerationProgress {
  readonly step: number;
  readonly total: number;
  readonly elapsedMs: number;
  readonly latents: Tensor;
}

/** The resolved parameters of a run: everything needed to reproduce it. */
export interface GenerationParameters {
  readonly task: GenerationTask;
  readonly model: string;
  readonly prompt: string;
  readonly negativePrompt: string;
  readonly steps: number;
  readonly shift: number;
  readonly guidance: number;
  readonly seed: number;
  readonly frames: number;
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  readonly conditions: readonly { index: number; multiplier: number }[];
}

export interface GenerationResult {
  readonly parameters: GenerationParameters;
  /** `[1, C, F, h, w]` final latents of the generated clip (what a sidecar stores). */
  readonly latents: Tensor;
  /** The clip to deliver: for extend, the earlier clip followed by the new frames. */
  readonly video: Frames;
  readonly timings: { textMs: number; encodeMs: number; sampleMs: number; decodeMs: number; totalMs: number };
}

/** A request the pack cannot serve, with the allowed values in the message. */
export class GenerationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GenerationError';
  }
}

/**
 * One generation, every task: resolve parameters against the pack, encode prompts and condition inputs, build the
 * conditioning plan, sample, decode. Pure orchestration over the model; no files, no network.
 */
export async function generate(
  model: PusaModel,
  input: GenerationInput,
  options: { signal?: AbortSignal; onProgress?: (progress: GenerationProgress) => void; now?: () => number } = {},
): Promise<GenerationResult> {
  const now = options.now ?? (() => performance.now());
  const started = now();
  const { manifest } = model.pack;
  const { defaults, latent } = manifest;

  // 1. Resolve parameters.
  const frames = input.frames ?? manifest.video.defaultFrames;
  if (!manifest.video.frameCounts.includes(frames)) {
    throw new GenerationError(`${manifest.name} makes ${manifest.video.frameCounts.join(', ')} frames; got ${frames}`);
  }
  const [width, height] = input.size ?? (manifest.video.sizes[0] as [number, number]);
  if (!manifest.video.sizes.some(([w, h]) => w === width && h === height)) {
    throw new GenerationError(
      `${manifest.name} makes ${manifest.video.sizes.map(([w, h]) => `${w}x${h}`).join(', ')}; got ${width}x${height}`,
    );
  }
  const latentFrames = (frames - 1) / latent.temporalFactor + 1;
  const geometry = {
    channels: latent.channels,
    height: height / latent.spatialFactor,
    width: width / latent.spatialFactor,
  };
  const guidance = input.guidance ?? defaults.guidance;
  const negativePrompt = input.negativePrompt ?? defaults.negativePrompt;
  const seed = input.seed ?? defaults.seed;
  const steps = input.steps ?? defaults.steps;
  const shift = input.shift ?? defaults.shift;

  // 2. Encode prompts.
  const textStart = now();
  const positive = await model.text.encode(input.prompt);
  const negative = guidance !== 1 ? await model.text.encode(negativePrompt) : undefined;
  const textMs = now() - textStart;

  // 3. Encode conditions and build the plan.
  const encodeStart = now();
  const plan = await buildPlan(model, input, { latentFrames, width, height, geometry });
  const encodeMs = now() - encodeStart;

  // 4. Sample.
  const sampleStart = now();
  const dims = [1, geometry.channels, latentFrames, geometry.height, geometry.width];
  const latents = await model.sampling(() =>
    sample({
      schedule: createFlowMatchSchedule({ numInferenceSteps: steps, shift }),
      plan,
      denoiser: model.denoiser(positive, negative),
      noise: tensor(randn(dims, seed), dims),
      guidanceScale: guidance,
      modelInputPrecision: manifest.modelPrecision === 'bf16' ? 'bf16' : 'fp32',
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      onStep: ({ index, total, latents: current }) =>
        options.onProgress?.({ step: index + 1, total, elapsedMs: now() - sampleStart, latents: current }),
    }),
  );
  const sampleMs = now() - sampleStart;

  // 5. Decode.
  const decodeStart = now();
  options.signal?.throwIfAborted();
  const decoded = videoToFrames(await model.vae.decode(latents));
  const video = input.task === 'extend' ? appendContinuation(input.clips?.[0], decoded, plan) : decoded;
  const decodeMs = now() - decodeStart;

  return {
    parameters: {
      task: input.task,
      model: `${manifest.name}@${manifest.version}`,
      prompt: input.prompt,
      negativePrompt: guidance !== 1 ? negativePrompt : '',
      steps,
      shift,
      guidance,
      seed,
      frames,
      width,
      height,
      fps: manifest.fps,
      conditions: plan.conditions.map(({ index, multiplier }) => ({ index, multiplier })),
    },
    latents,
    video,
    timings: { textMs, encodeMs, sampleMs, decodeMs, totalMs: now() - started },
  };
}

interface PlanContext {
  latentFrames: number;
  width: number;
  height: number;
  geometry: { channels: number; height: number; width: number };
}

async function buildPlan(model: PusaModel, input: GenerationInput, ctx: PlanContext): Promise<ConditioningPlan> {
  const { defaults } = model.pack.manifest;
  const images = input.images ?? [];
  const clips = input.clips ?? [];
  const multipliers = input.noiseMultipliers;
  const need = (count: number, what: string) => {
    if (images.length + clips.length !== count)
      throw new GenerationError(`${input.task} needs ${count} ${what}, got ${images.length + clips.length}`);
  };
  const pick = (i: number, fallback: number): number => {
    if (multipliers === undefined) return fallback;
    return multipliers.length === 1 ? (multipliers[0] as number) : (multipliers[i] ?? fallback);
  };
  const checkCount = (expected: number) => {
    if (multipliers !== undefined && multipliers.length !== 1 && multipliers.length !== expected) {
      throw new GenerationError(
        `${input.task} takes one noise multiplier or ${expected} (one per condition frame), got ${multipliers.length}`,
      );
    }
  };
  const imageLatent = async (image: ConditionImage) =>
    readLatentFrame(await model.vae.encode(imageToVideo(image.rgb, ctx.width, ctx.height)), 0);

  switch (input.task) {
    case 't2v':
      need(0, 'images');
      return planTextToVideo(ctx.latentFrames);
    case 'i2v':
      need(1, 'image');
      checkCount(1);
      return planImageToVideo({
        frames: ctx.latentFrames,
        image: await imageLatent(images[0] as ConditionImage),
        multiplier: pick(0, defaults.noiseMultipliers.i2v),
      });
    case 'start-end': {
      need(2, 'images (start and end)');
      checkCount(2);
      const [start, end] = await Promise.all(images.map(imageLatent));
      const [m0, m1] = defaults.noiseMultipliers.startEnd;
      return planStartEnd({
        frames: ctx.latentFrames,
        start: start as Float32Array,
        end: end as Float32Array,
        multipliers: [pick(0, m0), pick(1, m1)],
      });
    }
    case 'keyframes': {
      if (images.length === 0 || clips.length > 0)
        throw new GenerationError('keyframes needs at least one image and no clips');
      checkCount(images.length);
      const keyframes = [];
      for (const [i, image] of images.entries()) {
        const index = image.latentIndex;
        if (index === undefined)
          throw new GenerationError(`keyframe image ${i + 1} has no latent index (use PATH@INDEX)`);
        if (!Number.isInteger(index) || index < 0 || index >= ctx.latentFrames) {
          throw new GenerationError(
            `keyframe index ${index} is out of range: ${ctx.latentFrames} latent frames allow 0..${ctx.latentFrames - 1}`,
          );
        }
        keyframes.push({
          index,
          multiplier: pick(i, defaults.noiseMultipliers.keyframe),
          latent: await imageLatent(image),
        });
      }
      return planKeyframes({ frames: ctx.latentFrames, keyframes });
    }
    case 'extend': {
      need(1, 'clip');
      const previous = await clipLatents(model, clips[0] as ClipSource, 'end', ctx);
      const overlap = input.overlap ?? defaults.noiseMultipliers.extend.frames;
      checkCount(overlap);
      const fallback = defaults.noiseMultipliers.extend.multipliers;
      return planExtend({
        frames: ctx.latentFrames,
        previous,
        overlap,
        multipliers: Array.from({ length: overlap }, (_, i) =>
          pick(i, fallback[Math.min(i, fallback.length - 1)] as number),
        ),
      });
    }
    case 'transition': {
      need(2, 'clips (from and to)');
      const { startFrames, endFrames, start, end } = defaults.noiseMultipliers.transition;
      const head = input.overlap ?? startFrames;
      const tail = input.overlap ?? endFrames;
      checkCount(head + tail);
      const [from, to] = await Promise.all([
        clipLatents(model, clips[0] as ClipSource, 'end', ctx),
        clipLatents(model, clips[1] as ClipSource, 'start', ctx),
      ]);
      const fallback = (list: readonly number[], i: number) => list[Math.min(i, list.length - 1)] as number;
      return planTransition({
        frames: ctx.latentFrames,
        from,
        to,
        head,
        tail,
        multipliers: Array.from({ length: head + tail }, (_, i) =>
          pick(i, i < head ? fallback(start, i) : fallback(end, i - head)),
        ),
      });
    }
  }
}

/**
 * A clip's latents at this model's geometry: the sidecar's exactly when it matches, else its frames re-encoded
 * through the VAE (the last `1 + 4k` frames when continuing from its end, the first when leading into its start).
 */
async function clipLatents(
  model: PusaModel,
  clip: ClipSource,
  from: 'start' | 'end',
  ctx: PlanContext,
): Promise<Tensor> {
  if ('latents' in clip) {
    const shape = latentShapeOf(clip.latents, 'clip latents');
    if (
      shape.channels === ctx.geometry.channels &&
      shape.height === ctx.geometry.height &&
      shape.width === ctx.geometry.width
    )
      return clip.latents;
    if (clip.frames === undefined) {
      throw new SamplerError(
        'ShapeMismatch',
        `the clip's latents are ${shape.channels}×${shape.height}×${shape.width} per frame, this model needs ${ctx.geometry.channels}×${ctx.geometry.height}×${ctx.geometry.width}`,
      );
    }
  }
  const frames = clip.frames as Frames;
  if (frames.width !== ctx.width || frames.height !== ctx.height)
    throw new GenerationError(`clip frames are ${frames.width}x${frames.height}, expected ${ctx.width}x${ctx.height}`);
  const maxFrames = Math.max(...model.pack.manifest.video.frameCounts);
  const usable = Math.min(maxFrames, 1 + 4 * Math.floor((frames.count - 1) / 4));
  const first = from === 'end' ? frames.count - usable : 0;
  return model.vae.encode(framesToVideo(frames, first, usable));
}

/** Extend's output: the earlier clip, then the new frames after the carried-over ones. */
function appendContinuation(previous: ClipSource | undefined, generated: Frames, plan: ConditioningPlan): Frames {
  const frames = previous?.frames;
  if (frames === undefined || frames.width !== generated.width || frames.height !== generated.height) return generated;
  const overlap = plan.conditions.length;
  // The first latent decodes to one frame and each later one to four: K carried latents are 4K − 3 pixel frames.
  const skip = 4 * overlap - 3;
  const frameBytes = generated.width * generated.height * 3;
  const fresh = generated.rgb.subarray(skip * frameBytes);
  const rgb = new Uint8Array(frames.rgb.length + fresh.length);
  rgb.set(frames.rgb);
  rgb.set(fresh, frames.rgb.length);
  return { width: generated.width, height: generated.height, count: frames.count + generated.count - skip, rgb };
}

/** `[H·W·3]` bytes → a one-frame `[1, 3, 1, H, W]` video in [−1, 1]: images are encoded alone (§A.3). */
function imageToVideo(rgb: Uint8Array, width: number, height: number): Tensor {
  return framesToVideo({ width, height, count: 1, rgb }, 0, 1);
}

function framesToVideo(frames: Frames, first: number, count: number): Tensor {
  const { width, height } = frames;
  const plane = width * height;
  const out = new Float32Array(3 * count * plane);
  for (let t = 0; t < count; t++) {
    const base = (first + t) * plane * 3;
    for (let i = 0; i < plane; i++) {
      for (let c = 0; c < 3; c++)
        out[(c * count + t) * plane + i] = (frames.rgb[base + i * 3 + c] as number) * (2 / 255) - 1;
    }
  }
  return tensor(out, [1, 3, count, height, width]);
}

/** `[1, 3, T, H, W]` in [−1, 1] → bytes, truncating like the reference (`u8 = trunc(clip((x+1)·127.5))`, §A.6). */
export function videoToFrames(video: Tensor): Frames {
  const [, , count = 0, height = 0, width = 0] = video.dims;
  const plane = width * height;
  const rgb = new Uint8Array(count * plane * 3);
  for (let t = 0; t < count; t++) {
    for (let i = 0; i < plane; i++) {
      for (let c = 0; c < 3; c++) {
        const v = ((video.data[(c * count + t) * plane + i] as number) + 1) * 127.5;
        rgb[(t * plane + i) * 3 + c] = v <= 0 ? 0 : v >= 255 ? 255 : Math.trunc(v);
      }
    }
  }
  return { width, height, count, rgb };
}
