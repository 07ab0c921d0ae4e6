import { SamplerError } from './errors.ts';
import { latentShapeOf, readLatentFrame, type Tensor } from './tensor.ts';

/**
 * A condition frame: a latent frame whose content is given (an encoded image, or a frame of an earlier clip) and
 * whose timestep is held at `multiplier · T` (reference §A.3–A.4).
 */
export interface Condition {
  /** Latent frame index, `0 ≤ index < frames`. Latent 0 is pixel frame 0; latent k ≥ 1 covers pixel frames 4k−3…4k. */
  readonly index: number;
  /** Noise multiplier in [0, 1]. 0 keeps the frame exactly and freezes it; larger values let the model change it. */
  readonly multiplier: number;
  /** `[C·h·w]` normalised latent of the frame, channel-major (one `h·w` plane per channel). */
  readonly latent: Float32Array;
}

/** What to condition a run on, in latent-frame indices. Build one with the `plan*` functions below. */
export interface ConditioningPlan {
  /** The task the plan was built for, for logs and job records. */
  readonly task: 't2v' | 'i2v' | 'start-end' | 'keyframes' | 'extend' | 'transition';
  /** Latent frames of the clip to generate. */
  readonly frames: number;
  readonly conditions: readonly Condition[];
}

/** Per-frame latent dimensions shared by every condition of a plan. */
export interface FrameGeometry {
  readonly channels: number;
  readonly height: number;
  readonly width: number;
}

/** Text-to-video: no condition frames. */
export function planTextToVideo(frames: number): ConditioningPlan {
  assertFrames(frames);
  return { task: 't2v', frames, conditions: [] };
}

/** Image-to-video: the image's latent at frame 0. */
export function planImageToVideo(options: {
  frames: number;
  image: Float32Array;
  multiplier: number;
}): ConditioningPlan {
  return finish('i2v', options.frames, [{ index: 0, multiplier: options.multiplier, latent: options.image }]);
}

/** Start–end frames: the first image at latent 0, the last at latent `frames − 1`. */
export function planStartEnd(options: {
  frames: number;
  start: Float32Array;
  end: Float32Array;
  multipliers: readonly [number, number];
}): ConditioningPlan {
  const { frames, start, end, multipliers } = options;
  if (frames < 2) throw new SamplerError('InvalidCondition', `start–end needs at least 2 latent frames, got ${frames}`);
  return finish('start-end', frames, [
    { index: 0, multiplier: multipliers[0], latent: start },
    { index: frames - 1, multiplier: multipliers[1], latent: end },
  ]);
}

/** Keyframes: any set of distinct latent indices, each with its own latent and multiplier. */
export function planKeyframes(options: { frames: number; keyframes: readonly Condition[] }): ConditioningPlan {
  if (options.keyframes.length === 0)
    throw new SamplerError('InvalidCondition', 'keyframes needs at least one keyframe');
  return finish('keyframes', options.frames, options.keyframes);
}

/**
 * Extension: the last `overlap` latent frames of the previous clip become the first `overlap` frames of the new one,
 * so the new clip continues from the *end* of the old one. (The reference conditions on the first frames of the
 * input clip, §E.8, which restarts the clip instead of extending it.)
 *
 * @param previous `[1, C, F_prev, h, w]` final latents of the clip to extend.
 * @param multipliers one per carried frame, or one for all.
 */
export function planExtend(options: {
  frames: number;
  previous: Tensor;
  overlap: number;
  multipliers: number | readonly number[];
}): ConditioningPlan {
  const { frames, previous, overlap } = options;
  const prev = latentShapeOf(previous, 'previous clip latents');
  assertCarried(overlap, prev.frames, 'overlap', 'previous clip');
  if (overlap >= frames) {
    throw new SamplerError(
      'InvalidCondition',
      `overlap ${overlap} must leave a new frame to generate: it must be below ${frames} latent frames`,
    );
  }
  const multipliers = expandMultipliers(options.multipliers, overlap, 'overlap');
  const conditions = multipliers.map((multiplier, i) => ({
    index: i,
    multiplier,
    latent: readLatentFrame(previous, prev.frames - overlap + i),
  }));
  return finish('extend', frames, conditions);
}

/**
 * Transition: the last `head` latent frames of clip A open the new clip and the first `tail` frames of clip B close
 * it, so the generated frames in between bridge A's ending to B's beginning.
 *
 * @param multipliers for the `head + tail` carried frames, in order (A's then B's), or one for all.
 */
