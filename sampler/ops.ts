/**
 * Numeric kernels over latent videos laid out `[1, C, F, h·w]`. These are the sampler's hot loops (2 million
 * elements per step at 480p), kept here so the rest of the core can stay free of unchecked index reads.
 */

/**
 * `latents += (v_neg + g·(v_pos − v_neg)) · Δσ[f]` in place, frame by frame, in one pass. With no negative
 * prediction the update is `latents += v_pos · Δσ[f]` (guidance scale 1 skips the negative pass).
 */
export function guidedEulerStepInPlace(
  latents: Float32Array,
  positive: Float32Array,
  negative: Float32Array | undefined,
  guidanceScale: number,
  deltas: Float32Array,
  channels: number,
  planeSize: number,
): void {
  const frames = deltas.length;
  for (let c = 0; c < channels; c++) {
    for (let fr = 0; fr < frames; fr++) {
      const ds = deltas[fr]!;
      if (ds === 0) continue;
      const start = (c * frames + fr) * planeSize;
      const end = start + planeSize;
      if (negative === undefined) {
        for (let i = start; i < end; i++) latents[i] = latents[i]! + positive[i]! * ds;
      } else {
        for (let i = start; i < end; i++) {
          const neg = negative[i]!;
          latents[i] = latents[i]! + (neg + guidanceScale * (positive[i]! - neg)) * ds;
        }
      }
    }
  }
}

/** `out[i] = sample[i] + modelOutput[i] · Δσ[f(i)]`, allocating `out`. */
export function perFrameEuler(
  sample: Float32Array,
  modelOutput: Float32Array,
  deltas: Float32Array,
  channels: number,
  planeSize: number,
): Float32Array {
  const out = sample.slice();
  guidedEulerStepInPlace(out, modelOutput, undefined, 1, deltas, channels, planeSize);
  return out;
}

/**
 * Noises a condition frame once (reference §A.3): `x = (1 − s)·x + s·ε` computed in float32, as torch does with
 * bf16 operands and a float32 σ. The caller rounds the result to bf16.
 */
export function lerpTowardNoiseInPlace(frame: Float32Array, noise: Float32Array, s: number): void {
  const f = Math.fround;
  const keep = f(1 - s);
  for (let i = 0; i < frame.length; i++) frame[i] = f(keep * frame[i]!) + f(s * noise[i]!);
}
