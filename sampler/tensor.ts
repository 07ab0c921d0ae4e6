import { SamplerError } from './errors.ts';

/**
 * A dense float32 tensor in row-major (C-contiguous) order, the layout torch and ONNX use.
 * Latent videos are `[batch, channels, frames, height, width]`, as in Wan2.1.
 */
export interface Tensor {
  readonly data: Float32Array;
  readonly dims: readonly number[];
}

/** Number of elements a shape holds. */
export function numel(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

/** Builds a tensor, checking that `data` holds exactly `numel(dims)` values. */
export function tensor(data: Float32Array, dims: readonly number[]): Tensor {
  assertShape(dims, 'tensor dims');
  if (data.length !== numel(dims)) {
    throw new SamplerError(
      'ShapeMismatch',
      `expected ${numel(dims)} values for dims [${dims.join(', ')}], got ${data.length}`,
    );
  }
  return { data, dims: Object.freeze([...dims]) };
}

/** Throws unless every dimension is a positive integer. */
export function assertShape(dims: readonly number[], what: string): void {
  if (dims.length === 0 || dims.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new SamplerError('ShapeMismatch', `${what} must be positive integers, got [${dims.join(', ')}]`);
  }
}

/** The dimensions of a single-batch latent video. */
export interface LatentShape {
  readonly channels: number;
  readonly frames: number;
  readonly height: number;
  readonly width: number;
}

/** Reads `[1, C, F, h, w]` dims as a {@link LatentShape}; anything else is a shape error naming what it got. */
export function latentShapeOf(t: Tensor, what = 'latents'): LatentShape {
  const [batch, channels, frames, height, width] = t.dims;
  if (
    t.dims.length !== 5 ||
    batch !== 1 ||
    channels === undefined ||
    frames === undefined ||
    height === undefined ||
    width === undefined
  ) {
    throw new SamplerError(
      'ShapeMismatch',
      `${what} must have dims [1, channels, frames, height, width], got [${t.dims.join(', ')}]`,
    );
  }
  return { channels, frames, height, width };
}

/** Copies latent frame `frame` (all channels) out of a `[1, C, F, h, w]` tensor into a `[C, h, w]` array. */
export function readLatentFrame(t: Tensor, frame: number): Float32Array {
  const { channels, frames, height, width } = latentShapeOf(t);
  if (!Number.isInteger(frame) || frame < 0 || frame >= frames) {
    throw new SamplerError('InvalidCondition', `latent frame ${frame} is out of range 0..${frames - 1}`);
  }
  const plane = height * width;
  const out = new Float32Array(channels * plane);
  for (let c = 0; c < channels; c++) {
    const from = (c * frames + frame) * plane;
    out.set(t.data.subarray(from, from + plane), c * plane);
  }
  return out;
}
