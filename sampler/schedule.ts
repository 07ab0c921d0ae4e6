import { SamplerError } from './errors.ts';

const f = Math.fround;

/** Options of {@link createFlowMatchSchedule}; the defaults are the Pusa V1.0 pipeline's. */
export interface FlowMatchScheduleOptions {
  /** Denoising steps N (≥ 1). */
  readonly numInferenceSteps: number;
  /** Time shift of the flow-match schedule; Pusa and Wan2.1 T2V use 5. */
  readonly shift?: number;
  /** Scale between σ and the model's timestep; Wan uses 1000. */
  readonly numTrainTimesteps?: number;
  /** Fraction of the schedule to run, (0, 1]; 1 starts from pure noise. */
  readonly denoisingStrength?: number;
}

/**
 * A shifted flow-match schedule, frozen. `sigmas[k]` and `timesteps[k] = 1000·sigmas[k]` are float32 values, exactly
 * as torch computes them; the σ after the last step is 0 (see {@link sigmaAt}).
 */
export interface FlowMatchSchedule {
  readonly numInferenceSteps: number;
  readonly shift: number;
  readonly numTrainTimesteps: number;
  /** `[N]` float32 σ per step, decreasing from σ_start. */
  readonly sigmas: Float32Array;
  /** `[N]` float32 timesteps, `numTrainTimesteps · σ`. */
  readonly timesteps: Float32Array;
}

/**
 * Builds the schedule of reference §A.1: `s = linspace(σ_start, 0, N+1)[:N]` in float32,
 * `σ = shift·s / (1 + (shift−1)·s)`, `T = 1000·σ`.
 *
 * Mirrors `FlowMatchSchedulerPusa.set_timesteps` with `sigma_min = 0, extra_one_step = True` (Pusa-VidGen
 * `PusaV1/diffsynth/schedulers/flow_match_pusa.py`), including torch's float32 rounding of every operation and the
 * two-sided evaluation of `torch.linspace` (from the start up to the middle, from the end after it).
 */
export function createFlowMatchSchedule(options: FlowMatchScheduleOptions): FlowMatchSchedule {
  const { numInferenceSteps: n, shift = 5, numTrainTimesteps = 1000, denoisingStrength = 1 } = options;
  if (!Number.isInteger(n) || n < 1 || n > 1000) {
    throw new SamplerError('InvalidSchedule', `numInferenceSteps must be an integer in 1..1000, got ${n}`);
  }
  if (!Number.isFinite(shift) || shift <= 0) {
    throw new SamplerError('InvalidSchedule', `shift must be a positive number, got ${shift}`);
  }
  if (!Number.isFinite(numTrainTimesteps) || numTrainTimesteps <= 0) {
    throw new SamplerError('InvalidSchedule', `numTrainTimesteps must be positive, got ${numTrainTimesteps}`);
  }
  if (!(denoisingStrength > 0 && denoisingStrength <= 1)) {
    throw new SamplerError('InvalidSchedule', `denoisingStrength must be in (0, 1], got ${denoisingStrength}`);
  }

  const linear = linspaceF32(f(denoisingStrength), 0, n + 1);
  const sigmas = new Float32Array(n);
  const timesteps = new Float32Array(n);
  for (let k = 0; k < n; k++) {
    const s = linear[k]!;
    const sigma = f(f(shift * s) / f(1 + f((shift - 1) * s)));
    sigmas[k] = sigma;
    timesteps[k] = f(sigma * numTrainTimesteps);
  }
  return Object.freeze({ numInferenceSteps: n, shift, numTrainTimesteps, sigmas, timesteps });
}

/** σ at step `index`, with σ = 0 past the last step (the "extra one step" of the reference). */
export function sigmaAt(schedule: FlowMatchSchedule, index: number): number {
  return index < schedule.numInferenceSteps ? schedule.sigmas[index]! : 0;
}

/**
 * Index of the schedule entry nearest to `timestep`, the first one on ties: torch's
 * `argmin(|timesteps − t|)` evaluated in float32. The reference's `step()` finds its σ this way, from the model
 * timestep rather than from the loop counter, and at large N a bf16-rounded timestep can land on the neighbour.
 */
export function nearestScheduleIndex(schedule: FlowMatchSchedule, timestep: number): number {
  let best = 0;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (let j = 0; j < schedule.numInferenceSteps; j++) {
    const distance = Math.abs(f(schedule.timesteps[j]! - timestep));
    if (distance < bestDistance) {
      best = j;
      bestDistance = distance;
    }
  }
  return best;
}

/**
 * `torch.linspace(start, end, steps)` for float32 on the CPU, rounding for rounding: ATen evaluates
 * `start + step·i` below the midpoint and `end − step·(steps−1−i)` from it on, and the compiler fuses each
 * multiply–add into one operation with a single rounding, which the double-precision expression reproduces. Checked
 * against torch 2.11 on timesteps that fall exactly between two bf16 values (N = 20 and 40 at shift 1, N = 100 at
 * shift 3), where a separately rounded product picks the other neighbour.
 */
function linspaceF32(start: number, end: number, steps: number): Float32Array {
  const out = new Float32Array(steps);
  if (steps === 1) {
    out[0] = start;
    return out;
  }
  const step = f((end - start) / (steps - 1));
  const halfway = Math.floor(steps / 2);
  for (let i = 0; i < steps; i++) out[i] = i < halfway ? f(start + step * i) : f(end - step * (steps - i - 1));
  return out;
}
