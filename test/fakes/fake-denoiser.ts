import type { Denoiser, DenoiserInput } from '../../sampler/index.ts';

/**
 * diffusers' weight-free dummy model, per frame: `v = x · t / (t + 1)` scaled by the frame's timestep, plus a
 * negative prediction `0.5·x`. Records every input so tests can assert on what the sampler passed.
 */
export function createFakeDenoiser(channels: number, planeSize: number): Denoiser & { calls: DenoiserInput[] } {
  const calls: DenoiserInput[] = [];
  return {
    calls,
    async predict(input) {
      calls.push({
        ...input,
        sample: { dims: input.sample.dims, data: input.sample.data.slice() },
        frameTimesteps: input.frameTimesteps.slice(),
      });
      const { data } = input.sample;
      const frames = input.frameTimesteps.length;
      const positive = new Float32Array(data.length);
      for (let c = 0; c < channels; c++) {
        for (let f = 0; f < frames; f++) {
          const t = input.frameTimesteps[f]! / 1000;
          const start = (c * frames + f) * planeSize;
          for (let i = start; i < start + planeSize; i++) positive[i] = (data[i]! * t) / (t + 1) + 0.1;
        }
      }
      if (!input.withNegative) return { positive };
      return { positive, negative: data.map((x) => 0.5 * x) };
    },
  };
}
