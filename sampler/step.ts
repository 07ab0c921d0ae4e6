import { SamplerError } from './errors.ts';
import { perFrameEuler } from './ops.ts';
import { type FlowMatchSchedule, sigmaAt } from './schedule.ts';
import { latentShapeOf, type Tensor, tensor } from './tensor.ts';

/**
 * One Euler step of the flow-match ODE with a single σ for the whole sample:
 * `prevSample = sample + modelOutput · (σ_{k+1} − σ_k)`.
 *
 * Mirrors diffusers `FlowMatchEulerDiscreteScheduler.step` (scalar branch) and `FlowMatchSchedulerPusa.step`.
 */
export function step(schedule: FlowMatchSchedule, index: number, modelOutput: Tensor, sample: Tensor): Tensor {
  if (!Number.isInteger(index) || index < 0 || index >= schedule.numInferenceSteps) {
    throw new SamplerError('InvalidOption', `step index must be in 0..${schedule.numInferenceSteps - 1}, got ${index}`);
  }
  assertSameDims(modelOutput, sample);
  const { frames } = latentShapeOf(sample);
  const delta = Math.fround(sigmaAt(schedule, index + 1) - sigmaAt(schedule, index));
  return stepPerFrame(new Float32Array(frames).fill(delta), modelOutput, sample);
}

/**
 * The per-frame Euler step: frame f moves by `modelOutput · Δσ[f]`.
 *
 * Mirrors diffusers `FlowMatchEulerDiscreteScheduler.step`'s `per_token_timesteps` branch, with σ per latent frame.
 *
 * @param frameSigmaDeltas `[frames]` `σ_next − σ` of each frame (see `frameSigmaDeltas`).
 * @param modelOutput `[1, C, F, h, w]` velocity.
 * @param sample `[1, C, F, h, w]` current latents.
 */
export function stepPerFrame(frameSigmaDeltas: Float32Array, modelOutput: Tensor, sample: Tensor): Tensor {
  assertSameDims(modelOutput, sample);
  const { channels, frames, height, width } = latentShapeOf(sample);
  if (frameSigmaDeltas.length !== frames) {
    throw new SamplerError('ShapeMismatch', `expected ${frames} frame sigma deltas, got ${frameSigmaDeltas.length}`);
  }
  return tensor(perFrameEuler(sample.data, modelOutput.data, frameSigmaDeltas, channels, height * width), sample.dims);
}

function assertSameDims(a: Tensor, b: Tensor): void {
  if (a.dims.length !== b.dims.length || a.dims.some((d, i) => d !== b.dims[i])) {
    throw new SamplerError(
      'ShapeMismatch',
      `model output dims [${a.dims.join(', ')}] differ from sample dims [${b.dims.join(', ')}]`,
    );
  }
}
