import {
  createFlowMatchSchedule,
  type Denoiser,
  planKeyframes,
  planTextToVideo,
  randn,
  sample,
  tensor,
} from '../sampler/index.ts';
import { UsageError } from './usage-error.ts';

/** Options of `pusa trace`; dims are latent dims. */
export interface TraceOptions {
  readonly steps: number;
  readonly shift: number;
  readonly channels: number;
  readonly frames: number;
  readonly height: number;
  readonly width: number;
  readonly seed: number;
  readonly cfg: number;
  readonly conditions: readonly { index: number; multiplier: number }[];
}

export interface TraceResult {
  readonly steps: { t: number[]; dsigma: number[] }[];
  readonly final: { sumSq: number; meanAbs: number; frameMean: number[]; first: number[] };
}

/**
 * The analytic stand-in for the DiT that makes the sampler checkable without weights:
 * `v_pos = 0.5·x − t_f/1000` and `v_neg = 0.25·x`, with x the latents as the sampler passes them (bf16) and t_f the
 * model timestep of latent frame f.
 */
export function createAnalyticDenoiser(planeSize: number, channels: number): Denoiser {
  return {
    async predict({ sample: x, frameTimesteps, withNegative }) {
      const frames = frameTimesteps.length;
      const positive = new Float32Array(x.data.length);
      const negative = withNegative ? new Float32Array(x.data.length) : undefined;
      for (let c = 0; c < channels; c++) {
        for (let f = 0; f < frames; f++) {
          const shift = frameTimesteps[f]! / 1000;
          const start = (c * frames + f) * planeSize;
          for (let i = start; i < start + planeSize; i++) {
            const value = x.data[i]!;
            positive[i] = 0.5 * value - shift;
            if (negative !== undefined) negative[i] = 0.25 * value;
          }
        }
      }
      return negative === undefined ? { positive } : { positive, negative };
    },
  };
}

/** Runs the sampler on the analytic model and summarises every step and the final latents. */
export async function runTrace(options: TraceOptions): Promise<TraceResult> {
  const { channels, frames, height, width } = options;
  const planeSize = height * width;
  const schedule = createFlowMatchSchedule({ numInferenceSteps: options.steps, shift: options.shift });
  const dims = [1, channels, frames, height, width];
  // A condition frame IDX holds the constant 0.5 + 0.1·IDX, standing in for an encoded image.
  const plan =
    options.conditions.length === 0
      ? planTextToVideo(frames)
      : planKeyframes({
          frames,
          keyframes: options.conditions.map(({ index, multiplier }) => ({
            index,
            multiplier,
            latent: new Float32Array(channels * planeSize).fill(0.5 + 0.1 * index),
          })),
        });
  const steps: TraceResult['steps'] = [];
  const latents = await sample({
    schedule,
    plan,
    denoiser: createAnalyticDenoiser(planeSize, channels),
    noise: tensor(randn(dims, options.seed), dims),
    guidanceScale: options.cfg,
    onStep: ({ frameTimesteps, frameSigmaDeltas }) =>
      steps.push({ t: Array.from(frameTimesteps), dsigma: Array.from(frameSigmaDeltas) }),
  });
  return { steps, final: summarise(latents.data, channels, frames, planeSize) };
}

function summarise(data: Float32Array, channels: number, frames: number, planeSize: number): TraceResult['final'] {
  let sumSq = 0;
  let sumAbs = 0;
  for (const v of data) {
    sumSq += v * v;
    sumAbs += Math.abs(v);
  }
  const frameMean = new Array<number>(frames).fill(0);
  for (let c = 0; c < channels; c++) {
    for (let f = 0; f < frames; f++) {
      const start = (c * frames + f) * planeSize;
      let s = 0;
      for (let i = start; i < start + planeSize; i++) s += data[i]!;
      frameMean[f] = (frameMean[f] ?? 0) + s;
    }
  }
  return {
    sumSq,
    meanAbs: sumAbs / data.length,
    frameMean: frameMean.map((s) => s / (channels * planeSize)),
    first: Array.from(data.subarray(0, 8)),
  };
}

/** `--print noise`: a summary of torch-compatible noise for a seed and shape. */
export function noiseSummary(
  shape: readonly number[],
  seed: number,
): { first: number[]; last: number[]; sum: number; sumSq: number } {
  const noise = randn(shape, seed);
  let sum = 0;
  let sumSq = 0;
  for (const v of noise) {
    sum += v;
    sumSq += v * v;
  }
  return {
    first: Array.from(noise.subarray(0, 8)),
    last: Array.from(noise.subarray(Math.max(0, noise.length - 4))),
    sum,
    sumSq,
  };
}

/** Parses `IDX:M` as given to `--cond`. */
export function parseCondition(text: string): { index: number; multiplier: number } {
  const match = /^(\d+):([0-9]*\.?[0-9]+(?:[eE][-+]?\d+)?)$/.exec(text.trim());
  if (match === null) throw new UsageError(`--cond expects LATENT_INDEX:MULTIPLIER such as 0:0.2, got "${text}"`);
  return { index: Number(match[1]), multiplier: Number(match[2]) };
}
