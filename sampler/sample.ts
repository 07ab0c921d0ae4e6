import { roundToBf16 } from './bf16.ts';
import type { Denoiser } from './denoiser.ts';
import { SamplerError } from './errors.ts';
import { frameSigmaDeltas, modelTimesteps, stepScheduleIndex } from './frame-timesteps.ts';
import { guidedEulerStepInPlace, lerpTowardNoiseInPlace } from './ops.ts';
import { type ConditioningPlan, validatePlan } from './plan.ts';
import type { FlowMatchSchedule } from './schedule.ts';
import { latentShapeOf, type Tensor, tensor } from './tensor.ts';

/** Reported after every step. */
export interface StepReport {
  /** 0-based index of the step just taken. */
  readonly index: number;
  readonly total: number;
  /** `[F]` model timesteps used at this step. */
  readonly frameTimesteps: Float32Array;
  /** `[F]` `σ_next − σ` applied to each frame. */
  readonly frameSigmaDeltas: Float32Array;
  /** `[1, C, F, h, w]` latents after the step. A live view: copy it to keep it past the callback. */
  readonly latents: Tensor;
}

/** Everything one sampling run needs; nothing is read from globals. */
export interface SampleOptions {
  readonly schedule: FlowMatchSchedule;
  readonly plan: ConditioningPlan;
  readonly denoiser: Denoiser;
  /** `[1, C, F, h, w]` initial noise ε, e.g. `randn(dims, seed)`. It is rounded to bf16 as in the reference (§A.2). */
  readonly noise: Tensor;
  /** Classifier-free guidance g in `v_neg + g·(v_pos − v_neg)`; 1 skips the negative pass. */
  readonly guidanceScale: number;
  /**
   * Precision of the latents handed to the model: `bf16` reproduces the reference (its DiT runs in bf16),
   * `fp32` passes the float32 latents unchanged (for packs that compute in float32).
   */
  readonly modelInputPrecision?: 'bf16' | 'fp32';
  readonly signal?: AbortSignal;
  readonly onStep?: (report: StepReport) => void;
}

/**
 * The Pusa sampling loop (reference §A.5b), over any {@link Denoiser}:
 *
 * 1. latents ← bf16(ε); condition frames ← bf16(their latents);
 * 2. per step k: per-frame model timesteps; at the first step each condition frame with m > 0 is noised once to
 *    σ = m with the same seeded noise; the model predicts; guidance combines; each frame takes its own Euler step
 *    (condition frames along m·σ, frames at timestep 0 frozen).
 *
 * @returns `[1, C, F, h, w]` float32 final latents (normalised, as the VAE decoder's caller expects them).
 */
export async function sample(options: SampleOptions): Promise<Tensor> {
  const { schedule, plan, denoiser, noise, guidanceScale, signal, onStep } = options;
  const precision = options.modelInputPrecision ?? 'bf16';

  // 1. Check inputs.
  const { channels, frames, height, width } = latentShapeOf(noise, 'noise');
  if (frames !== plan.frames) {
    throw new SamplerError('ShapeMismatch', `noise has ${frames} latent frames but the plan expects ${plan.frames}`);
  }
  validatePlan(plan, { channels, height, width });
  if (!Number.isFinite(guidanceScale) || guidanceScale < 0) {
    throw new SamplerError('InvalidOption', `guidance scale must be a finite number ≥ 0, got ${guidanceScale}`);
  }
  const planeSize = height * width;
  const withNegative = guidanceScale !== 1;
  const hasConditions = plan.conditions.length > 0;

  // 2. Initial latents: bf16 noise with the condition frames written in.
  const eps = roundToBf16(noise.data, new Float32Array(noise.data.length));
  const latents = eps.slice();
  for (const { index, latent } of plan.conditions)
    writeFrame(latents, roundToBf16(latent, latent.slice()), index, channels, frames, planeSize);
  const modelInput = precision === 'bf16' ? new Float32Array(latents.length) : latents;
  const latentTensor = tensor(latents, noise.dims);
  const inputTensor = tensor(modelInput, noise.dims);

  // 3. Denoise.
  const noised = new Set<number>();
  for (let k = 0; k < schedule.numInferenceSteps; k++) {
    signal?.throwIfAborted();
    const frameTimesteps = modelTimesteps(schedule, k, frames, plan.conditions);
    const scheduleIndex = stepScheduleIndex(schedule, k, hasConditions);

    for (const { index, multiplier } of plan.conditions) {
      if (multiplier > 0 && !noised.has(index)) {
        const s = Math.fround(schedule.sigmas[scheduleIndex]! * Math.fround(multiplier));
        const frame = readFrame(latents, index, channels, frames, planeSize);
        lerpTowardNoiseInPlace(frame, readFrame(eps, index, channels, frames, planeSize), s);
        writeFrame(latents, roundToBf16(frame), index, channels, frames, planeSize);
        noised.add(index);
      }
    }

    if (precision === 'bf16') roundToBf16(latents, modelInput);
    const prediction = await denoiser.predict(
      {
        sample: inputTensor,
        frameTimesteps,
        withNegative,
        stepIndex: k,
        numInferenceSteps: schedule.numInferenceSteps,
      },
      signal,
    );
    checkPrediction(prediction.positive, latents.length, 'positive');
    if (withNegative) checkPrediction(prediction.negative, latents.length, 'negative');

    const deltas = frameSigmaDeltas(schedule, scheduleIndex, frameTimesteps, plan.conditions);
    guidedEulerStepInPlace(
      latents,
      prediction.positive,
      withNegative ? prediction.negative : undefined,
      guidanceScale,
      deltas,
      channels,
      planeSize,
    );
    onStep?.({
      index: k,
      total: schedule.numInferenceSteps,
      frameTimesteps,
      frameSigmaDeltas: deltas,
      latents: latentTensor,
    });
  }
  return latentTensor;
}

function checkPrediction(
  values: Float32Array | undefined,
  expected: number,
  which: string,
): asserts values is Float32Array {
  if (values === undefined || values.length !== expected) {
    throw new SamplerError(
      'DenoiserOutput',
      `the model's ${which} prediction has ${values?.length ?? 'no'} values, expected ${expected}`,
    );
  }
}

function readFrame(
  data: Float32Array,
  frame: number,
  channels: number,
  frames: number,
  planeSize: number,
): Float32Array {
  const out = new Float32Array(channels * planeSize);
  for (let c = 0; c < channels; c++) {
    const from = (c * frames + frame) * planeSize;
    out.set(data.subarray(from, from + planeSize), c * planeSize);
  }
  return out;
}

function writeFrame(
  data: Float32Array,
  values: Float32Array,
  frame: number,
  channels: number,
  frames: number,
  planeSize: number,
): void {
  for (let c = 0; c < channels; c++) {
    data.set(values.subarray(c * planeSize, (c + 1) * planeSize), (c * frames + frame) * planeSize);
  }
}
