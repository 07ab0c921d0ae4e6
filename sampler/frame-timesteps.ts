import { toBf16 } from './bf16.ts';
import { type FlowMatchSchedule, nearestScheduleIndex, sigmaAt } from './schedule.ts';

const f = Math.fround;

/** A latent frame held at a lowered noise level: its timestep is `multiplier · T`, 0 freezes it. */
export interface FrameMultiplier {
  /** Latent frame index, `0 ≤ index < frames`. */
  readonly index: number;
  /** Noise multiplier in [0, 1]; 0 keeps the frame clean and frozen. */
  readonly multiplier: number;
}

/**
 * The per-frame timestep vector the model receives at step `stepIndex` (reference §A.4):
 * every frame starts at `bf16(T[k])`; a condition frame becomes `bf16(bf16(T[k]) · m)` (product in float32); when the
 * run has condition frames, every entry is then truncated toward zero and rounded to bf16 again. A run without
 * condition frames (plain T2V) is not truncated, as in the reference's T2V pipeline.
 *
 * @returns `[frames]` model timesteps.
 */
export function modelTimesteps(
  schedule: FlowMatchSchedule,
  stepIndex: number,
  frames: number,
  conditions: readonly FrameMultiplier[],
): Float32Array {
  const tv = new Float32Array(frames).fill(toBf16(schedule.timesteps[stepIndex]!));
  for (const { index, multiplier } of conditions) {
    tv[index] = toBf16(f(tv[index]! * f(multiplier)));
  }
  if (conditions.length > 0) {
    for (let i = 0; i < frames; i++) tv[i] = toBf16(Math.trunc(tv[i]!));
  }
  return tv;
}

/**
 * The schedule index the Euler step uses at loop step `stepIndex`.
 *
 * The reference looks it up as `argmin |T − max(tv)|`. Whenever a frame is unconditioned, `max(tv)` is that frame's
 * model timestep, so this uses exactly that value and reproduces the reference bit for bit, including the rare
 * neighbour pick at large step counts. It departs from the reference only where the reference is wrong (§E.7): when
 * every frame is a condition frame, `max(tv)` would index a much later step.
 */
export function stepScheduleIndex(schedule: FlowMatchSchedule, stepIndex: number, hasConditions: boolean): number {
  const base = toBf16(schedule.timesteps[stepIndex]!);
  return nearestScheduleIndex(schedule, hasConditions ? toBf16(Math.trunc(base)) : base);
}

/**
 * Per-frame σ increments `σ_next − σ` for one Euler step (reference §A.5): all frames use the schedule's σ at
 * `scheduleIndex` and the next one (0 after the last); a condition frame scales both by its multiplier, and a frame
 * whose model timestep is 0 is frozen (σ = σ_next = 0).
 *
 * @param frameTimesteps `[frames]` the model timesteps of this step (from {@link modelTimesteps}).
 * @returns `[frames]` float32 `σ_next − σ`, ≤ 0.
 */
export function frameSigmaDeltas(
  schedule: FlowMatchSchedule,
  scheduleIndex: number,
  frameTimesteps: Float32Array,
  conditions: readonly FrameMultiplier[],
): Float32Array {
  const frames = frameTimesteps.length;
  const sigma = new Float32Array(frames).fill(sigmaAt(schedule, scheduleIndex));
  const sigmaNext = new Float32Array(frames).fill(sigmaAt(schedule, scheduleIndex + 1));
  for (const { index, multiplier } of conditions) {
    if (frameTimesteps[index] === 0) {
      sigma[index] = 0;
      sigmaNext[index] = 0;
    } else {
      sigma[index] = f(sigma[index]! * f(multiplier));
      sigmaNext[index] = f(sigmaNext[index]! * f(multiplier));
    }
  }
  const deltas = new Float32Array(frames);
  for (let i = 0; i < frames; i++) deltas[i] = f(sigmaNext[i]! - sigma[i]!);
  return deltas;
}
