import type { Denoiser } from '../../sampler/index.ts';
import type { ModelSession } from './sessions.ts';

/**
 * The sampler's Denoiser port on the pack's `dit.onnx`. With guidance, the positive and negative prompts run as one
 * batch of 2 (one graph call per step instead of two) when the pack's batch dimension is dynamic.
 */
export function createOnnxDenoiser(options: {
  dit: ModelSession;
  positive: Float32Array;
  negative: Float32Array | undefined;
  textLength: number;
  textDim: number;
  batchGuidance: boolean;
}): Denoiser {
  const { dit, positive, negative, textLength, textDim, batchGuidance } = options;
  const batched = negative === undefined ? undefined : concat(positive, negative);

  const call = async (
    x: Float32Array,
    dims: readonly number[],
    timesteps: Float32Array,
    context: Float32Array,
    batch: number,
  ) => {
    const out = await dit.run({
      x: { data: x, dims: [batch, ...dims.slice(1)] },
      timestep: { data: timesteps, dims: [batch, timesteps.length / batch] },
      context: { data: context, dims: [batch, textLength, textDim] },
    });
    const velocity = out['velocity'];
    if (velocity === undefined) throw new Error('dit returned no velocity');
    return velocity.data as Float32Array;
  };

  return {
    async predict({ sample, frameTimesteps, withNegative }, signal) {
      signal?.throwIfAborted();
      if (!withNegative) return { positive: await call(sample.data, sample.dims, frameTimesteps, positive, 1) };
      if (negative === undefined || batched === undefined)
        throw new Error('guidance needs a negative prompt embedding');
      if (batchGuidance) {
        const v = await call(
          concat(sample.data, sample.data),
          sample.dims,
          concat(frameTimesteps, frameTimesteps),
          batched,
          2,
        );
        const n = sample.data.length;
        return { positive: v.subarray(0, n), negative: v.subarray(n) };
      }
      const pos = await call(sample.data, sample.dims, frameTimesteps, positive, 1);
      signal?.throwIfAborted();
      return { positive: pos, negative: await call(sample.data, sample.dims, frameTimesteps, negative, 1) };
    },
  };
}

function concat(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