export function planTransition(options: {
  frames: number;
  from: Tensor;
  to: Tensor;
  head: number;
  tail: number;
  multipliers: number | readonly number[];
}): ConditioningPlan {
  const { frames, from, to, head, tail } = options;
  const a = latentShapeOf(from, 'clip A latents');
  const b = latentShapeOf(to, 'clip B latents');
  if (a.channels !== b.channels || a.height !== b.height || a.width !== b.width) {
    throw new SamplerError(
      'ShapeMismatch',
      `clip A is ${a.channels}×${a.height}×${a.width} per latent frame but clip B is ${b.channels}×${b.height}×${b.width}; both clips must come from the same model and size`,
    );
  }
  assertCarried(head, a.frames, 'head', 'clip A');
  assertCarried(tail, b.frames, 'tail', 'clip B');
  if (head + tail >= frames) {
    throw new SamplerError(
      'InvalidCondition',
      `head ${head} + tail ${tail} must leave a frame to generate: their sum must be below ${frames} latent frames`,
    );
  }
  const multipliers = expandMultipliers(options.multipliers, head + tail, 'head + tail');
  const conditions: Condition[] = [];
  for (let i = 0; i < head; i++) {
    conditions.push({ index: i, multiplier: multipliers[i]!, latent: readLatentFrame(from, a.frames - head + i) });
  }
  for (let i = 0; i < tail; i++) {
    conditions.push({ index: frames - tail + i, multiplier: multipliers[head + i]!, latent: readLatentFrame(to, i) });
  }
  return finish('transition', frames, conditions);
}

/**
 * Checks a plan against the latent geometry of a run: indices in range and distinct, multipliers in [0, 1], every
 * latent `C·h·w` long. Plans built here are already checked for indices; the sampler calls this again with the
 * geometry of the noise it was given.
 */
export function validatePlan(plan: ConditioningPlan, geometry?: FrameGeometry): void {
  assertFrames(plan.frames);
  const seen = new Set<number>();
  for (const { index, multiplier, latent } of plan.conditions) {
    if (!Number.isInteger(index) || index < 0 || index >= plan.frames) {
      throw new SamplerError(
        'InvalidCondition',
        `condition frame index ${index} is out of range: expected an integer in 0..${plan.frames - 1} for ${plan.frames} latent frames`,
      );
    }
    if (seen.has(index)) throw new SamplerError('InvalidCondition', `latent frame ${index} is conditioned twice`);
    seen.add(index);
    if (!(multiplier >= 0 && multiplier <= 1)) {
      throw new SamplerError(
        'InvalidCondition',
        `noise multiplier for latent frame ${index} must be in [0, 1], got ${multiplier}`,
      );
    }
    if (geometry !== undefined) {
      const expected = geometry.channels * geometry.height * geometry.width;
      if (latent.length !== expected) {
        throw new SamplerError(
          'ShapeMismatch',
          `condition latent for frame ${index} has ${latent.length} values, expected ${expected} (${geometry.channels}×${geometry.height}×${geometry.width})`,
        );
      }
    }
  }
}

function finish(task: ConditioningPlan['task'], frames: number, conditions: readonly Condition[]): ConditioningPlan {
  const plan = { task, frames, conditions: [...conditions].sort((x, y) => x.index - y.index) };
  validatePlan(plan);
  return plan;
}

function assertFrames(frames: number): void {
  if (!Number.isInteger(frames) || frames < 1) {
    throw new SamplerError('InvalidOption', `latent frame count must be a positive integer, got ${frames}`);
  }
}

function assertCarried(count: number, available: number, name: string, clip: string): void {
  if (!Number.isInteger(count) || count < 1 || count > available) {
    throw new SamplerError(
      'InvalidCondition',
      `${name} must be an integer in 1..${available} (the latent frames of the ${clip}), got ${count}`,
    );
  }
}

function expandMultipliers(value: number | readonly number[], count: number, what: string): number[] {
  if (typeof value === 'number') return new Array<number>(count).fill(value);
  if (value.length !== count) {
    throw new SamplerError(
      'InvalidCondition',
      `expected ${count} noise multipliers (one per carried frame of ${what}) or one for all, got ${value.length}`,
    );
  }
  return [...value];
}
